//! Alerting: domain events and timers become findings about the rules' conditions
//! (`cpms_domain::incidents`), conditions open and resolve incidents, incidents try their remedies and
//! notify their escalation tiers. Event-driven rules run in the `alerts` consumer; time-based ones
//! (offline watches, minimum durations, hysteresis, remedy checks, escalation, retries of
//! notifications) in the sweep, which reads only what is due.
//!
//! Every change is one conditional batch: the condition, the incident and the notifications it causes
//! (an outbox), so a crash loses nothing and a notice is sent at least once.

mod engine;
mod human;
mod notify;
mod offline;
mod remedy;
mod sweep;

use std::sync::Arc;

use cpms_domain::TenantId;
use cpms_domain::events::DomainEvent;
use cpms_domain::incidents::detect;
use cpms_domain::incidents::rules::AlertConfig;
use cpms_ports::{Documents, Record, StoreError};

pub(crate) use engine::Ctx;
pub use human::{ActionError, HumanAction};
pub use notify::{EVENT_ID_HEADER, SIGNATURE_HEADER, sign};

use crate::Csms;

/// Who the alerting system is in command and audit records.
pub(crate) const ACTOR: &str = "alerts";

impl Csms {
    pub(crate) fn alert_records<T: Record>(&self) -> Documents<T> {
        self.records()
    }

    /// The tenant's alerting configuration (the defaults when it set none).
    pub async fn alert_config(&self, tenant: &TenantId) -> Result<Arc<AlertConfig>, StoreError> {
        let read = self
            .alert_records::<AlertConfig>()
            .get(tenant, cpms_ports::alert_records::ALERT_CONFIG_ID)
            .await?;
        Ok(Arc::new(read.map_or_else(
            || AlertConfig::defaults(tenant.clone()),
            |v| v.value,
        )))
    }

    /// Handles one event of the `alerts` queue (idempotent: a redelivered or stale event changes
    /// nothing).
    pub async fn alert_on_event(&self, ev: &DomainEvent) -> Result<(), StoreError> {
        let Some(charger_id) = detect::charger_of(ev) else {
            // Findings about no charger: a roaming partner that keeps failing.
            if let cpms_domain::events::EventBody::PartnerDeliveryFailing { .. } = &ev.body {
                let cfg = self.alert_config(&ev.tenant).await?;
                let ctx = Ctx::unattached(&ev.tenant);
                for f in detect::findings(ev, None, None) {
                    self.apply_finding(&cfg, &ctx, f).await?;
                }
            }
            return Ok(());
        };
        let cfg = self.alert_config(&ev.tenant).await?;
        let charger = match self.ports.chargers.get(&charger_id).await? {
            Some(c) if c.value.tenant == ev.tenant => Some(c.value),
            Some(_) => return Ok(()),
            None => None,
        };
        let ctx = Ctx::of(&ev.tenant, charger_id.as_str(), charger.as_ref());
        match &ev.body {
            cpms_domain::events::EventBody::ChargerConnected { .. } => {
                self.watch_connected(&cfg, &ctx, ev.occurred_at).await?;
            }
            cpms_domain::events::EventBody::ChargerDisconnected { .. } => {
                self.watch_disconnected(&cfg, &ctx, ev.occurred_at).await?;
            }
            _ => {}
        }
        let evse_of_session = match &ev.body {
            cpms_domain::events::EventBody::SessionEnded { session_id, .. } => self
                .ports
                .sessions
                .get(&ev.tenant, session_id)
                .await?
                .and_then(|s| s.value.evse_id),
            _ => None,
        };
        let vendor = ctx.model.as_ref().map(|(v, _)| v.as_str());
        for f in detect::findings(ev, vendor, evse_of_session) {
            self.apply_finding(&cfg, &ctx, f).await?;
        }
        Ok(())
    }
}
