//! The billing consumer: a session that ended, or changed after it ended, is priced into its CDR (or its
//! CDR corrected); a running 2.0.1 session's new meter data may send its station the cost so far.
//! Idempotent per session, so redelivered events change nothing.

use cpms_domain::events::{DomainEvent, EventBody};
use cpms_ports::StoreError;
use tokio::sync::mpsc;

use crate::{Billed, Csms};

/// Handles one event; other event types are ignored.
pub async fn bill(csms: &Csms, ev: &DomainEvent) -> Result<Billed, StoreError> {
    match &ev.body {
        EventBody::SessionEnded { session_id, .. }
        | EventBody::SessionAmended { session_id, .. } => {
            csms.bill_session(&ev.tenant, session_id).await
        }
        EventBody::SessionMetered { session_id, .. } => {
            csms.push_running_cost(&ev.tenant, session_id).await?;
            Ok(Billed::Skipped("running"))
        }
        _ => Ok(Billed::Skipped("not a session end")),
    }
}

/// Runs the billing consumer on a stream of events until it ends. A failure is retried with a growing
/// delay (the in-process bus does not redeliver); after the last attempt the session stays unbilled and
/// is logged, and pricing it again (`POST /v1/sessions/{id}/bill`) repairs it.
pub async fn run_billing(csms: std::sync::Arc<Csms>, mut rx: mpsc::Receiver<DomainEvent>) {
    while let Some(ev) = rx.recv().await {
        let mut delay = std::time::Duration::from_millis(100);
        for attempt in 1..=5 {
            // In its own task: a bug that panics on one event must not stop billing for the others.
            let (c, e) = (csms.clone(), ev.clone());
            let outcome = match tokio::spawn(async move { bill(&c, &e).await }).await {
                Ok(r) => r,
                Err(panic) => {
                    tracing::error!(error = %panic, event = %ev.id, "billing panicked on this event");
                    break;
                }
            };
            match outcome {
                Ok(_) => break,
                Err(e) if attempt == 5 => {
                    tracing::error!(error = %e, event = %ev.id, "billing failed; the session stays unbilled");
                }
                Err(e) => {
                    tracing::warn!(error = %e, event = %ev.id, attempt, "billing failed; retrying");
                    tokio::time::sleep(delay).await;
                    delay *= 4;
                }
            }
        }
    }
}
