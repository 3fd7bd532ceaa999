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

/// Events handled at once. Conditions and watches are conditional writes that ignore stale reports,
/// so events need not be handled in order; one charger's burst does not hold up the others.
const IN_FLIGHT: usize = 32;

/// Runs the alerts consumer on a stream of deliveries until it ends: up to [`IN_FLIGHT`] events at
/// once, each retried a few times, then settled (one that keeps failing is delivered again).
pub async fn run_alerts(csms: std::sync::Arc<Csms>, mut rx: mpsc::Receiver<Delivery>) {
    let slots = std::sync::Arc::new(tokio::sync::Semaphore::new(IN_FLIGHT));
    let mut running = tokio::task::JoinSet::new();
    while let Some(d) = rx.recv().await {
        let Ok(permit) = slots.clone().acquire_owned().await else {
            break;
        };
        let c = csms.clone();
        running.spawn(async move {
            let ev = d.event.clone();
            let ok = super::with_retries("alerts", &ev, || {
                let (c, ev) = (c.clone(), ev.clone());
                async move { alert(&c, &ev).await }
            })
            .await;
            if ok {
                d.done();
            }
            drop(permit);
        });
        while running.try_join_next().is_some() {}
    }
    while running.join_next().await.is_some() {}
}
