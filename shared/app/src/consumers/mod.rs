//! Consumers of domain events that run inside the CSMS (on AWS each becomes its own queue and function).
//! All are idempotent: events arrive at least once.

mod alerts;
mod billing;
mod ocpi_push;
mod reconciler;
mod smart_charging;

pub use alerts::{alert, run_alerts};
pub use billing::{bill, run_billing};
pub use ocpi_push::{PartnerCommands, push_to_partners, run_ocpi_push};
pub use reconciler::{reconcile, run_reconciler};
pub use smart_charging::{run_smart_charging, smart_charge};

use cpms_domain::events::DomainEvent;
use cpms_ports::{Delivery, StoreError};
use tokio::sync::mpsc;

/// Runs a consumer on a stream of deliveries until it ends: each event is handled (retried a few times at
/// once, in its own task), then settled; one that keeps failing is left unsettled, and its source
/// delivers it again later (the outbox relay with a growing delay, SQS after the visibility timeout).
pub(crate) async fn serve<F, Fut>(
    consumer: &'static str,
    mut rx: mpsc::Receiver<Delivery>,
    handle: F,
) where
    F: Fn(DomainEvent) -> Fut,
    Fut: std::future::Future<Output = Result<(), StoreError>> + Send + 'static,
{
    while let Some(d) = rx.recv().await {
        let ev = d.event.clone();
        if with_retries(consumer, &ev, || handle(ev.clone())).await {
            d.done();
        }
    }
}

/// Quick attempts at one event before it is left to its source to deliver again.
const ATTEMPTS: usize = 3;

/// Runs `attempt` on `ev` in its own task (a panic fails that event only), retrying failures a few times
/// with a short backoff. True when it succeeded.
pub(crate) async fn with_retries<F, Fut>(consumer: &str, ev: &DomainEvent, attempt: F) -> bool
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<(), StoreError>> + Send + 'static,
{
    use backon::BackoffBuilder;
    let mut delays = backon::ExponentialBuilder::default()
        .with_min_delay(std::time::Duration::from_millis(100))
        .with_max_times(ATTEMPTS - 1)
        .build();
    loop {
        match tokio::spawn(attempt()).await {
            Ok(Ok(())) => return true,
            Ok(Err(e)) => match delays.next() {
                Some(d) => {
                    tracing::warn!(consumer, error = %e, event = %ev.id, "event failed; retrying");
                    tokio::time::sleep(d).await;
                }
                None => {
                    tracing::error!(consumer, error = %e, event = %ev.id, "event failed; it will be delivered again");
                    return false;
                }
            },
            Err(panic) => {
                tracing::error!(consumer, error = %panic, event = %ev.id, "consumer panicked on this event");
                return false;
            }
        }
    }
}
