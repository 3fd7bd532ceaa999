//! Findings applied to conditions, and what the conditions' actions do to incidents: open (unless a
//! maintenance window covers the resource, or its charger is offline and the connector's alert is
//! inhibited), reopen, note a recurrence, resolve. One conditional batch per change.

use chrono::{DateTime, Utc};
use cpms_domain::charger::Charger;
use cpms_domain::events::{DomainEvent, EventBody};
use cpms_domain::ids::time_ordered_id;
use cpms_domain::incidents::condition::{Action, Condition, Resource};
use cpms_domain::incidents::delivery::Delivery;
use cpms_domain::incidents::detect::Finding;
use cpms_domain::incidents::incident::{EntryKind, Incident, SYSTEM};
use cpms_domain::incidents::maintenance::{MaintenanceWindow, WindowScope};
use cpms_domain::incidents::notify::NoticeKind;
use cpms_domain::incidents::rules::{
    AlertConfig, RuleId, RuleSettings, Severity, Subject, VendorCode,
};
use cpms_domain::incidents::timeline::{Signal, TimelineEntry};
use cpms_domain::incidents::watch::Watch;
use cpms_domain::{ChargerId, OcppVersion, TenantId};
use cpms_ports::alert_records::windows_of;
use cpms_ports::{DocWrite, Documents, Expected, PageRequest, StoreError};

use crate::Csms;
use crate::service::{RETRIES, backoff};

/// What is known of the charger a finding is about.
#[derive(Debug, Clone)]
pub(crate) struct Ctx {
    pub tenant: TenantId,
    pub charger_id: String,
    pub site_id: Option<String>,
    pub model: Option<(String, String)>,
    pub version: Option<OcppVersion>,
    pub connected: bool,
}

impl Ctx {
    pub(crate) fn of(tenant: &TenantId, charger_id: &str, c: Option<&Charger>) -> Self {
        Ctx {
            tenant: tenant.clone(),
            charger_id: charger_id.to_string(),
            site_id: c.and_then(|c| c.site_id.clone()),
            model: c
                .and_then(|c| c.boot.as_ref())
                .map(|b| (b.vendor.clone(), b.model.clone())),
            version: c.and_then(|c| c.connection.as_ref().map(|x| x.version).or(c.last_version)),
            connected: c.is_some_and(|c| c.connection.is_some()),
        }
    }

    /// A context of no charger nor site (a roaming partner).
    pub(crate) fn unattached(tenant: &TenantId) -> Self {
        Ctx {
            tenant: tenant.clone(),
            charger_id: String::new(),
            site_id: None,
            model: None,
            version: None,
            connected: true,
        }
    }

    /// A site-level context (no charger).
    pub(crate) fn site(tenant: &TenantId, site_id: &str) -> Self {
        Ctx {
            tenant: tenant.clone(),
            charger_id: String::new(),
            site_id: Some(site_id.to_string()),
            model: None,
            version: None,
            connected: false,
        }
    }

    pub(crate) fn subject(&self) -> Subject<'_> {
        Subject {
            charger: (!self.charger_id.is_empty()).then_some(self.charger_id.as_str()),
            site: self.site_id.as_deref(),
            model: self.model.as_ref().map(|(v, m)| (v.as_str(), m.as_str())),
        }
    }
}

/// The settings of `rule` for `ctx`, with the time-threshold rules' threshold as their minimum duration.
pub(crate) fn settings(cfg: &AlertConfig, rule: RuleId, ctx: &Ctx) -> RuleSettings {
    let mut s = cfg.rule(rule, ctx.subject());
    if matches!(
        rule,
        RuleId::PreparingTooLong | RuleId::SessionStuck | RuleId::EvseUnavailable
    ) {
        s.min_duration_s = s.min_duration_s.max(s.threshold_s);
    }
    s
}

/// A batch being built: the condition's actions turned into writes.
#[derive(Default)]
pub(crate) struct Plan {
    pub incidents: Vec<(Incident, Expected, Vec<DomainEvent>)>,
    pub deliveries: Vec<Delivery>,
    /// Incidents whose remedy ladder starts now.
    pub remedies: Vec<String>,
    /// Timeline entries (maintenance) written after the batch.
    pub planned: Vec<TimelineEntry>,
}

/// `incident.changed.v1` for `i` (deterministic id: one per incident, change and entry count).
pub(crate) fn changed(i: &Incident, change: &str, target: Option<&str>) -> DomainEvent {
    DomainEvent {
        id: format!("incident:{}:{change}:{}", i.id, i.entries.len()),
        tenant: i.tenant.clone(),
        occurred_at: i.updated_at,
        body: EventBody::IncidentChanged {
            incident_id: i.id.clone(),
            rule: i.rule.name().into(),
            resource: i.resource.key(),
            site_id: i.site_id.clone(),
            charger_id: i.resource.charger().map(str::to_string),
            state: i.state.name().into(),
            severity: i.severity.name().into(),
            change: change.into(),
            target: target.map(str::to_string),
        },
    }
}

/// One line about what an incident is.
fn title(rule: RuleId, r: &Resource) -> String {
    let place = match r {
        Resource::Site { site_id } => format!("site {site_id}"),
        Resource::Charger { charger_id } => charger_id.clone(),
        Resource::Connector {
            charger_id,
            evse_id,
            connector_id,
        } if *connector_id == 0 => format!("{charger_id} EVSE {evse_id}"),
        Resource::Connector {
            charger_id,
            evse_id,
            connector_id,
        } => format!("{charger_id} EVSE {evse_id} connector {connector_id}"),
        Resource::Component {
            charger_id,
            evse_id,
            component,
        } => format!("{charger_id} EVSE {evse_id} {component}"),
        Resource::Partner { partner_id } => format!("partner {partner_id}"),
    };
    let what = match rule {
        RuleId::ChargerOffline => "is offline",
        RuleId::SiteOffline => "is offline (most chargers went down together)",
        RuleId::ConnectorFaulted => "is faulted",
        RuleId::VendorError => "reports a vendor error",
        RuleId::FailedStarts => "has repeated failed starts",
        RuleId::PreparingTooLong => "is Preparing without a session for too long",
        RuleId::SessionStuck => "has a session active for too long",
        RuleId::EvseUnavailable => "is unavailable for too long",
        RuleId::ComponentProblem => "reports a component problem",
        RuleId::FirmwareFailed => "failed a firmware update",
        RuleId::SecurityEvent => "reports a security event",
        RuleId::CommandFailed => "keeps failing commands",
        RuleId::BillingReview => "has CDRs to review",
        RuleId::Noncompliant => "does not follow its charging limits",
        RuleId::PartnerDelivery => "keeps refusing what is pushed to it",
    };
    format!("{place} {what}")
}

impl Csms {
    /// Applies one finding (retrying on a concurrent change), then sends what it caused.
    pub(crate) async fn apply_finding(
        &self,
        cfg: &AlertConfig,
        ctx: &Ctx,
        f: Finding,
    ) -> Result<(), StoreError> {
        let s = settings(cfg, f.rule, ctx);
        if !s.enabled {
            return Ok(());
        }
        let mut holds = f.holds;
        let mut severity = f.severity;
        let mut responsible = None;
        if let Some((vendor, code)) = &f.vendor_code {
            let vc = self
                .alert_records::<VendorCode>()
                .get(&ctx.tenant, &VendorCode::key(vendor, code))
                .await?;
            if let Some(vc) = vc {
                severity = Some(vc.value.severity);
                responsible = Some(vc.value.responsible.clone());
                if vc.value.severity == Severity::Info {
                    // Recorded on the timeline; no incident.
                    holds = Some(false);
                }
            }
        }
        let key = Condition::key(f.rule, &f.resource);
        let conds = self.alert_records::<Condition>();
        for attempt in 0..RETRIES {
            backoff(attempt).await;
            let read = conds.get(&ctx.tenant, &key).await?;
            if read.is_none() && holds == Some(false) {
                return Ok(());
            }
            let expected = Expected::from_read(&read);
            let mut c = match read {
                Some(v) => v.value,
                None => Condition::new(
                    ctx.tenant.clone(),
                    f.rule,
                    f.resource.clone(),
                    ctx.site_id.clone(),
                    f.at,
                ),
            };
            // A report older than the condition's last change (late, or delivered again) changes nothing.
            if holds.is_some() && f.at < c.since {
                return Ok(());
            }
            if holds.is_none() && c.hits.contains(&f.at) {
                return Ok(());
            }
            let before = c.clone();
            let actions = match holds {
                Some(h) => c.observe(h, f.at, f.detail.clone(), &s),
                None => c.occur(f.at, f.detail.clone(), &s),
            };
            if severity.is_some() {
                c.severity = severity;
                c.responsible.clone_from(&responsible);
            }
            if c == before && actions.is_empty() {
                return Ok(());
            }
            let mut plan = Plan::default();
            self.act(cfg, ctx, &s, &mut c, actions, &mut plan).await?;
            match self.commit(&c, expected, &plan).await {
                Err(StoreError::Conflict) => continue,
                Err(e) => return Err(e),
                Ok(()) => {
                    self.after_commit(cfg, ctx, plan).await;
                    return Ok(());
                }
            }
        }
        Err(StoreError::Conflict)
    }

    /// An incident (re)opened: its remedies start, its first notices go out, its targets are set.
    async fn triggered(
        &self,
        cfg: &AlertConfig,
        s: &RuleSettings,
        c: &Condition,
        i: &mut Incident,
        plan: &mut Plan,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        if !s.remedies.is_empty() && c.resource.charger().is_some() {
            i.remedy.check_at = Some(now);
            plan.remedies.push(i.id.clone());
        }
        plan.deliveries
            .extend(self.notices(i, NoticeKind::Triggered, now).await?);
        i.schedule(cfg.targets(i.severity));
        Ok(())
    }

    /// What the condition's actions do, added to `plan`.
    pub(crate) async fn act(
        &self,
        cfg: &AlertConfig,
        ctx: &Ctx,
        s: &RuleSettings,
        c: &mut Condition,
        actions: Vec<Action>,
        plan: &mut Plan,
    ) -> Result<(), StoreError> {
        let now = self.now();
        let incidents = self.alert_records::<Incident>();
        for a in actions {
            match a {
                Action::Open => {
                    if let Some(w) = self.window_covering(ctx, now).await? {
                        plan.planned.push(TimelineEntry::new(
                            c.resource.evse(),
                            0,
                            Signal::Planned {
                                window_id: w.id.clone(),
                                rule: c.rule.name().into(),
                                detail: c.detail.clone(),
                            },
                            None,
                            now,
                        ));
                        c.closed_by_hand(now);
                        c.resolved = None;
                        continue;
                    }
                    if self.inhibited(ctx, &c.resource).await? {
                        c.closed_by_hand(now);
                        c.resolved = None;
                        continue;
                    }
                    let mut i = Incident::open(
                        ctx.tenant.clone(),
                        time_ordered_id(now, rand::random()),
                        c.rule,
                        c.resource.clone(),
                        c.site_id.clone().or(ctx.site_id.clone()),
                        c.severity.unwrap_or(s.severity),
                        title(c.rule, &c.resource),
                        c.detail.clone(),
                        now,
                    );
                    i.responsible.clone_from(&c.responsible);
                    i.escalation.policy.clone_from(&s.policy);
                    self.triggered(cfg, s, c, &mut i, plan, now).await?;
                    c.opened(i.id.clone());
                    let ev = changed(&i, "opened", None);
                    plan.incidents.push((i, Expected::Absent, vec![ev]));
                }
                Action::Reopen(id) => {
                    let Some(read) = incidents.get(&ctx.tenant, &id).await? else {
                        c.incident = None;
                        continue;
                    };
                    let mut i = read.value;
                    i.reopen(c.detail.clone(), now);
                    self.triggered(cfg, s, c, &mut i, plan, now).await?;
                    let ev = changed(&i, "reopened", None);
                    plan.incidents
                        .push((i, Expected::Version(read.version), vec![ev]));
                }
                Action::Recur(id) => {
                    let Some(read) = incidents.get(&ctx.tenant, &id).await? else {
                        c.incident = None;
                        continue;
                    };
                    let mut i = read.value;
                    if !i.is_open() {
                        continue;
                    }
                    i.detail.clone_from(&c.detail);
                    i.log(now, EntryKind::Signal, c.detail.clone(), SYSTEM);
                    plan.incidents
                        .push((i, Expected::Version(read.version), Vec::new()));
                }
                Action::Resolve(id) => {
                    let Some(read) = incidents.get(&ctx.tenant, &id).await? else {
                        continue;
                    };
                    let mut i = read.value;
                    let text = match i.remedy.last {
                        Some((step, _)) if i.remedy.cleared_by.is_none() => {
                            i.remedy.cleared_by = Some(step);
                            metrics::counter!("cpms_incidents_remedied_total", "step" => step.name())
                                .increment(1);
                            format!("cleared after the remedy {}: {}", step.name(), c.detail)
                        }
                        _ => "the condition cleared".to_string(),
                    };
                    if !i.resolve(SYSTEM, text, now) {
                        continue;
                    }
                    plan.deliveries
                        .extend(self.notices(&mut i, NoticeKind::Resolved, now).await?);
                    let ev = changed(&i, "auto_resolved", None);
                    plan.incidents
                        .push((i, Expected::Version(read.version), vec![ev]));
                }
            }
        }
        Ok(())
    }

    /// Writes the condition with the incidents and deliveries of `plan` in one batch.
    pub(crate) async fn commit(
        &self,
        c: &Condition,
        expected: Expected,
        plan: &Plan,
    ) -> Result<(), StoreError> {
        let mut writes = vec![Documents::<Condition>::write_of(c, expected)?];
        for (i, e, evs) in &plan.incidents {
            let mut w = Documents::<Incident>::write_of(i, *e)?;
            w.events.clone_from(evs);
            writes.push(w);
        }
        for d in &plan.deliveries {
            writes.push(Documents::<Delivery>::write_of(d, Expected::Absent)?);
        }
        self.write_all(writes).await
    }

    pub(crate) async fn write_all(&self, writes: Vec<DocWrite>) -> Result<(), StoreError> {
        self.ports.docs.write(&writes).await.map(|_| ())
    }

    /// What a committed batch still has to do: send its notices, start remedies, record planned time.
    pub(crate) async fn after_commit(&self, cfg: &AlertConfig, ctx: &Ctx, plan: Plan) {
        // Notices and remedies at once (each is durable already: the sweep retries what fails).
        let notices = futures_util::future::join_all(
            plan.deliveries.into_iter().map(|d| self.deliver_notice(d)),
        );
        let remedies = futures_util::future::join_all(plan.remedies.iter().map(|id| async move {
            if let Err(e) = self.run_remedy(cfg, &ctx.tenant, id).await {
                tracing::warn!(error = %e, incident = %id, "a remedy could not start; the sweep retries it");
            }
        }));
        futures_util::future::join(notices, remedies).await;
        if !plan.planned.is_empty()
            && let Ok(id) = ChargerId::new(&ctx.charger_id)
            && let Err(e) = self.record_timeline(&ctx.tenant, &id, plan.planned).await
        {
            tracing::warn!(error = %e, "planned downtime could not be put on the timeline");
        }
    }

    /// A maintenance window on the charger or its site that is on at `now`.
    pub(crate) async fn window_covering(
        &self,
        ctx: &Ctx,
        now: DateTime<Utc>,
    ) -> Result<Option<MaintenanceWindow>, StoreError> {
        let mut scopes = Vec::new();
        if !ctx.charger_id.is_empty() {
            scopes.push(WindowScope::Charger {
                charger_id: ctx.charger_id.clone(),
            });
        }
        if let Some(s) = &ctx.site_id {
            scopes.push(WindowScope::Site { site_id: s.clone() });
        }
        let windows = self.alert_records::<MaintenanceWindow>();
        for scope in scopes {
            let q = Documents::<MaintenanceWindow>::by_index(
                cpms_ports::alert_records::ALERTS_BY,
                windows_of(&scope),
                PageRequest::first(100),
            );
            let found = windows.query(&ctx.tenant, &q).await?;
            if let Some(w) = found.items.into_iter().find(|w| w.value.active_at(now)) {
                return Ok(Some(w.value));
            }
        }
        Ok(None)
    }

    /// Whether an alert about `r` is inhibited: a connector's or component's while its charger is
    /// offline (the charger's, or its site's, incident covers it).
    async fn inhibited(&self, ctx: &Ctx, r: &Resource) -> Result<bool, StoreError> {
        if !matches!(r, Resource::Connector { .. } | Resource::Component { .. }) {
            return Ok(false);
        }
        let w = self
            .alert_records::<Watch>()
            .get(&ctx.tenant, &ctx.charger_id)
            .await?;
        Ok(w.is_some_and(|w| w.value.offline))
    }
}
