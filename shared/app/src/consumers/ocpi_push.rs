//! The `ocpi-push` consumer: each event updates what is published to roaming partners, and what that
//! queued is sent to them at once. A partner that cannot take it now keeps it queued (the sweep
//! retries), so only a failure to record the change fails the event.

use std::sync::Arc;

use cpms_domain::events::DomainEvent;
use cpms_ports::{Delivery, StoreError};
use cpms_roaming::{Roaming, RoamingError};
use tokio::sync::mpsc;

fn store_error(e: RoamingError) -> StoreError {
    match e {
        RoamingError::Store(e) => e,
        other => StoreError::Unavailable(other.to_string()),
    }
}

/// Handles one event: publishes, then sends to the partners with something new.
pub async fn push_to_partners(roaming: &Roaming, ev: &DomainEvent) -> Result<(), StoreError> {
    let partners = roaming.publish(ev).await.map_err(store_error)?;
    for p in partners {
        match roaming.deliver(&ev.tenant, &p).await {
            Ok(sent) if sent.failed > 0 => {
                tracing::info!(partner = %p, "the partner did not take the push; retried by the sweep");
            }
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(partner = %p, error = %e, "pushing to the partner failed; the sweep retries")
            }
        }
    }
    Ok(())
}

/// Runs the consumer on its deliveries until they end.
pub async fn run_ocpi_push(roaming: Arc<Roaming>, rx: mpsc::Receiver<Delivery>) {
    super::serve("ocpi-push", rx, move |ev| {
        let r = roaming.clone();
        async move { push_to_partners(&r, &ev).await }
    })
    .await;
}

/// The charger command path for the commands roaming partners send.
pub struct PartnerCommands(pub Arc<crate::Csms>);

#[async_trait::async_trait]
impl cpms_roaming::commands::ChargerCommands for PartnerCommands {
    async fn submit(
        &self,
        tenant: &cpms_domain::TenantId,
        charger: &str,
        request: cpms_domain::command::CommandRequest,
        timeout_s: u32,
        actor: &str,
    ) -> Result<String, cpms_roaming::commands::Refused> {
        use cpms_roaming::commands::Refused;
        match self
            .0
            .submit_command(tenant, charger, request, timeout_s, actor)
            .await
        {
            Ok(c) => Ok(c.id),
            Err(crate::SubmitError::Offline(_)) => Err(Refused::Offline),
            Err(e) => Err(Refused::Other(e.to_string())),
        }
    }
}
