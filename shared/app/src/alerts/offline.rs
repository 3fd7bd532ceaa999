//! Offline detection: each charger's watch (`cpms_domain::incidents::watch`) is armed at its next
//! expected contact and swept when due; a charger disconnected too long or silent past twice its
//! heartbeat interval plus the grace is offline. When most of a site's chargers go offline together,
//! one site incident opens and they are attached to it instead of opening one each.

use chrono::{DateTime, Duration, Utc};
use cpms_domain::ChargerId;
use cpms_domain::incidents::condition::{Condition, Resource};
use cpms_domain::incidents::detect::Finding;
use cpms_domain::incidents::incident::Incident;
use cpms_domain::incidents::rules::{AlertConfig, RuleId};
use cpms_domain::incidents::timeline::{Signal, TimelineEntry};
use cpms_domain::incidents::watch::{Verdict, Watch, judge};
use cpms_ports::alert_records::{ALERTS_BY, watches_of_site};
use cpms_ports::{Documents, Expected, PageRequest, StoreError};

use super::Ctx;
use super::engine::settings;
use crate::Csms;
use crate::service::{RETRIES, backoff};

/// How often an offline charger is looked at again (to see it talk again on a connection that never
/// closed): a quarter of the time it has been offline, from the heartbeat interval (at most a
/// minute) up to ten minutes, so a long outage costs few reads.
fn recheck(hb: Duration, offline_for: Duration) -> Duration {
    let low = hb.min(Duration::minutes(1));
    (offline_for / 4).clamp(low, Duration::minutes(10).max(low))
}
/// Most chargers of a site the outage check reads.
const MAX_SITE_CHARGERS: usize = 2_000;

impl Csms {
    /// Twice the heartbeat interval plus the rule's grace; at least how stale a live charger's
    /// `last_seen` can be (it is written at most every `last_seen_every`, at a frame: up to one
    /// heartbeat interval more).
    fn heartbeat_window(&self, cfg: &AlertConfig, ctx: &Ctx) -> Duration {
        let s = settings(cfg, RuleId::ChargerOffline, ctx);
        let hb = Duration::from_std(self.config.heartbeat_interval).unwrap_or(Duration::minutes(5));
        let every = Duration::from_std(self.config.last_seen_every).unwrap_or(Duration::minutes(5));
        (hb * 2).max(hb + every) + Duration::seconds(i64::from(s.threshold_s))
    }

    /// Reads, changes (if `change` says so) and writes a charger's watch; the watch before and after.
    async fn update_watch<F>(
        &self,
        ctx: &Ctx,
        change: F,
    ) -> Result<Option<(Option<Watch>, Watch)>, StoreError>
    where
        F: FnMut(Option<&Watch>) -> Option<Watch>,
    {
        self.update_watch_from(ctx, None, change).await
    }

    /// The same, starting from `known` (a version just read, e.g. by the sweep's query: one read
    /// fewer when nothing changed it since).
    async fn update_watch_from<F>(
        &self,
        ctx: &Ctx,
        mut known: Option<cpms_ports::Versioned<Watch>>,
        mut change: F,
    ) -> Result<Option<(Option<Watch>, Watch)>, StoreError>
    where
        F: FnMut(Option<&Watch>) -> Option<Watch>,
    {
        let docs = self.alert_records::<Watch>();
        for attempt in 0..RETRIES {
            backoff(attempt).await;
            let read = match known.take() {
                Some(k) => Some(k),
                None => docs.get(&ctx.tenant, &ctx.charger_id).await?,
            };
            let expected = Expected::from_read(&read);
            let old = read.map(|v| v.value);
            let Some(new) = change(old.as_ref()) else {
                return Ok(None);
            };
            match docs.put(&new, expected).await {
                Err(StoreError::Conflict) => continue,
                Err(e) => return Err(e),
                Ok(_) => return Ok(Some((old, new))),
            }
        }
        Err(StoreError::Conflict)
    }

    /// The charger connected at `at`: watched from now on; if it was offline, it is back.
    pub(crate) async fn watch_connected(
        &self,
        cfg: &AlertConfig,
        ctx: &Ctx,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let window = self.heartbeat_window(cfg, ctx);
        let changed = self
            .update_watch(ctx, |old| {
                // A newer change is known, or this one was seen already.
                if old.is_some_and(|w| w.since > at || w.connected && !w.offline && w.since == at) {
                    return None;
                }
                Some(Watch::connected(
                    ctx.tenant.clone(),
                    ctx.charger_id.clone(),
                    ctx.site_id.clone(),
                    window,
                    at,
                ))
            })
            .await?;
        if let Some((old, _)) = changed
            && old.is_some_and(|w| w.offline)
        {
            self.charger_back(cfg, ctx, at).await?;
        }
        Ok(())
    }

    /// The charger's connection closed at `at`: offline if it stays away for the rule's time.
    pub(crate) async fn watch_disconnected(
        &self,
        cfg: &AlertConfig,
        ctx: &Ctx,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let s = settings(cfg, RuleId::ChargerOffline, ctx);
        let gone = Duration::seconds(i64::from(s.disconnected_s));
        self.update_watch(ctx, |old| {
            if old.is_some_and(|w| w.since > at || !w.connected) {
                return None;
            }
            if let Some(w) = old.filter(|w| w.offline) {
                // Found silent already: it stays offline.
                let mut w = w.clone();
                w.connected = false;
                w.updated_at = at;
                return Some(w);
            }
            Some(Watch {
                tenant: ctx.tenant.clone(),
                charger_id: ctx.charger_id.clone(),
                site_id: ctx.site_id.clone(),
                connected: false,
                offline: false,
                since: at,
                last_contact: old.and_then(|w| w.last_contact),
                due: Some(at + gone),
                updated_at: at,
            })
        })
        .await?;
        Ok(())
    }

    /// Looks at one due watch at `now`.
    pub(crate) async fn sweep_watch(
        &self,
        cfg: &AlertConfig,
        tenant: &cpms_domain::TenantId,
        due: cpms_ports::Versioned<Watch>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let charger_id = due.value.charger_id.clone();
        let charger_id = charger_id.as_str();
        let Ok(id) = ChargerId::new(charger_id) else {
            return Ok(());
        };
        let charger = self.ports.chargers.get(&id).await?.map(|v| v.value);
        let charger = charger.filter(|c| &c.tenant == tenant);
        let ctx = Ctx::of(tenant, charger_id, charger.as_ref());
        let Some(c) = charger else {
            // Deleted: it is no longer watched.
            self.alert_records::<Watch>()
                .delete(tenant, charger_id)
                .await?;
            return Ok(());
        };
        let s = settings(cfg, RuleId::ChargerOffline, &ctx);
        let window = self.heartbeat_window(cfg, &ctx);
        let gone = Duration::seconds(i64::from(s.disconnected_s));
        let hb = Duration::from_std(self.config.heartbeat_interval).unwrap_or(Duration::minutes(5));
        let mut verdict = None;
        let changed = self
            .update_watch_from(&ctx, Some(due), |old| {
                let w = old?;
                if w.due.is_none_or(|d| d > now) {
                    return None;
                }
                let v = judge(
                    w,
                    c.connection.is_some(),
                    c.last_seen,
                    window,
                    gone,
                    recheck(hb, now - w.since),
                    now,
                );
                verdict = Some(v);
                let mut w = w.clone();
                w.site_id.clone_from(&ctx.site_id);
                w.updated_at = now;
                w.connected = c.connection.is_some();
                match v {
                    Verdict::Alive(next) => {
                        w.last_contact = c.last_seen.max(w.last_contact);
                        w.due = Some(next);
                    }
                    Verdict::Recheck(next) => w.due = Some(next),
                    Verdict::Offline(since) => {
                        w.offline = true;
                        w.since = since;
                        w.due = Some(now + recheck(hb, now - since));
                    }
                    Verdict::Back => {
                        w.offline = false;
                        w.since = now;
                        w.last_contact = c.last_seen.max(w.last_contact);
                        w.due = Some(c.last_seen.unwrap_or(now) + window);
                    }
                }
                Some(w)
            })
            .await?;
        if changed.is_none() {
            return Ok(());
        }
        match verdict {
            Some(Verdict::Offline(since)) => {
                let silent = c.connection.is_some();
                if silent && s.enabled {
                    let entry = TimelineEntry::new(0, 0, Signal::Silent, Some(since), now);
                    self.record_timeline(tenant, &id, vec![entry]).await?;
                }
                let detail = if silent {
                    format!(
                        "no frame since {} (its connection is still open)",
                        since.to_rfc3339()
                    )
                } else {
                    format!("disconnected since {}", since.to_rfc3339())
                };
                self.charger_offline(cfg, &ctx, since, detail).await?;
                // It may have reconnected while its incident opened; its return, handled before
                // the incident existed, then found nothing to resolve: look at the watch again.
                let watch = self
                    .alert_records::<Watch>()
                    .get(tenant, charger_id)
                    .await?;
                match watch.map(|v| v.value) {
                    Some(w) if w.connected && !w.offline => {
                        self.charger_back(cfg, &ctx, w.since).await
                    }
                    _ => Ok(()),
                }
            }
            Some(Verdict::Back) => self.charger_back(cfg, &ctx, now).await,
            _ => Ok(()),
        }
    }

    /// The charger went offline at `since`: a site incident if most of its site is down with it,
    /// else its own.
    async fn charger_offline(
        &self,
        cfg: &AlertConfig,
        ctx: &Ctx,
        since: DateTime<Utc>,
        detail: String,
    ) -> Result<(), StoreError> {
        if let Some(site) = &ctx.site_id
            && let Some((down, total)) = self.site_outage(cfg, ctx, site, since).await?
        {
            let site_ctx = Ctx::site(&ctx.tenant, site);
            let f = Finding {
                rule: RuleId::SiteOffline,
                resource: Resource::Site {
                    site_id: site.clone(),
                },
                holds: Some(true),
                detail: format!("{down} of {total} chargers went offline together"),
                // Offline since its last contact: a report that it is back, which carries the
                // time it reconnected, then wins whichever is handled first.
                at: since,
                vendor_code: None,
                severity: None,
            };
            if settings(cfg, RuleId::SiteOffline, &site_ctx).enabled {
                self.apply_finding(cfg, &site_ctx, f).await?;
                if self.attach_to_site(ctx, site).await? {
                    return Ok(());
                }
            }
        }
        let f = Finding {
            rule: RuleId::ChargerOffline,
            resource: Resource::Charger {
                charger_id: ctx.charger_id.clone(),
            },
            holds: Some(true),
            detail,
            at: since,
            vendor_code: None,
            severity: None,
        };
        self.apply_finding(cfg, ctx, f).await
    }

    /// Whether `ctx`'s site counts as down: (chargers down together, chargers watched) when it does.
    async fn site_outage(
        &self,
        cfg: &AlertConfig,
        ctx: &Ctx,
        site: &str,
        since: DateTime<Utc>,
    ) -> Result<Option<(usize, usize)>, StoreError> {
        let rule = cfg.site_outage;
        let watches = self.site_watches(&ctx.tenant, site).await?;
        let total = watches.len();
        if total < rule.min_chargers as usize || total < 2 {
            return Ok(None);
        }
        // Together: within the window of each other (a silent site's chargers are found one
        // heartbeat apart, so the window is at least the heartbeat interval).
        let hb = Duration::from_std(self.config.heartbeat_interval).unwrap_or(Duration::minutes(5));
        let window = Duration::seconds(i64::from(rule.window_s)).max(hb);
        let down = watches
            .iter()
            .filter(|w| {
                w.charger_id == ctx.charger_id
                    || (w.offline || !w.connected) && (w.since - since).abs() <= window
            })
            .count();
        Ok((down * 100 >= usize::from(rule.percent) * total).then_some((down, total)))
    }

    async fn site_watches(
        &self,
        tenant: &cpms_domain::TenantId,
        site: &str,
    ) -> Result<Vec<Watch>, StoreError> {
        let q = Documents::<Watch>::by_index(
            ALERTS_BY,
            watches_of_site(site),
            PageRequest::first(MAX_SITE_CHARGERS),
        );
        let found = self.alert_records::<Watch>().query(tenant, &q).await?;
        Ok(found.items.into_iter().map(|v| v.value).collect())
    }

    /// Attaches the charger to its site's open outage incident; false when there is none.
    async fn attach_to_site(&self, ctx: &Ctx, site: &str) -> Result<bool, StoreError> {
        let key = Condition::key(
            RuleId::SiteOffline,
            &Resource::Site {
                site_id: site.to_string(),
            },
        );
        let Some(cond) = self
            .alert_records::<Condition>()
            .get(&ctx.tenant, &key)
            .await?
        else {
            return Ok(false);
        };
        let Some(id) = cond.value.incident else {
            return Ok(false);
        };
        let docs = self.alert_records::<Incident>();
        for attempt in 0..RETRIES {
            backoff(attempt).await;
            let Some(read) = docs.get(&ctx.tenant, &id).await? else {
                return Ok(false);
            };
            let mut i = read.value;
            if !i.is_open() {
                return Ok(false);
            }
            if !i.attach(&ctx.charger_id, self.now()) {
                return Ok(true);
            }
            match docs.put(&i, Expected::Version(read.version)).await {
                Err(StoreError::Conflict) => continue,
                Err(e) => return Err(e),
                Ok(_) => return Ok(true),
            }
        }
        Err(StoreError::Conflict)
    }

    /// The charger is back: its offline condition clears, and its site's outage ends when most of
    /// the site is back (the chargers still down are then looked at again, each on its own).
    async fn charger_back(
        &self,
        cfg: &AlertConfig,
        ctx: &Ctx,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let f = Finding {
            rule: RuleId::ChargerOffline,
            resource: Resource::Charger {
                charger_id: ctx.charger_id.clone(),
            },
            holds: Some(false),
            detail: "back online".into(),
            at,
            vendor_code: None,
            severity: None,
        };
        self.apply_finding(cfg, ctx, f).await?;
        let Some(site) = &ctx.site_id else {
            return Ok(());
        };
        let resource = Resource::Site {
            site_id: site.clone(),
        };
        let key = Condition::key(RuleId::SiteOffline, &resource);
        let cond = self
            .alert_records::<Condition>()
            .get(&ctx.tenant, &key)
            .await?;
        if !cond.is_some_and(|c| c.value.active) {
            return Ok(());
        }
        let watches = self.site_watches(&ctx.tenant, site).await?;
        let down: Vec<&Watch> = watches.iter().filter(|w| w.offline).collect();
        if down.len() * 100 >= usize::from(cfg.site_outage.percent) * watches.len() {
            return Ok(());
        }
        let site_ctx = Ctx::site(&ctx.tenant, site);
        let f = Finding {
            rule: RuleId::SiteOffline,
            resource,
            holds: Some(false),
            detail: format!(
                "{} of {} chargers are back",
                watches.len() - down.len(),
                watches.len()
            ),
            at,
            vendor_code: None,
            severity: None,
        };
        self.apply_finding(cfg, &site_ctx, f).await?;
        // The chargers still down now count on their own.
        let now = self.now();
        for w in down {
            let wctx = Ctx {
                charger_id: w.charger_id.clone(),
                ..ctx.clone()
            };
            self.update_watch(&wctx, |old| {
                let mut w = old?.clone();
                w.offline = false;
                w.due = Some(now);
                Some(w)
            })
            .await?;
        }
        Ok(())
    }
}
