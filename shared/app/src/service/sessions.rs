//! Session changes: apply a normalized session event with one conditional write, assign 1.6 transaction
//! ids, and keep stops and meter values that name no known transaction.

use std::collections::HashSet;

use cpms_domain::meter::{MeterSample, SampleKey};
use cpms_domain::normalize;
use cpms_domain::session::{EventKind, Session, SessionEvent};
use cpms_domain::token::{AuthDecision, token_key};
use cpms_domain::{OcppVersion, SessionId, events};
use cpms_ocpp::CallError;
use cpms_ports::{ConnectionInfo, Expected, SessionWrite, StoreError, Versioned};

use super::{RETRIES, internal};
use crate::Csms;

/// Ids a 1.6 start may take before giving up on collisions.
const TXID_ATTEMPTS: u32 = 16;

/// The answer to a 1.6 StartTransaction.
pub(crate) struct StartOutcome {
    /// Assigned transaction id.
    pub transaction_id: i32,
    /// Authorization decision for its id tag.
    pub auth: AuthDecision,
}

impl Csms {
    /// Applies an event to the session `transaction` of the connection's charger (creating it if new).
    pub(crate) async fn apply_session_event(
        &self,
        conn: &ConnectionInfo,
        transaction: &str,
        ev: &SessionEvent,
    ) -> Result<Session, CallError> {
        let id = SessionId::new(conn.charger_id.clone(), transaction);
        for attempt in 0..RETRIES {
            crate::service::backoff(attempt).await;
            let read = self
                .ports
                .sessions
                .get(&conn.tenant, &id)
                .await
                .map_err(internal)?;
            match self.write_event(conn, &id, read, ev).await {
                Err(StoreError::Conflict) => continue,
                other => return other.map_err(internal),
            }
        }
        Err(internal(StoreError::Conflict))
    }

    async fn write_event(
        &self,
        conn: &ConnectionInfo,
        id: &SessionId,
        read: Option<Versioned<Session>>,
        ev: &SessionEvent,
    ) -> Result<Session, StoreError> {
        let now = self.now();
        let expected = Expected::from_read(&read);
        let old = read.map(|r| r.value);
        let mut s = old
            .clone()
            .unwrap_or_else(|| Session::new(conn.tenant.clone(), id.clone(), conn.version, now));
        let known = if s.may_repeat_samples(ev, now) {
            Some(self.sample_keys(&conn.tenant, id).await?)
        } else {
            None
        };
        let applied = s.apply_knowing(ev, now, known.as_ref());
        if applied.duplicate {
            return Ok(s);
        }
        if old.is_none() && conn.version == OcppVersion::V16 && ev.kind != EventKind::Started {
            s.note(
                "unknown_transaction",
                "first message for this transaction id was not its start",
                now,
            );
        }
        let evs = events::for_session(old.as_ref(), &s);
        self.ports
            .sessions
            .put(SessionWrite {
                session: &s,
                expected,
                new_samples: &applied.new_samples,
                events: &evs,
            })
            .await?;
        log_session(&s, &evs);
        Ok(s)
    }

    /// The keys of every sample a session holds (read only when a message may repeat some).
    async fn sample_keys(
        &self,
        tenant: &cpms_domain::TenantId,
        id: &SessionId,
    ) -> Result<HashSet<SampleKey>, StoreError> {
        let mut keys = HashSet::new();
        let mut page = cpms_ports::PageRequest::first(1000);
        loop {
            let found = self.ports.sessions.samples(tenant, id, &page).await?;
            keys.extend(found.items.iter().map(MeterSample::key));
            match found.next {
                Some(next) => page.cursor = Some(next),
                None => return Ok(keys),
            }
        }
    }

    /// A 1.6 StartTransaction: assigns the transaction id derived from the start's fingerprint; a resent
    /// start finds its session and gets the same id and answer. An identical start after that session
    /// was used (it ended, or a message named its id) is a new transaction and moves to the next id.
    pub(crate) async fn start_v16(
        &self,
        conn: &ConnectionInfo,
        ev: &SessionEvent,
    ) -> Result<StartOutcome, CallError> {
        let mut attempt = 0;
        let mut retries = 0;
        while attempt < TXID_ATTEMPTS && retries < RETRIES {
            let txid = normalize::transaction_id_v16(&conn.charger_id, ev.fingerprint, attempt);
            let id = SessionId::new(conn.charger_id.clone(), txid.to_string());
            let read = self
                .ports
                .sessions
                .get(&conn.tenant, &id)
                .await
                .map_err(internal)?;
            let outcome = |s: &Session| StartOutcome {
                transaction_id: txid,
                auth: s.auth.clone().unwrap_or_else(AuthDecision::free),
            };
            match &read {
                Some(existing)
                    if existing.value.start_fingerprint == Some(ev.fingerprint)
                        && existing.value.may_be_resent_start() =>
                {
                    return Ok(outcome(&existing.value));
                }
                Some(_) => {
                    attempt += 1;
                    continue;
                }
                None => {}
            }
            match self.write_event(conn, &id, None, ev).await {
                Ok(s) => return Ok(outcome(&s)),
                Err(StoreError::Conflict) => {
                    retries += 1;
                    super::backoff(retries).await;
                }
                Err(e) => return Err(internal(e)),
            }
        }
        Err(internal(StoreError::Conflict))
    }

    /// A 1.6 StopTransaction. A stop for a transaction id the CSMS does not know (a charger that started
    /// offline sends -1, or a stop resent after the CSMS lost the start) is matched to the charger's
    /// open session for the same id tag; failing that it is kept as a reconciled session of its own.
    pub(crate) async fn stop_v16(
        &self,
        conn: &ConnectionInfo,
        transaction_id: i64,
        ev: &SessionEvent,
    ) -> Result<Session, CallError> {
        let tx = transaction_id.to_string();
        let id = SessionId::new(conn.charger_id.clone(), &tx);
        let known = self
            .ports
            .sessions
            .get(&conn.tenant, &id)
            .await
            .map_err(internal)?
            .is_some();
        if known {
            return self.apply_session_event(conn, &tx, ev).await;
        }
        if let Some(open) = self.matching_open_session(conn, ev).await? {
            let mut ev = ev.clone();
            ev.quirks.push("stop_with_unknown_transaction_id".into());
            return self.apply_session_event(conn, &open, &ev).await;
        }
        let key = if transaction_id > 0 {
            tx
        } else {
            format!("unmatched-{:016x}", ev.fingerprint)
        };
        self.apply_session_event(conn, &key, ev).await
    }

    async fn matching_open_session(
        &self,
        conn: &ConnectionInfo,
        ev: &SessionEvent,
    ) -> Result<Option<String>, CallError> {
        let open = self
            .ports
            .sessions
            .active(&conn.tenant, &conn.charger_id)
            .await
            .map_err(internal)?;
        let tag = ev.id_token.as_ref().map(|t| token_key(&t.value));
        let best = open
            .into_iter()
            .filter(|s| s.started_at.is_none_or(|st| st <= ev.timestamp))
            .filter(|s| match (&tag, &s.id_token) {
                (Some(a), Some(b)) => *a == token_key(&b.value),
                _ => true,
            })
            .max_by_key(|s| s.started_at);
        Ok(best.map(|s| s.id.transaction))
    }
}

/// What an operator follows of sessions: starts and ends, at info, with a counter each.
pub(crate) fn log_session(s: &Session, evs: &[events::DomainEvent]) {
    use events::EventBody;
    for ev in evs {
        match &ev.body {
            EventBody::SessionStarted { evse_id, .. } => {
                metrics::counter!("cpms_sessions_total", "event" => "started", "version" => s.ocpp_version.label())
                    .increment(1);
                tracing::info!(charger = %s.id.charger, transaction = %s.id.transaction, evse = ?evse_id, "session started");
            }
            EventBody::SessionEnded {
                status, energy_wh, ..
            } => {
                metrics::counter!("cpms_sessions_total", "event" => "ended", "version" => s.ocpp_version.label())
                    .increment(1);
                tracing::info!(
                    charger = %s.id.charger, transaction = %s.id.transaction, status = status.as_str(),
                    energy_wh = %energy_wh.unwrap_or_default(), reason = s.stop_reason.as_deref().unwrap_or(""),
                    "session ended"
                );
            }
            _ => {}
        }
    }
}
