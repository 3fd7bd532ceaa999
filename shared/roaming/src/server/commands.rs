//! The Commands Receiver interface: `POST .../commands/{command}` for START_SESSION, STOP_SESSION,
//! RESERVE_NOW, CANCEL_RESERVATION and UNLOCK_CONNECTOR. The location and EVSE are found in what
//! we publish; a session only when it is the caller's. The answer says whether the command was taken
//! (ACCEPTED with the time the charger has, REJECTED when it is offline, UNKNOWN_SESSION); the result
//! follows at `response_url`.

use axum::body::Bytes;
use axum::extract::Path;
use cpms_domain::command::CommandRequest;
use cpms_domain::roaming::Published;
use cpms_ocpi::StatusCode;
use cpms_ocpi::commands::{
    CancelReservation, CommandResponse, CommandResponseType, CommandType, ReserveNow, StartSession,
    StopSession, UnlockConnector, check_common,
};
use cpms_ocpi::types::DisplayText;
use serde_json::Value;

use super::{Ocpi, Registered, St, json};
use crate::commands::{ACTOR_PREFIX, Refused, TIMEOUT_S};
use crate::objects::evse_uid;
use crate::publish::{LOCATIONS, SESSIONS};
use crate::{Roaming, RoamingError};

fn answer(r: &Roaming, result: CommandResponseType, message: Option<String>) -> Ocpi {
    Ocpi::ok(
        r,
        CommandResponse {
            result,
            timeout: TIMEOUT_S,
            message: message.map(|m| DisplayText {
                language: "en".into(),
                text: m.chars().take(512).collect(),
            }),
        },
    )
}

fn invalid(e: impl Into<String>) -> Ocpi {
    Ocpi::fail(StatusCode::InvalidParameters, e)
}

/// The charger and EVSE of `evse` (an OCPI uid) at a location we publish; without `evse`, the
/// location's only charger.
async fn spot(
    r: &Roaming,
    caller: &Registered,
    location: &str,
    evse: Option<&str>,
) -> Result<(String, Option<u32>), Ocpi> {
    let tenant = caller.0.tenant();
    let loc = r
        .records::<Published>()
        .get(tenant, &Published::key(LOCATIONS, location))
        .await
        .map_err(|e| Ocpi::from(RoamingError::Store(e)))?
        .ok_or_else(|| Ocpi::fail(StatusCode::UnknownLocation, "unknown location"))?
        .value;
    for id in &loc.members {
        let Some(c) = r
            .ports
            .chargers
            .get(id)
            .await
            .map_err(|e| Ocpi::from(RoamingError::Store(e)))?
        else {
            continue;
        };
        match evse {
            None if loc.members.len() == 1 => return Ok((id.to_string(), None)),
            None => {}
            Some(uid) => {
                if let Some(e) = c
                    .value
                    .evses
                    .iter()
                    .find(|e| evse_uid(id.as_str(), e.evse_id).eq_ignore_ascii_case(uid))
                {
                    return Ok((id.to_string(), Some(e.evse_id)));
                }
            }
        }
    }
    Err(Ocpi::fail(
        StatusCode::UnknownLocation,
        if evse.is_some() {
            "no such EVSE at the location"
        } else {
            "the location has several chargers: name the EVSE"
        },
    ))
}

/// A reservation id as OCPP carries it (an integer): a number stays itself, text is hashed.
fn reservation_number(id: &str) -> i32 {
    id.parse::<i32>()
        .ok()
        .filter(|n| *n > 0)
        .unwrap_or_else(|| {
            let d = cpms_domain::roaming::token_digest(id);
            (u32::from_str_radix(&d[..8], 16).unwrap_or(1) & 0x7fff_ffff).max(1) as i32
        })
}

/// `POST .../commands/{command}`.
pub(super) async fn post(
    st: St,
    caller: Registered,
    Path((_, command)): Path<(String, String)>,
    body: Bytes,
) -> Result<Ocpi, Ocpi> {
    let kind = CommandType::parse(&command).ok_or_else(|| {
        Ocpi::fail(
            StatusCode::InvalidParameters,
            format!("no command {command:.40}"),
        )
        .status(axum::http::StatusCode::NOT_FOUND)
    })?;
    let Some(commands) = st.commands.clone() else {
        return Ok(answer(&st, CommandResponseType::NotSupported, None));
    };
    let partner = caller.0.partner.value.id.clone();
    let tenant = caller.0.tenant().clone();
    let (charger, request, response_url) = match kind {
        CommandType::StartSession => {
            let c: StartSession = json(&body)?;
            check_common(&c.response_url, Some(&c.location_id), c.evse_uid.as_deref())
                .map_err(invalid)?;
            let (charger, evse) = spot(&st, &caller, &c.location_id, c.evse_uid.as_deref()).await?;
            // The partner vouches for the token it starts with: it is held as the partner's.
            st.accept_token(&caller, c.token.clone()).await?;
            let kind = match c.token.kind {
                cpms_ocpi::tokens::TokenType::Rfid => "ISO14443",
                _ => "Central",
            };
            let request = CommandRequest::StartSession {
                id_token: c.token.uid.clone(),
                id_token_type: Some(kind.into()),
                evse_id: evse,
                charging_profile: None,
            };
            (charger, request, c.response_url)
        }
        CommandType::StopSession => {
            let c: StopSession = json(&body)?;
            check_common(&c.response_url, None, None).map_err(invalid)?;
            let theirs = st
                .records::<Published>()
                .get(&tenant, &Published::key(SESSIONS, &c.session_id))
                .await
                .map_err(|e| Ocpi::from(RoamingError::Store(e)))?
                .filter(|s| s.value.audience.as_deref() == Some(partner.as_str()));
            let Some(session) = theirs else {
                return Ok(answer(&st, CommandResponseType::UnknownSession, None));
            };
            let Some((charger, tx)) = c.session_id.split_once('~') else {
                return Ok(answer(&st, CommandResponseType::UnknownSession, None));
            };
            if session.value.body["status"] != Value::String("ACTIVE".into()) {
                return Ok(answer(
                    &st,
                    CommandResponseType::Rejected,
                    Some("the session is not active".into()),
                ));
            }
            let request = CommandRequest::StopSession {
                transaction_id: tx.to_string(),
            };
            (charger.to_string(), request, c.response_url)
        }
        CommandType::ReserveNow => {
            let c: ReserveNow = json(&body)?;
            check_common(&c.response_url, Some(&c.location_id), c.evse_uid.as_deref())
                .map_err(invalid)?;
            let (charger, evse) = spot(&st, &caller, &c.location_id, c.evse_uid.as_deref()).await?;
            st.accept_token(&caller, c.token.clone()).await?;
            let request = CommandRequest::Reserve {
                reservation_id: Some(reservation_number(&c.reservation_id)),
                expires_at: c.expiry_date,
                id_token: c.token.uid.clone(),
                id_token_type: None,
                evse_id: evse,
            };
            (charger, request, c.response_url)
        }
        CommandType::CancelReservation => {
            let c: CancelReservation = json(&body)?;
            check_common(&c.response_url, None, None).map_err(invalid)?;
            // The reservation is found by the command that made it.
            let Some(charger) = st
                .reservation_charger(&tenant, &partner, &c.reservation_id)
                .await?
            else {
                return Ok(answer(
                    &st,
                    CommandResponseType::Rejected,
                    Some("unknown reservation".into()),
                ));
            };
            let request = CommandRequest::CancelReservation {
                reservation_id: reservation_number(&c.reservation_id),
            };
            (charger, request, c.response_url)
        }
        CommandType::UnlockConnector => {
            let c: UnlockConnector = json(&body)?;
            check_common(&c.response_url, Some(&c.location_id), Some(&c.evse_uid))
                .map_err(invalid)?;
            let (charger, evse) = spot(&st, &caller, &c.location_id, Some(&c.evse_uid)).await?;
            let request = CommandRequest::UnlockConnector {
                evse_id: evse.unwrap_or(1),
                connector_id: c.connector_id.parse().ok(),
            };
            (charger, request, c.response_url)
        }
    };
    let actor = format!("{ACTOR_PREFIX}{partner}");
    match commands
        .submit(&tenant, &charger, request, TIMEOUT_S, &actor)
        .await
    {
        Ok(id) => {
            st.remember_command(&tenant, &partner, &id, &command, &response_url)
                .await
                .map_err(Ocpi::from)?;
            if kind == CommandType::ReserveNow {
                st.remember_reservation(&tenant, &partner, &body, &charger)
                    .await
                    .map_err(Ocpi::from)?;
            }
            Ok(answer(&st, CommandResponseType::Accepted, None))
        }
        Err(Refused::Offline) => Ok(answer(
            &st,
            CommandResponseType::Rejected,
            Some("the charger is offline".into()),
        )),
        Err(Refused::Other(m)) => Ok(answer(&st, CommandResponseType::Rejected, Some(m))),
    }
}

impl Roaming {
    /// Keeps which charger a partner's reservation is at (CANCEL_RESERVATION names only its id).
    async fn remember_reservation(
        &self,
        tenant: &cpms_domain::TenantId,
        partner: &str,
        body: &[u8],
        charger: &str,
    ) -> Result<(), RoamingError> {
        let id = serde_json::from_slice::<Value>(body)
            .ok()
            .and_then(|v| v["reservation_id"].as_str().map(str::to_string))
            .unwrap_or_default();
        let rec = Published {
            tenant: tenant.clone(),
            module: "reservations".into(),
            object_id: format!("{partner}/{id}"),
            audience: Some(partner.to_string()),
            body: serde_json::json!({"charger": charger}),
            last_updated: self.now(),
            members: Vec::new(),
        };
        self.records::<Published>().replace(&rec).await?;
        Ok(())
    }

    async fn reservation_charger(
        &self,
        tenant: &cpms_domain::TenantId,
        partner: &str,
        id: &str,
    ) -> Result<Option<String>, Ocpi> {
        Ok(self
            .records::<Published>()
            .get(
                tenant,
                &Published::key("reservations", &format!("{partner}/{id}")),
            )
            .await
            .map_err(|e| Ocpi::from(RoamingError::Store(e)))?
            .and_then(|r| r.value.body["charger"].as_str().map(str::to_string)))
    }
}
