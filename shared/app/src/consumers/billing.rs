//! The billing consumer: a session that ended, or changed after it ended, is priced into its CDR (or its
//! CDR corrected); a running 2.0.1 session's new meter data may send its station the cost so far.
//! Idempotent per session, so redelivered events change nothing.

use cpms_domain::events::{DomainEvent, EventBody};
use cpms_ports::{Delivery, StoreError};
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

/// Runs the billing consumer on a stream of deliveries until it ends (see [`super::serve`]).
pub async fn run_billing(csms: std::sync::Arc<Csms>, rx: mpsc::Receiver<Delivery>) {
    super::serve("billing", rx, move |ev| {
        let c = csms.clone();
        async move { bill(&c, &ev).await.map(|_| ()) }
    })
    .await
}
