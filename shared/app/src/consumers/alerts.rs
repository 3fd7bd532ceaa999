//! The alerts consumer: connector status changes, connections, device events, session starts and ends,
//! CDRs to review and non-compliant chargers become findings of the detection rules
//! ([`Csms::alert_on_event`]). Idempotent: conditions ignore reports older than their last change and
//! occurrences they counted already.

use cpms_domain::events::DomainEvent;
use cpms_ports::{Delivery, StoreError};
use tokio::sync::mpsc;

use crate::Csms;

/// Handles one event.
pub async fn alert(csms: &Csms, ev: &DomainEvent) -> Result<(), StoreError> {
    csms.alert_on_event(ev).await
}

/// Runs the alerts consumer on a stream of deliveries until it ends (see [`super::serve`]).
pub async fn run_alerts(csms: std::sync::Arc<Csms>, rx: mpsc::Receiver<Delivery>) {
    super::serve("alerts", rx, move |ev| {
        let c = csms.clone();
        async move { alert(&c, &ev).await }
    })
    .await
}
