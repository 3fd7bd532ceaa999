//! The smart-charging consumer: a session that starts, meters a changed draw or ends, a connector
//! status, a charger that connects, boots, disconnects or turns out not to comply: its site is computed
//! again and the limits that moved are sent. Events are taken in batches and each site is computed once
//! per batch (the debounce: events that arrive while a site is being computed are handled by the next
//! computation); a booting charger is sent its profiles again (a reboot may have lost them; a mere
//! reconnect keeps them: OCPP chargers keep profiles across connections), is asked what it can do
//! with profiles (stack levels, rate units, whether it does smart charging at all), and gets its
//! fail-safe default profile. Idempotent:
//! the same state gives the same allocation, and only limits that moved are sent.

use std::collections::BTreeMap;

use cpms_domain::events::{DomainEvent, EventBody};
use cpms_domain::{ChargerId, TenantId};
use cpms_ports::{Delivery, StoreError};
use tokio::sync::mpsc;

use crate::Csms;

/// Most events taken in one batch.
const BATCH: usize = 256;

fn charger_of(ev: &DomainEvent) -> Option<(&ChargerId, &'static str, bool)> {
    match &ev.body {
        EventBody::SessionStarted { session_id, .. } => {
            Some((&session_id.charger, "session started", false))
        }
        EventBody::SessionMetered { session_id, .. } => {
            Some((&session_id.charger, "meter reading", false))
        }
        EventBody::SessionEnded { session_id, .. } => {
            Some((&session_id.charger, "session ended", false))
        }
        EventBody::ConnectorStatusChanged { charger_id, .. } => {
            Some((charger_id, "connector status", false))
        }
        EventBody::ChargerConnected { charger_id, .. } => {
            Some((charger_id, "charger connected", false))
        }
        EventBody::ChargerBooted { charger_id, .. } => Some((charger_id, "charger booted", true)),
        EventBody::ChargerDisconnected { charger_id } => {
            Some((charger_id, "charger disconnected", false))
        }
        EventBody::ChargerNoncompliant { charger_id, .. } => {
            Some((charger_id, "charger not compliant", false))
        }
        EventBody::ChargerLimitsChanged { charger_id, .. } => {
            Some((charger_id, "charger limits changed", false))
        }
        _ => None,
    }
}

/// Handles a batch of events: each site they touch is computed once.
pub async fn smart_charge(csms: &Csms, events: &[DomainEvent]) -> Result<usize, StoreError> {
    // (tenant, site) -> the first trigger; chargers that need their fail-safe profile.
    let mut sites: BTreeMap<(TenantId, String), &'static str> = BTreeMap::new();
    let mut fail_safe: Vec<(TenantId, String, ChargerId)> = Vec::new();
    // A batch is mostly one charger's meter values: its site is looked up once.
    let mut site_of: std::collections::HashMap<(TenantId, ChargerId), Option<String>> =
        std::collections::HashMap::new();
    for ev in events {
        let Some((charger, trigger, boot)) = charger_of(ev) else {
            continue;
        };
        let key = (ev.tenant.clone(), charger.clone());
        let site = match site_of.get(&key) {
            Some(s) => s.clone(),
            None => {
                let s = csms.smart_site_of(&ev.tenant, charger).await?;
                site_of.insert(key, s.clone());
                s
            }
        };
        let Some(site) = site else {
            continue;
        };
        if boot
            && !fail_safe
                .iter()
                .any(|(t, _, c)| t == &ev.tenant && c == charger)
        {
            fail_safe.push((ev.tenant.clone(), site.clone(), charger.clone()));
        }
        sites.entry((ev.tenant.clone(), site)).or_insert(trigger);
    }
    for (tenant, site, charger) in &fail_safe {
        csms.forget_installed(tenant, charger).await?;
        csms.request_capabilities(tenant, charger).await?;
        csms.send_fail_safe(tenant, site, charger).await?;
    }
    for ((tenant, site), trigger) in &sites {
        csms.recompute_site(tenant, site, trigger).await?;
    }
    Ok(sites.len())
}

/// Runs the smart-charging consumer on a stream of deliveries until it ends: it takes what is waiting
/// (up to [`BATCH`]), handles it as one batch (retried a few times), then settles it; a batch that keeps
/// failing is left unsettled and delivered again.
pub async fn run_smart_charging(csms: std::sync::Arc<Csms>, mut rx: mpsc::Receiver<Delivery>) {
    while let Some(first) = rx.recv().await {
        let mut batch: Vec<Delivery> = vec![first];
        while batch.len() < BATCH {
            match rx.try_recv() {
                Ok(d) => batch.push(d),
                Err(_) => break,
            }
        }
        let events: Vec<DomainEvent> = batch.iter().map(|d| d.event.clone()).collect();
        let c = csms.clone();
        let ok = super::with_retries("smart-charging", &events[0], || {
            let (c, events) = (c.clone(), events.clone());
            async move { smart_charge(&c, &events).await.map(|_| ()) }
        })
        .await;
        if ok {
            for d in batch {
                d.done();
            }
        }
    }
}
