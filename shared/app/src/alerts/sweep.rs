//! The sweep: every record whose timer is due (watches, conditions, incidents, deliveries), read from
//! the sparse `due` index of each kind, so its cost follows what is due, not the size of the network.
//! `cpms serve` runs it every second; on AWS the `alert-sweeper` function runs it every minute.

use chrono::{DateTime, Utc};
use cpms_domain::ChargerId;
use cpms_domain::TenantId;
use cpms_domain::incidents::condition::{Condition, Resource};
use cpms_domain::incidents::delivery::Delivery;
use cpms_domain::incidents::escalation::EscalationPolicy;
use cpms_domain::incidents::incident::{EntryKind, Incident, IncidentState, SYSTEM};
use cpms_domain::incidents::notify::NoticeKind;
use cpms_domain::incidents::rules::AlertConfig;
use cpms_domain::incidents::watch::Watch;
use cpms_ports::alert_records::{ALERT_DUE, ALERTS_DUE, due_until};
use cpms_ports::{Documents, Expected, PageRequest, Record, StoreError, Versioned};
use futures_util::StreamExt;

use super::Ctx;
use super::engine::{Plan, changed, settings};
use crate::Csms;
use crate::service::{RETRIES, backoff};

/// Due records read per page.
const PAGE: usize = 200;
/// Pages read per kind and sweep (the rest waits for the next sweep).
const MAX_PAGES: usize = 50;
/// Due records handled at once.
const AT_ONCE: usize = 16;

impl Csms {
    /// Sweeps every tenant; how many records were due.
    pub async fn sweep_all_alerts(&self) -> Result<usize, StoreError> {
        let mut n = 0;
        for t in self.all_tenants().await? {
            n += self.sweep_alerts(&t).await?;
        }
        Ok(n)
    }

    /// Sweeps one tenant; how many records were due.
    pub async fn sweep_alerts(&self, tenant: &TenantId) -> Result<usize, StoreError> {
        let now = self.now();
        let cfg = self.alert_config(tenant).await?;
        let mut n = 0;
        // Watches: one site's chargers in turn (they may share a site incident), sites at once.
        let watches: Vec<Versioned<Watch>> = self.due_versioned(tenant, now).await?;
        n += watches.len();
        let mut sites: std::collections::BTreeMap<Option<String>, Vec<Versioned<Watch>>> =
            Default::default();
        for w in watches {
            sites.entry(w.value.site_id.clone()).or_default().push(w);
        }
        let mut groups: Vec<Vec<Versioned<Watch>>> = Vec::new();
        for (site, ws) in sites {
            if site.is_some() {
                groups.push(ws);
            } else {
                groups.extend(ws.into_iter().map(|w| vec![w]));
            }
        }
        let cfg2 = cfg.clone();
        futures_util::stream::iter(groups)
            .for_each_concurrent(AT_ONCE, |ws| {
                let cfg = cfg2.clone();
                async move {
                    for w in ws {
                        let charger = w.value.charger_id.clone();
                        if let Err(e) = self.sweep_watch(&cfg, tenant, w, now).await {
                            tracing::warn!(error = %e, charger = %charger, "offline check failed");
                        }
                    }
                }
            })
            .await;
        let conditions: Vec<Condition> = self.due(tenant, now).await?;
        n += conditions.len();
        self.each(conditions, |c| self.tick_condition(&cfg, tenant, c, now))
            .await;
        let incidents: Vec<Incident> = self.due(tenant, now).await?;
        n += incidents.len();
        self.each(incidents, |i| self.tick_incident(&cfg, tenant, i.id, now))
            .await;
        let deliveries: Vec<Delivery> = self.due(tenant, now).await?;
        n += deliveries.len();
        self.each(
            deliveries,
            |d| async move { self.attempt(d).await.map(|_| ()) },
        )
        .await;
        Ok(n)
    }

    async fn each<T, F, Fut>(&self, items: Vec<T>, f: F)
    where
        F: Fn(T) -> Fut,
        Fut: std::future::Future<Output = Result<(), StoreError>>,
    {
        futures_util::stream::iter(items)
            .for_each_concurrent(AT_ONCE, |x| {
                let fut = f(x);
                async move {
                    if let Err(e) = fut.await {
                        tracing::warn!(error = %e, "an alert timer failed; the next sweep retries it");
                    }
                }
            })
            .await;
    }

    /// The records of `T` due by `now`.
    async fn due<T: Record>(
        &self,
        tenant: &TenantId,
        now: DateTime<Utc>,
    ) -> Result<Vec<T>, StoreError> {
        Ok(self
            .due_versioned(tenant, now)
            .await?
            .into_iter()
            .map(|v| v.value)
            .collect())
    }

    /// The same with their versions.
    async fn due_versioned<T: Record>(
        &self,
        tenant: &TenantId,
        now: DateTime<Utc>,
    ) -> Result<Vec<Versioned<T>>, StoreError> {
        let docs = self.alert_records::<T>();
        let mut out = Vec::new();
        let mut page = PageRequest::first(PAGE);
        for _ in 0..MAX_PAGES {
            let q = Documents::<T>::by_index(ALERTS_DUE, ALERT_DUE, page.clone())
                .range(None, Some(due_until(now)));
            let found = docs.query(tenant, &q).await?;
            out.extend(found.items);
            match found.next {
                Some(n) => page.cursor = Some(n),
                None => break,
            }
        }
        Ok(out)
    }

    async fn tick_condition(
        &self,
        cfg: &AlertConfig,
        tenant: &TenantId,
        due: Condition,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let ctx = match &due.resource {
            Resource::Site { site_id } => Ctx::site(tenant, site_id),
            r => {
                let charger = r.charger().unwrap_or_default().to_string();
                let rec = match ChargerId::new(&charger) {
                    Ok(id) => self.ports.chargers.get(&id).await?.map(|v| v.value),
                    Err(_) => None,
                };
                Ctx::of(tenant, &charger, rec.as_ref())
            }
        };
        let s = settings(cfg, due.rule, &ctx);
        let docs = self.alert_records::<Condition>();
        let key = due.id();
        for attempt in 0..RETRIES {
            backoff(attempt).await;
            let Some(read) = docs.get(tenant, &key).await? else {
                return Ok(());
            };
            let mut c = read.value;
            let before = c.clone();
            let actions = c.tick(now, &s);
            if c == before {
                return Ok(());
            }
            let mut plan = Plan::default();
            self.act(cfg, &ctx, &s, &mut c, actions, &mut plan).await?;
            match self
                .commit(&c, Expected::Version(read.version), &plan)
                .await
            {
                Err(StoreError::Conflict) => continue,
                Err(e) => return Err(e),
                Ok(()) => {
                    self.after_commit(cfg, &ctx, plan).await;
                    return Ok(());
                }
            }
        }
        Err(StoreError::Conflict)
    }

    /// An incident's timers: missed targets, the next escalation tier, the remedy check.
    async fn tick_incident(
        &self,
        cfg: &AlertConfig,
        tenant: &TenantId,
        id: String,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let docs = self.alert_records::<Incident>();
        let mut sent = Vec::new();
        let mut remedy_due = false;
        for attempt in 0..RETRIES {
            backoff(attempt).await;
            let Some(read) = docs.get(tenant, &id).await? else {
                return Ok(());
            };
            let mut i = read.value;
            let before = i.clone();
            let mut events = Vec::new();
            let mut deliveries = Vec::new();
            if i.is_open() {
                for target in i.breaches(cfg.targets(i.severity), now) {
                    events.push(changed(&i, "target_breached", Some(target)));
                }
                let escalate = i.state == IncidentState::Open
                    && i.escalation.next_at.is_some_and(|t| t <= now);
                if escalate {
                    let policy = match &i.escalation.policy {
                        Some(p) => self
                            .alert_records::<EscalationPolicy>()
                            .get(tenant, p)
                            .await?
                            .map(|v| v.value),
                        None => None,
                    };
                    let waiting = i.escalation.waiting;
                    match policy.and_then(|p| p.advance(&mut i.escalation, now)) {
                        Some(step) => {
                            if !waiting {
                                i.log(
                                    now,
                                    EntryKind::Escalated,
                                    format!(
                                        "not acknowledged: {} tier {}",
                                        if step.repeat {
                                            "notifying again"
                                        } else {
                                            "escalated to"
                                        },
                                        step.tier + 1
                                    ),
                                    SYSTEM,
                                );
                                events.push(changed(&i, "escalated", None));
                            }
                            let kind = if waiting {
                                NoticeKind::Triggered
                            } else {
                                NoticeKind::Escalated
                            };
                            deliveries =
                                self.deliveries_to(&mut i, kind, step.tier, step.channels, now);
                        }
                        None => {
                            if i.escalation.next_at.is_some_and(|t| t <= now) {
                                i.escalation.next_at = None;
                            }
                        }
                    }
                }
                remedy_due = i.remedy.check_at.is_some_and(|t| t <= now);
            }
            i.schedule(cfg.targets(i.severity));
            if i == before {
                break;
            }
            let mut writes = vec![{
                let mut w = Documents::<Incident>::write_of(&i, Expected::Version(read.version))?;
                w.events = events;
                w
            }];
            for d in &deliveries {
                writes.push(Documents::<Delivery>::write_of(d, Expected::Absent)?);
            }
            match self.write_all(writes).await {
                Err(StoreError::Conflict) => continue,
                Err(e) => return Err(e),
                Ok(()) => {
                    sent = deliveries;
                    break;
                }
            }
        }
        for d in sent {
            self.deliver_notice(d).await;
        }
        if remedy_due {
            self.run_remedy(cfg, tenant, &id).await?;
        }
        Ok(())
    }
}
