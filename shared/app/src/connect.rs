//! `$connect` and `$disconnect`: who may open a connection, which OCPP version it speaks, and the
//! bookkeeping of live connections.

use cpms_domain::charger::Connection;
use cpms_domain::credentials::PasswordMatch;
use cpms_domain::incidents::timeline::{Signal, TimelineEntry};
use cpms_domain::log::{ConnectionAttempt, LogKind};
use cpms_domain::{ChargerId, OcppVersion};
use cpms_ports::ConnectionInfo;
use serde_json::json;

use crate::Csms;
use crate::auth::parse_basic;

/// A connection request as the gateway presents it.
#[derive(Debug, Clone, Default)]
pub struct ConnectRequest {
    /// Id the gateway gave the connection.
    pub connection_id: String,
    /// Charger identity from the URL (`/ocpp/{identity}`), percent-decoded.
    pub identity: String,
    /// The `Authorization` header, if any.
    pub authorization: Option<String>,
    /// Every `Sec-WebSocket-Protocol` header value.
    pub subprotocols: Vec<String>,
    /// Peer address.
    pub remote_addr: Option<String>,
}

/// What the gateway must do with the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnectOutcome {
    /// Complete the handshake, echoing `subprotocol` (when the charger offered one).
    Accept {
        /// The subprotocol token to echo, exactly as offered.
        subprotocol: Option<String>,
        /// The version the connection speaks.
        version: OcppVersion,
    },
    /// Refuse the handshake with this HTTP status (401 bad credentials, 404 unknown charger).
    Reject {
        /// HTTP status.
        status: u16,
        /// Why (logged, not sent).
        reason: String,
    },
    /// The charger offered only versions the CSMS does not speak: complete the handshake without a
    /// subprotocol and close (as OCPP-J prescribes).
    Unsupported {
        /// What was offered.
        offered: String,
    },
}

impl Csms {
    /// Handles a connection request.
    pub async fn connect(&self, req: ConnectRequest) -> ConnectOutcome {
        match self.try_connect(&req).await {
            Ok(outcome) => outcome,
            Err(e) => {
                tracing::error!(error = %e, "connect failed");
                ConnectOutcome::Reject {
                    status: 503,
                    reason: "storage unavailable".into(),
                }
            }
        }
    }

    async fn try_connect(
        &self,
        req: &ConnectRequest,
    ) -> Result<ConnectOutcome, cpms_ports::StoreError> {
        let now = self.now();
        let reject = |status: u16, reason: &str| ConnectOutcome::Reject {
            status,
            reason: reason.to_string(),
        };
        let Ok(id) = ChargerId::new(req.identity.clone()) else {
            self.record_attempt(req, "invalid charger identity").await;
            return Ok(reject(404, "invalid charger identity"));
        };
        let Some(charger) = self.ports.chargers.get(&id).await? else {
            self.record_attempt(req, "unknown charger").await;
            return Ok(reject(404, "unknown charger"));
        };
        let charger = charger.value;
        let mut quirks = Vec::new();
        let mut used = None;
        if charger.password_hash.is_some() {
            let Some((user, password)) = req.authorization.as_deref().and_then(parse_basic) else {
                self.log_refusal(&charger, req, "missing Basic credentials")
                    .await;
                return Ok(reject(401, "missing Basic credentials"));
            };
            if user != id.as_str() {
                // Security profiles 1 and 2: the user name is the identity.
                let what = format!(
                    "basic-auth user name {:.60?} is not the charger identity",
                    user
                );
                if !charger.allow_username_mismatch {
                    self.log_refusal(&charger, req, &what).await;
                    return Ok(reject(
                        401,
                        "basic-auth user name is not the charger identity",
                    ));
                }
                quirks.push(format!("{what} (allowed for this charger)"));
            }
            let kept = charger.credential_check.as_deref();
            let mut matched = None;
            for (which, phc) in charger.acceptable_passwords(now) {
                if self
                    .passwords
                    .verify(id.as_str(), phc, &password, kept)
                    .await
                {
                    matched = Some((which, self.passwords.check_for(phc, &password)));
                    break;
                }
            }
            let Some((which, check)) = matched else {
                self.log_refusal(&charger, req, "wrong password").await;
                return Ok(reject(401, "wrong password"));
            };
            if which == PasswordMatch::Previous {
                quirks.push(
                    "connected with its previous password (the new one is not in use yet)".into(),
                );
            }
            used = Some((which, check));
        }
        let (version, echo) = match negotiate(&req.subprotocols, charger.expected_version) {
            Negotiated::Version(v, echo) => (v, echo),
            Negotiated::Unsupported(offered) => {
                let why = format!("no supported subprotocol in {offered:?}");
                self.log_refusal(&charger, req, &why).await;
                return Ok(ConnectOutcome::Unsupported { offered });
            }
        };
        if echo.is_none() {
            quirks.push(format!("no subprotocol offered; speaking OCPP {version}"));
        }
        let info = ConnectionInfo {
            connection_id: req.connection_id.clone(),
            tenant: charger.tenant.clone(),
            charger_id: id.clone(),
            version,
            connected_at: now,
            accepted: charger.was_accepted(),
            remote_addr: req.remote_addr.clone(),
            last_seen_written: None,
        };
        self.ports.registry.put(&info).await?;
        let conn = Connection {
            id: req.connection_id.clone(),
            version,
            connected_at: now,
        };
        let previous = self
            .update_charger(&id, |c| {
                if let Some((which, check)) = &used {
                    c.password_used(*which, now);
                    c.credential_check.clone_from(check);
                }
                let prev = c.connection.replace(conn.clone());
                c.last_version = Some(version);
                c.last_seen = Some(now);
                (true, prev)
            })
            .await?
            .flatten();
        if let Some(prev) = previous.filter(|p| p.id != req.connection_id) {
            // The charger reconnected while its old connection still looked open: drop the old one.
            self.ports.registry.remove(&prev.id).await?;
            let _ = self.ports.gateway.close(&prev.id).await;
            // A call sent on the old connection can never be answered on this one (the old one's
            // `$disconnect` will not end it: the charger's connection is already the new one).
            if let Err(e) = self
                .abandon_commands(&charger.tenant, &id, "the charger reconnected")
                .await
            {
                tracing::warn!(error = %e, charger = %id, "cannot end the old connection's commands");
            }
        }
        for q in quirks {
            let data = json!({"connection_id": req.connection_id});
            let _ = self
                .log(
                    &info,
                    LogKind::Notification,
                    format!("connect quirk: {q}"),
                    data,
                )
                .await;
        }
        let entry = TimelineEntry::new(
            0,
            0,
            Signal::Connected {
                version: version.label().to_string(),
            },
            None,
            now,
        );
        self.record_timeline(&charger.tenant, &id, vec![entry])
            .await?;
        tracing::info!(
            charger = %id, version = version.label(), connection = %req.connection_id,
            peer = req.remote_addr.as_deref().unwrap_or(""), "charger connected"
        );
        Ok(ConnectOutcome::Accept {
            subprotocol: echo,
            version,
        })
    }

    /// Handles the end of a connection.
    pub async fn disconnect(&self, connection_id: &str) {
        let info = match self.ports.registry.remove(connection_id).await {
            Ok(Some(info)) => info,
            Ok(None) => return,
            Err(e) => {
                tracing::warn!(error = %e, "cannot unregister connection");
                return;
            }
        };
        tracing::info!(charger = %info.charger_id, connection = connection_id, "charger disconnected");
        let now = self.ports.clock.now();
        let r = self
            .update_charger(&info.charger_id, |c| {
                let ours = c.connection.as_ref().is_some_and(|x| x.id == connection_id);
                if ours {
                    c.connection = None;
                    // Its last contact: how long it has been offline counts from here.
                    c.last_seen = Some(now);
                }
                (ours, ours)
            })
            .await;
        match r {
            Ok(Some(true)) => {
                let entry = TimelineEntry::new(0, 0, Signal::Disconnected, None, now);
                self.note_timeline(&info.tenant, &info.charger_id, entry)
                    .await;
                let gone = "the charger disconnected";
                if let Err(e) = self
                    .abandon_commands(&info.tenant, &info.charger_id, gone)
                    .await
                {
                    tracing::warn!(error = %e, charger = %info.charger_id, "cannot end its commands");
                }
            }
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(error = %e, charger = %info.charger_id, "cannot record disconnect");
            }
        }
    }

    async fn record_attempt(&self, req: &ConnectRequest, reason: &str) {
        tracing::info!(
            identity = %req.identity.chars().take(48).collect::<String>(),
            peer = req.remote_addr.as_deref().unwrap_or(""), reason, "connection refused"
        );
        let attempt = ConnectionAttempt {
            identity: req.identity.chars().take(100).collect(),
            at: self.now(),
            reason: reason.to_string(),
            remote_addr: req.remote_addr.clone(),
        };
        if let Err(e) = self.ports.attempts.record(&attempt).await {
            tracing::warn!(error = %e, "cannot record a refused connection");
        }
    }

    async fn log_refusal(
        &self,
        charger: &cpms_domain::charger::Charger,
        req: &ConnectRequest,
        why: &str,
    ) {
        tracing::info!(
            charger = %charger.id, peer = req.remote_addr.as_deref().unwrap_or(""), reason = why,
            "connection refused"
        );
        let data = json!({"reason": why, "remote_addr": req.remote_addr});
        let summary = format!("connection refused: {why}");
        let _ = self
            .log_for(
                &charger.tenant,
                &charger.id,
                LogKind::ConnectionRejected,
                summary,
                data,
            )
            .await;
    }
}

enum Negotiated {
    Version(OcppVersion, Option<String>),
    Unsupported(String),
}

/// Picks the version: the pinned one if offered, else the newest offered. Offers are comma-separated,
/// possibly over several headers, with junk such as empty items tolerated. No offer at all: the pinned
/// version, or 1.6 (old 1.6 firmware omits the header).
fn negotiate(headers: &[String], pinned: Option<OcppVersion>) -> Negotiated {
    let offered: Vec<&str> = headers
        .iter()
        .flat_map(|h| h.split(','))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .collect();
    if offered.is_empty() {
        return Negotiated::Version(pinned.unwrap_or(OcppVersion::V16), None);
    }
    let find = |v: OcppVersion| {
        offered
            .iter()
            .find(|t| OcppVersion::from_subprotocol(t) == Some(v))
            .map(|t| t.to_string())
    };
    let choice = match pinned {
        Some(v) => find(v).map(|t| (v, t)),
        None => OcppVersion::ALL
            .into_iter()
            .find_map(|v| find(v).map(|t| (v, t))),
    };
    match choice {
        Some((v, token)) => Negotiated::Version(v, Some(token)),
        None => Negotiated::Unsupported(offered.join(",")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pick(h: &[&str], pinned: Option<OcppVersion>) -> Option<(OcppVersion, Option<String>)> {
        let h: Vec<String> = h.iter().map(|s| s.to_string()).collect();
        match negotiate(&h, pinned) {
            Negotiated::Version(v, e) => Some((v, e)),
            Negotiated::Unsupported(_) => None,
        }
    }

    #[test]
    fn the_newest_offered_version_wins_unless_one_is_pinned() {
        use OcppVersion::*;
        assert_eq!(
            pick(&["ocpp1.6, ocpp2.0.1"], None),
            Some((V201, Some("ocpp2.0.1".into())))
        );
        assert_eq!(
            pick(&["ocpp1.6", "ocpp2.0.1"], Some(V16)),
            Some((V16, Some("ocpp1.6".into())))
        );
        assert_eq!(pick(&["ocpp2.0.1"], Some(V16)), None);
    }

    #[test]
    fn junk_in_the_offer_is_tolerated_and_the_token_echoed_as_sent() {
        use OcppVersion::*;
        assert_eq!(
            pick(&[",ocpp1.6"], None),
            Some((V16, Some("ocpp1.6".into())))
        );
        assert_eq!(
            pick(&[" , OCPP1.6 ,"], None),
            Some((V16, Some("OCPP1.6".into())))
        );
        assert_eq!(pick(&["ocpp2.0", "wamp"], None), None);
    }

    #[test]
    fn no_offer_means_the_pinned_version_or_1_6() {
        use OcppVersion::*;
        assert_eq!(pick(&[], None), Some((V16, None)));
        assert_eq!(pick(&[""], Some(V201)), Some((V201, None)));
    }
}
