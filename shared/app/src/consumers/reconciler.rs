//! The session reconciler: a charger that starts a new session on an EVSE has ended the previous one, even
//! if its stop never arrived (lost offline, dropped after retries). When a session starts, older sessions
//! still open on the same EVSE are closed by reconciliation at the new start, keeping the energy their
//! last register reading shows. Their status becomes `reconciled`; billing flags them for review.

use cpms_domain::events::{DomainEvent, EventBody};
use cpms_domain::session::Session;
use cpms_ports::{Delivery, Expected, SessionWrite, StoreError};
use tokio::sync::mpsc;

use crate::Csms;
use crate::service::RETRIES;

/// Handles one event; does nothing for events other than session starts.
pub async fn reconcile(csms: &Csms, ev: &DomainEvent) -> Result<usize, StoreError> {
    let EventBody::SessionStarted {
        session_id,
        evse_id: Some(evse),
        started_at: Some(at),
        ..
    } = &ev.body
    else {
        return Ok(0);
    };
    let sessions = &csms.ports.sessions;
    let open = sessions.active(&ev.tenant, &session_id.charger).await?;
    let stale: Vec<Session> = open
        .into_iter()
        .filter(|s| s.id != *session_id && s.evse_id == Some(*evse))
        .filter(|s| s.started_at.is_some_and(|st| st < *at))
        .collect();
    let mut closed = 0;
    for s in stale {
        for attempt in 0..RETRIES {
            crate::service::backoff(attempt).await;
            let Some(read) = sessions.get(&ev.tenant, &s.id).await? else {
                break;
            };
            let mut updated = read.value.clone();
            let now = csms.now();
            updated.close_by_reconciliation(*at, "Superseded", now);
            if updated == read.value {
                break;
            }
            let evs = cpms_domain::events::for_session(Some(&read.value), &updated);
            let write = SessionWrite {
                session: &updated,
                expected: Expected::Version(read.version),
                new_samples: &[],
                events: &evs,
            };
            match sessions.put(write).await {
                Ok(_) => {
                    crate::service::sessions::log_session(&updated, &evs);
                    closed += 1;
                    break;
                }
                Err(StoreError::Conflict) => continue,
                Err(e) => return Err(e),
            }
        }
    }
    Ok(closed)
}

/// Runs the reconciler on a stream of deliveries until it ends (see [`super::serve`]).
pub async fn run_reconciler(csms: std::sync::Arc<Csms>, rx: mpsc::Receiver<Delivery>) {
    super::serve("session-reconciler", rx, move |ev| {
        let c = csms.clone();
        async move { reconcile(&c, &ev).await.map(|_| ()) }
    })
    .await
}
