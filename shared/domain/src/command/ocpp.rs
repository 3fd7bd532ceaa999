//! The operator vocabulary mapped to the OCPP action and payload of each version. The payload is then
//! checked against the official schema by the caller; what a version cannot express is refused here with
//! a sentence saying why.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Map, Value, json};

use super::profile;
use super::request::{CommandRequest, ListUpdate, LocalListEntry, ResetKind, ResetWhen};
use crate::{DomainError, OcppVersion};

fn refuse(field: &'static str, reason: impl Into<String>) -> DomainError {
    DomainError::Invalid {
        field,
        reason: reason.into(),
    }
}

fn ts(t: &DateTime<Utc>) -> Value {
    Value::String(t.to_rfc3339_opts(SecondsFormat::Millis, true))
}

/// Builds a JSON object from pairs, leaving out `None`s.
fn obj(pairs: Vec<(&str, Option<Value>)>) -> Value {
    let mut m = Map::new();
    for (k, v) in pairs {
        if let Some(v) = v {
            m.insert(k.to_string(), v);
        }
    }
    Value::Object(m)
}

fn v<T: serde::Serialize>(x: T) -> Option<Value> {
    serde_json::to_value(x).ok()
}

/// A 2.0.1 `Component.Variable` key.
fn component_variable(key: &str) -> Result<Value, DomainError> {
    match key.split_once('.') {
        Some((c, var)) if !c.is_empty() && !var.is_empty() => {
            Ok(json!({"component": {"name": c}, "variable": {"name": var}}))
        }
        _ => Err(refuse(
            "key",
            format!(
                "{key:?}: OCPP 2.0.1 keys are Component.Variable, e.g. OCPPCommCtrlr.HeartbeatInterval"
            ),
        )),
    }
}

fn id_token_201(value: &str, kind: Option<&str>, default: &str) -> Value {
    json!({"idToken": value, "type": kind.unwrap_or(default)})
}

fn evse_201(evse_id: Option<u32>, connector_id: Option<u32>) -> Option<Value> {
    match (evse_id, connector_id) {
        (None | Some(0), None) => None,
        (Some(e), c) => Some(obj(vec![("id", v(e)), ("connectorId", c.map(Value::from))])),
        (None, Some(_)) => None,
    }
}

fn only_201(version: OcppVersion, field: &'static str, present: bool) -> Result<(), DomainError> {
    if present && version == OcppVersion::V16 {
        return Err(refuse(
            field,
            "OCPP 1.6 chargers have one connector per connectorId: give evse_id only",
        ));
    }
    Ok(())
}

/// The OCPP action and payload of `req` for a charger speaking `version`. `request_id` is a positive
/// number the CSMS chose for the ids OCPP asks it to pick (remoteStartId, requestId, reservationId).
pub fn to_ocpp(
    req: &CommandRequest,
    version: OcppVersion,
    request_id: i32,
) -> Result<(String, Value), DomainError> {
    use CommandRequest as C;
    use OcppVersion::{V16, V201};
    let (action, payload) = match (req, version) {
        (
            C::StartSession {
                id_token,
                evse_id,
                charging_profile,
                ..
            },
            V16,
        ) => (
            "RemoteStartTransaction",
            obj(vec![
                ("idTag", v(id_token)),
                ("connectorId", evse_id.map(Value::from)),
                (
                    "chargingProfile",
                    start_profile(charging_profile, *evse_id, version)?,
                ),
            ]),
        ),
        (
            C::StartSession {
                id_token,
                id_token_type,
                evse_id,
                charging_profile,
            },
            V201,
        ) => (
            "RequestStartTransaction",
            obj(vec![
                (
                    "idToken",
                    Some(id_token_201(id_token, id_token_type.as_deref(), "Central")),
                ),
                ("remoteStartId", v(request_id)),
                ("evseId", evse_id.map(Value::from)),
                (
                    "chargingProfile",
                    start_profile(charging_profile, *evse_id, version)?,
                ),
            ]),
        ),
        (C::SetChargingProfile { evse_id, profile }, _) => {
            profile.validate(*evse_id, false)?;
            let p = profile.to_ocpp(version)?;
            match version {
                V16 => (
                    "SetChargingProfile",
                    json!({"connectorId": evse_id, "csChargingProfiles": p}),
                ),
                V201 => (
                    "SetChargingProfile",
                    json!({"evseId": evse_id, "chargingProfile": p}),
                ),
            }
        }
        (
            C::ClearChargingProfile {
                id,
                evse_id,
                purpose,
                stack_level,
            },
            V16,
        ) => (
            "ClearChargingProfile",
            obj(vec![
                ("id", id.map(Value::from)),
                ("connectorId", evse_id.map(Value::from)),
                (
                    "chargingProfilePurpose",
                    purpose.map(|p| profile::purpose_name(p, version).into()),
                ),
                ("stackLevel", stack_level.map(Value::from)),
            ]),
        ),
        (
            C::ClearChargingProfile {
                id,
                evse_id,
                purpose,
                stack_level,
            },
            V201,
        ) => {
            let criteria =
                (evse_id.is_some() || purpose.is_some() || stack_level.is_some()).then(|| {
                    obj(vec![
                        ("evseId", evse_id.map(Value::from)),
                        (
                            "chargingProfilePurpose",
                            purpose.map(|p| profile::purpose_name(p, version).into()),
                        ),
                        ("stackLevel", stack_level.map(Value::from)),
                    ])
                });
            (
                "ClearChargingProfile",
                obj(vec![
                    ("chargingProfileId", id.map(Value::from)),
                    ("chargingProfileCriteria", criteria),
                ]),
            )
        }
        (
            C::GetCompositeSchedule {
                evse_id,
                duration_s,
                rate_unit,
            },
            _,
        ) => {
            if *duration_s == 0 || *duration_s > 7 * 24 * 3600 {
                return Err(refuse("duration_s", "1 s to 7 days"));
            }
            let evse_key = if version == V16 {
                "connectorId"
            } else {
                "evseId"
            };
            (
                "GetCompositeSchedule",
                obj(vec![
                    (evse_key, v(evse_id)),
                    ("duration", v(duration_s)),
                    ("chargingRateUnit", rate_unit.map(|u| u.as_str().into())),
                ]),
            )
        }
        (C::GetChargingProfiles { .. }, V16) => {
            return Err(refuse(
                "type",
                "OCPP 1.6 has no GetChargingProfiles: use get_composite_schedule, or the CSMS's own \
                 record of the charger's profiles",
            ));
        }
        (
            C::GetChargingProfiles {
                evse_id,
                purpose,
                stack_level,
                ids,
            },
            V201,
        ) => {
            if ids.len() > 100 {
                return Err(refuse("ids", "at most 100 profile ids"));
            }
            let criterion = obj(vec![
                (
                    "chargingProfilePurpose",
                    purpose.map(|p| profile::purpose_name(p, version).into()),
                ),
                ("stackLevel", stack_level.map(Value::from)),
                (
                    "chargingProfileId",
                    (!ids.is_empty()).then(|| v(ids)).flatten(),
                ),
            ]);
            (
                "GetChargingProfiles",
                obj(vec![
                    ("requestId", v(request_id)),
                    ("evseId", evse_id.map(Value::from)),
                    ("chargingProfile", Some(criterion)),
                ]),
            )
        }
        (C::StopSession { transaction_id }, V16) => {
            let id: i64 = transaction_id.parse().map_err(|_| {
                refuse(
                    "transaction_id",
                    format!("{transaction_id:?}: OCPP 1.6 transaction ids are integers"),
                )
            })?;
            ("RemoteStopTransaction", json!({"transactionId": id}))
        }
        (C::StopSession { transaction_id }, V201) => (
            "RequestStopTransaction",
            json!({"transactionId": transaction_id}),
        ),
        (
            C::Reset {
                kind,
                when,
                evse_id,
            },
            V16,
        ) => {
            if *when == Some(ResetWhen::OnIdle) {
                return Err(refuse(
                    "when",
                    "OCPP 1.6 has no reset on idle: a 1.6 reset stops running sessions first",
                ));
            }
            if evse_id.is_some() {
                return Err(refuse("evse_id", "OCPP 1.6 resets the whole charger"));
            }
            let t = match kind.unwrap_or(ResetKind::Soft) {
                ResetKind::Soft => "Soft",
                ResetKind::Hard => "Hard",
            };
            ("Reset", json!({"type": t}))
        }
        (
            C::Reset {
                kind,
                when,
                evse_id,
            },
            V201,
        ) => {
            if kind.is_some() {
                return Err(refuse(
                    "kind",
                    "OCPP 2.0.1 has no soft or hard reset: use when (immediate or on_idle)",
                ));
            }
            let t = match when.unwrap_or(ResetWhen::Immediate) {
                ResetWhen::Immediate => "Immediate",
                ResetWhen::OnIdle => "OnIdle",
            };
            (
                "Reset",
                obj(vec![("type", v(t)), ("evseId", evse_id.map(Value::from))]),
            )
        }
        (
            C::UnlockConnector {
                evse_id,
                connector_id,
            },
            V16,
        ) => {
            only_201(
                version,
                "connector_id",
                connector_id.is_some_and(|c| c != 1),
            )?;
            ("UnlockConnector", json!({"connectorId": evse_id}))
        }
        (
            C::UnlockConnector {
                evse_id,
                connector_id,
            },
            V201,
        ) => (
            "UnlockConnector",
            json!({"evseId": evse_id, "connectorId": connector_id.unwrap_or(1)}),
        ),
        (
            C::ChangeAvailability {
                operative,
                evse_id,
                connector_id,
            },
            V16,
        ) => {
            only_201(version, "connector_id", connector_id.is_some())?;
            let t = if *operative {
                "Operative"
            } else {
                "Inoperative"
            };
            (
                "ChangeAvailability",
                json!({"connectorId": evse_id.unwrap_or(0), "type": t}),
            )
        }
        (
            C::ChangeAvailability {
                operative,
                evse_id,
                connector_id,
            },
            V201,
        ) => {
            let t = if *operative {
                "Operative"
            } else {
                "Inoperative"
            };
            (
                "ChangeAvailability",
                obj(vec![
                    ("operationalStatus", v(t)),
                    ("evse", evse_201(*evse_id, *connector_id)),
                ]),
            )
        }
        (C::GetConfiguration { keys }, V16) => (
            "GetConfiguration",
            obj(vec![("key", (!keys.is_empty()).then(|| v(keys)).flatten())]),
        ),
        (C::GetConfiguration { keys }, V201) => {
            if keys.is_empty() {
                return Err(refuse(
                    "keys",
                    "OCPP 2.0.1 reads named variables: give keys as Component.Variable",
                ));
            }
            let data = keys
                .iter()
                .map(|k| component_variable(k))
                .collect::<Result<Vec<_>, _>>()?;
            ("GetVariables", json!({"getVariableData": data}))
        }
        (C::ChangeConfiguration { key, value }, V16) => {
            ("ChangeConfiguration", json!({"key": key, "value": value}))
        }
        (C::ChangeConfiguration { key, value }, V201) => {
            let mut data = component_variable(key)?;
            data["attributeValue"] = Value::from(value.as_str());
            ("SetVariables", json!({"setVariableData": [data]}))
        }
        (
            C::TriggerMessage {
                message,
                evse_id,
                connector_id,
            },
            V16,
        ) => {
            only_201(version, "connector_id", connector_id.is_some())?;
            (
                "TriggerMessage",
                obj(vec![
                    ("requestedMessage", v(message)),
                    ("connectorId", evse_id.map(Value::from)),
                ]),
            )
        }
        (
            C::TriggerMessage {
                message,
                evse_id,
                connector_id,
            },
            V201,
        ) => (
            "TriggerMessage",
            obj(vec![
                ("requestedMessage", v(message)),
                ("evse", evse_201(*evse_id, *connector_id)),
            ]),
        ),
        (C::ClearCache {}, _) => ("ClearCache", json!({})),
        (
            C::UpdateFirmware {
                location,
                retrieve_at,
                retries,
                retry_interval_s,
                signing_certificate,
                signature,
            },
            V16,
        ) => {
            if signing_certificate.is_some() || signature.is_some() {
                return Err(refuse(
                    "signature",
                    "OCPP 1.6 UpdateFirmware carries no signature (signed firmware is the security extension's SignedUpdateFirmware: send it as a raw command)",
                ));
            }
            (
                "UpdateFirmware",
                obj(vec![
                    ("location", v(location)),
                    ("retrieveDate", Some(ts(retrieve_at))),
                    ("retries", retries.map(Value::from)),
                    ("retryInterval", retry_interval_s.map(Value::from)),
                ]),
            )
        }
        (
            C::UpdateFirmware {
                location,
                retrieve_at,
                retries,
                retry_interval_s,
                signing_certificate,
                signature,
            },
            V201,
        ) => (
            "UpdateFirmware",
            obj(vec![
                ("requestId", v(request_id)),
                ("retries", retries.map(Value::from)),
                ("retryInterval", retry_interval_s.map(Value::from)),
                (
                    "firmware",
                    Some(obj(vec![
                        ("location", v(location)),
                        ("retrieveDateTime", Some(ts(retrieve_at))),
                        (
                            "signingCertificate",
                            signing_certificate.as_ref().and_then(v),
                        ),
                        ("signature", signature.as_ref().and_then(v)),
                    ])),
                ),
            ]),
        ),
        (
            C::GetDiagnostics {
                location,
                from,
                to,
                retries,
                retry_interval_s,
            },
            V16,
        ) => (
            "GetDiagnostics",
            obj(vec![
                ("location", v(location)),
                ("startTime", from.as_ref().map(ts)),
                ("stopTime", to.as_ref().map(ts)),
                ("retries", retries.map(Value::from)),
                ("retryInterval", retry_interval_s.map(Value::from)),
            ]),
        ),
        (
            C::GetDiagnostics {
                location,
                from,
                to,
                retries,
                retry_interval_s,
            },
            V201,
        ) => (
            "GetLog",
            obj(vec![
                ("logType", v("DiagnosticsLog")),
                ("requestId", v(request_id)),
                ("retries", retries.map(Value::from)),
                ("retryInterval", retry_interval_s.map(Value::from)),
                (
                    "log",
                    Some(obj(vec![
                        ("remoteLocation", v(location)),
                        ("oldestTimestamp", from.as_ref().map(ts)),
                        ("latestTimestamp", to.as_ref().map(ts)),
                    ])),
                ),
            ]),
        ),
        (
            C::SendLocalList {
                version: n,
                update,
                entries,
            },
            V16,
        ) => (
            "SendLocalList",
            obj(vec![
                ("listVersion", v(n)),
                ("updateType", v(update_type(*update))),
                (
                    "localAuthorizationList",
                    Some(Value::Array(entries.iter().map(entry_16).collect())),
                ),
            ]),
        ),
        (
            C::SendLocalList {
                version: n,
                update,
                entries,
            },
            V201,
        ) => (
            "SendLocalList",
            obj(vec![
                ("versionNumber", v(n)),
                ("updateType", v(update_type(*update))),
                (
                    "localAuthorizationList",
                    (!entries.is_empty())
                        .then(|| Value::Array(entries.iter().map(entry_201).collect())),
                ),
            ]),
        ),
        (C::GetLocalListVersion {}, _) => ("GetLocalListVersion", json!({})),
        (
            C::Reserve {
                reservation_id,
                expires_at,
                id_token,
                evse_id,
                ..
            },
            V16,
        ) => (
            "ReserveNow",
            json!({
                "connectorId": evse_id.unwrap_or(0),
                "expiryDate": ts(expires_at),
                "idTag": id_token,
                "reservationId": reservation_id.unwrap_or(request_id),
            }),
        ),
        (
            C::Reserve {
                reservation_id,
                expires_at,
                id_token,
                id_token_type,
                evse_id,
            },
            V201,
        ) => (
            "ReserveNow",
            obj(vec![
                ("id", v(reservation_id.unwrap_or(request_id))),
                ("expiryDateTime", Some(ts(expires_at))),
                (
                    "idToken",
                    Some(id_token_201(id_token, id_token_type.as_deref(), "Central")),
                ),
                ("evseId", evse_id.filter(|e| *e > 0).map(Value::from)),
            ]),
        ),
        (C::CancelReservation { reservation_id }, _) => (
            "CancelReservation",
            json!({"reservationId": reservation_id}),
        ),
        (
            C::DataTransfer {
                vendor_id,
                message_id,
                data,
            },
            V16,
        ) => {
            let data = data.as_ref().map(|d| match d {
                Value::String(s) => Value::String(s.clone()),
                other => Value::String(other.to_string()),
            });
            (
                "DataTransfer",
                obj(vec![
                    ("vendorId", v(vendor_id)),
                    ("messageId", message_id.as_ref().and_then(v)),
                    ("data", data),
                ]),
            )
        }
        (
            C::DataTransfer {
                vendor_id,
                message_id,
                data,
            },
            V201,
        ) => (
            "DataTransfer",
            obj(vec![
                ("vendorId", v(vendor_id)),
                ("messageId", message_id.as_ref().and_then(v)),
                ("data", data.clone()),
            ]),
        ),
        (C::RotatePassword { password }, _) => {
            let Some(password) = password else {
                return Err(refuse("password", "the CSMS fills in the new password"));
            };
            crate::credentials::validate_password(Some(version), password)?;
            let key = format!(
                "{}.{}",
                crate::credentials::BASIC_AUTH_COMPONENT,
                crate::credentials::BASIC_AUTH_VARIABLE
            );
            let key = match version {
                V16 => crate::credentials::AUTHORIZATION_KEY,
                V201 => key.as_str(),
            };
            let change = C::ChangeConfiguration {
                key: key.to_string(),
                value: password.clone(),
            };
            return to_ocpp(&change, version, request_id);
        }
        (C::Raw { action, payload }, _) => {
            if !payload.is_object() {
                return Err(refuse("payload", "must be a JSON object"));
            }
            return Ok((action.clone(), payload.clone()));
        }
    };
    Ok((action.to_string(), payload))
}

/// The transaction profile sent with a remote start, checked.
fn start_profile(
    p: &Option<profile::ChargingProfile>,
    evse_id: Option<u32>,
    version: OcppVersion,
) -> Result<Option<Value>, DomainError> {
    let Some(p) = p else {
        return Ok(None);
    };
    if p.purpose != profile::ProfilePurpose::Tx {
        return Err(refuse(
            "charging_profile",
            "a profile sent with start_session is a transaction profile (purpose tx)",
        ));
    }
    if p.transaction_id.is_some() {
        return Err(refuse(
            "charging_profile",
            "the transaction does not exist yet: leave transaction_id out",
        ));
    }
    p.validate(evse_id.unwrap_or(0), true)?;
    p.to_ocpp(version).map(Some)
}

fn update_type(u: ListUpdate) -> &'static str {
    match u {
        ListUpdate::Full => "Full",
        ListUpdate::Differential => "Differential",
    }
}

fn entry_16(e: &LocalListEntry) -> Value {
    let info = e.status.as_ref().map(|s| {
        obj(vec![
            ("status", v(s)),
            ("expiryDate", e.expires_at.as_ref().map(ts)),
            ("parentIdTag", e.group_id.as_ref().and_then(v)),
        ])
    });
    obj(vec![("idTag", v(&e.id_token)), ("idTagInfo", info)])
}

fn entry_201(e: &LocalListEntry) -> Value {
    let info = e.status.as_ref().map(|s| {
        obj(vec![
            ("status", v(s)),
            ("cacheExpiryDateTime", e.expires_at.as_ref().map(ts)),
            (
                "groupIdToken",
                e.group_id
                    .as_ref()
                    .map(|g| id_token_201(g, None, "Central")),
            ),
        ])
    });
    obj(vec![
        (
            "idToken",
            Some(id_token_201(
                &e.id_token,
                e.id_token_type.as_deref(),
                "ISO14443",
            )),
        ),
        ("idTokenInfo", info),
    ])
}
