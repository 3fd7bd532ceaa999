//! Smart charging: for a site with an electrical tree, the connectors that charge become demands, the
//! domain allocator shares the site's capacity among them, the allocation is stored (a conditional write
//! on the site's allocation: one computation per site wins, a concurrent one starts over on fresh
//! state), and each controllable charger whose limit moved by more than the site's threshold gets a
//! TxProfile through the command path. The CSMS keeps what it believes installed per charger; a charger
//! that refuses a profile, or draws above its limit for several readings, is reserved at its rating (or
//! draw) from then on and reported with `charger.noncompliant.v1`. At every connect and boot a charger
//! gets a TxDefaultProfile with a fail-safe share: what keeps the site within its limits if every EVSE
//! charged at once without the CSMS.

use chrono::{DateTime, Duration, Utc};
use cpms_domain::allocation::{
    self, Allocation, ChargerProfiles, ConnectorState, Demand, InstalledProfile, ProfileState,
    ResolvedTree, Settings, SiteAllocation, SiteConditions, SiteGrid, SiteLoadDay,
};
use cpms_domain::command::{
    ChargingProfile, Command, CommandRequest, ProfileKind, ProfilePurpose, RateUnit, SchedulePeriod,
};
use cpms_domain::events::{DomainEvent, EventBody};
use cpms_domain::{ChargerId, TenantId};
use cpms_ports::records::{ALLOCATIONS_DUE, DUE};
use cpms_ports::{Documents, Expected, PageRequest, StoreError, Versioned};
use rust_decimal::Decimal;

use super::commands::SubmitError;
use super::{RETRIES, backoff};
use crate::Csms;

/// Who smart charging's commands are from.
pub const ACTOR: &str = "smart-charging";
/// Id of the TxProfile of EVSE `e`: this plus `e`.
pub const TX_PROFILE_BASE: i32 = 900_000;
/// Stack level of smart charging's TxProfiles.
pub const TX_STACK_LEVEL: u32 = 2;
/// Id of the fail-safe TxDefaultProfile.
pub const FAILSAFE_PROFILE_ID: i32 = 899_999;
/// Stack level of the fail-safe TxDefaultProfile.
pub const FAILSAFE_STACK_LEVEL: u32 = 1;
/// A car drawing more than its limit plus this (A) is over it.
const OVER_TOLERANCE_A: i64 = 2;
/// Readings over the limit in a row before a charger counts as ignoring it...
const OVER_READINGS: u32 = 2;
/// ...spanning at least this many seconds of the charger's clock.
const OVER_FOR_S: i64 = 60;
/// A profile sent without an answer for this long is sent again.
const RESEND_AFTER_S: i64 = 120;
/// A charger that refused a profile is sent one again after this long.
const PROBE_AFTER_S: i64 = 900;
/// Chargers of a site read at once for a computation.
const READS_AT_ONCE: usize = 16;
/// Seconds a charger has to answer a profile.
const PROFILE_TIMEOUT_S: u32 = 30;

/// Where a demand came from: what delivery needs to reach it.
#[derive(Debug, Clone)]
pub struct DemandSource {
    /// Its charger is connected.
    pub online: bool,
    /// The OCPP transaction id.
    pub transaction: String,
    /// A DC EVSE (profiles in W).
    pub dc: bool,
    /// The power it draws now, in W (its latest meter value).
    pub measured_w: Option<Decimal>,
}

/// A charger as a computation reads it: its record, running sessions and profiles.
type ChargerState = (
    Option<Versioned<cpms_domain::charger::Charger>>,
    Vec<cpms_domain::session::Session>,
    Option<Versioned<ChargerProfiles>>,
);

/// What a computation sends now and what waits.
#[derive(Debug, Default)]
struct Plan {
    /// Sent now, by demand: lower limits (all the changes, when nothing has to wait).
    lower: Vec<usize>,
    /// Higher limits held back until the lower ones are accepted.
    held: usize,
    /// Lower limits sent before and not answered yet: (charger, command, flagged to release).
    unanswered: Vec<(ChargerId, String, bool)>,
}

/// What a site's chargers ask for now, as read for one computation.
#[derive(Debug, Default)]
struct SiteDemands {
    demands: Vec<Demand>,
    sources: Vec<DemandSource>,
    /// What smart charging knew of each charger.
    profiles: std::collections::HashMap<ChargerId, ChargerProfiles>,
    /// When an offline charger's share falls free, or a session's limit changes, next.
    next_demand_change: Option<DateTime<Utc>>,
}

/// An allocation with what it was computed from.
#[derive(Debug, Clone)]
pub struct Computed {
    /// The demands.
    pub demands: Vec<Demand>,
    /// Per demand, where it came from (empty for a preview).
    pub sources: Vec<DemandSource>,
    /// The result.
    pub allocation: Allocation,
    /// The next change of the site's limits.
    pub next_change: Option<DateTime<Utc>>,
    /// The site's rules.
    pub policy: cpms_domain::allocation::SitePolicy,
    /// What smart charging knew of each charger when the demands were read.
    pub profiles: std::collections::HashMap<ChargerId, ChargerProfiles>,
}

fn tz_of(site: Option<&cpms_domain::site::Site>) -> chrono_tz::Tz {
    site.and_then(|s| s.time_zone.parse().ok())
        .unwrap_or(chrono_tz::UTC)
}

impl Csms {
    /// Reads a charger's smart-charging record (a new one when it has none), lets `change` change it
    /// and name the events the change implies (`None`: nothing to write), and writes it with its
    /// version; retried on a concurrent change.
    async fn change_profiles(
        &self,
        tenant: &TenantId,
        charger: &ChargerId,
        mut change: impl FnMut(&mut ChargerProfiles) -> Option<Vec<DomainEvent>>,
    ) -> Result<(), StoreError> {
        let now = self.now();
        for attempt in 0..RETRIES {
            backoff(attempt).await;
            let read = self
                .charger_profiles()
                .get(tenant, charger.as_str())
                .await?;
            let mut p = read
                .as_ref()
                .map(|v| v.value.clone())
                .unwrap_or_else(|| ChargerProfiles::new(tenant.clone(), charger.clone(), now));
            let Some(events) = change(&mut p) else {
                return Ok(());
            };
            p.updated_at = now;
            let mut w = Documents::write_of(&p, expected(read.as_ref()))?;
            w.events = events;
            match self.ports.docs.write(&[w]).await {
                Ok(_) => return Ok(()),
                Err(StoreError::Conflict) => continue,
                Err(e) => return Err(e),
            }
        }
        Err(StoreError::Conflict)
    }

    pub(crate) fn site_grids(&self) -> Documents<SiteGrid> {
        self.records()
    }

    pub(crate) fn site_conditions(&self) -> Documents<SiteConditions> {
        self.records()
    }

    pub(crate) fn site_allocations(&self) -> Documents<SiteAllocation> {
        self.records()
    }

    pub(crate) fn charger_profiles(&self) -> Documents<ChargerProfiles> {
        self.records()
    }

    /// The site whose tree smart charging uses for a charger, when it has one.
    pub async fn smart_site_of(
        &self,
        tenant: &TenantId,
        charger: &ChargerId,
    ) -> Result<Option<String>, StoreError> {
        let Some(c) = self.ports.chargers.get(charger).await? else {
            return Ok(None);
        };
        if &c.value.tenant != tenant {
            return Ok(None);
        }
        let Some(site) = c.value.site_id else {
            return Ok(None);
        };
        Ok(self
            .site_grids()
            .get(tenant, &site)
            .await?
            .map(|g| g.value.site_id))
    }

    fn allocation_settings(grid: &SiteGrid) -> Settings {
        Settings {
            min_current_a: grid.policy.min_current_a,
            ..Settings::default()
        }
    }

    /// A charger's record, running sessions and profiles, read together.
    async fn charger_state<'a>(
        &self,
        tenant: &TenantId,
        charger: &'a ChargerId,
    ) -> Result<(&'a ChargerId, ChargerState), StoreError> {
        let docs = self.charger_profiles();
        let read = tokio::try_join!(
            self.ports.chargers.get(charger),
            self.ports.sessions.active(tenant, charger),
            docs.get(tenant, charger.as_str()),
        )?;
        Ok((charger, read))
    }

    /// The demands of a site now: one per running session on a charger of its tree. Also counts each
    /// new reading against the limit the charger was given, and marks (with an event) a charger that
    /// keeps drawing above it.
    async fn site_demands(
        &self,
        tenant: &TenantId,
        tree: &ResolvedTree,
        policy: &cpms_domain::allocation::SitePolicy,
        now: DateTime<Utc>,
    ) -> Result<SiteDemands, StoreError> {
        let mut demands = Vec::new();
        let mut sources = Vec::new();
        let mut known = std::collections::HashMap::new();
        let mut next_demand_change: Option<DateTime<Utc>> = None;
        let gone_after = (policy.offline_reserved_for_s > 0)
            .then(|| Duration::seconds(i64::from(policy.offline_reserved_for_s)));
        let mut chargers: Vec<&ChargerId> = tree.chargers().collect();
        chargers.sort();
        // The reads of a charger (its record, sessions and profiles) and of the chargers go out
        // together: a site's computation waits for one round of reads, not one per item.
        let mut reads = Vec::with_capacity(chargers.len());
        for chunk in chargers.chunks(READS_AT_ONCE) {
            let each = chunk.iter().map(|&c| self.charger_state(tenant, c));
            reads.extend(futures_util::future::join_all(each).await);
        }
        for read in reads {
            let (charger, (c, sessions, mut cp)) = read?;
            let Some(c) = c else {
                continue;
            };
            if &c.value.tenant != tenant {
                continue;
            }
            let online = c.value.connection.is_some();
            // Offline for longer than the site keeps its share: declared gone, it holds nothing.
            if !online && let (Some(after), Some(seen)) = (gone_after, c.value.last_seen) {
                let gone_at = seen + after;
                if gone_at <= now {
                    continue;
                }
                next_demand_change = min_opt(next_demand_change, Some(gone_at));
            }
            if sessions.is_empty() {
                continue;
            }
            let mut profiles = cp
                .as_ref()
                .map(|v| v.value.clone())
                .unwrap_or_else(|| ChargerProfiles::new(tenant.clone(), charger.clone(), now));
            let mut flagged = None;
            for s in &sessions {
                let Some(evse) = s.evse_id else {
                    continue;
                };
                let given = profiles
                    .installed_for(evse, ProfilePurpose::Tx)
                    .filter(|p| p.profile.transaction_id.as_deref() == Some(&s.id.transaction))
                    .filter(|p| p.state == ProfileState::Accepted)
                    .map(|p| p.limit_a);
                if let (Some(limit), Some(drawn), true) =
                    (given, s.latest.current_a, profiles.controllable())
                    && profiles.observe(
                        evse,
                        s.sample_count,
                        s.latest.at.unwrap_or(now),
                        drawn,
                        limit,
                        Decimal::from(OVER_TOLERANCE_A),
                        OVER_READINGS,
                        OVER_FOR_S,
                    )
                {
                    profiles.ignores_limits = true;
                    flagged = Some((evse, drawn, limit));
                }
                let needs = profiles.needs.iter().find(|n| n.evse_id == evse);
                let external_a = profiles
                    .external
                    .iter()
                    .filter(|l| l.evse_id == evse || l.evse_id == 0)
                    .filter_map(|l| l.limit_a)
                    .min();
                let external_w = profiles
                    .external
                    .iter()
                    .filter(|l| l.evse_id == evse || l.evse_id == 0)
                    .filter_map(|l| l.limit_w)
                    .min();
                // Limits set on this session from outside the site (the lowest in force of each
                // unit counts); the site is computed again when one changes.
                let mut session_max_a = None;
                let mut session_max_w = None;
                for l in profiles
                    .session_limits
                    .iter()
                    .filter(|l| l.evse_id == evse && l.transaction_id == s.id.transaction)
                {
                    let slot = match l.rate_unit {
                        cpms_domain::command::RateUnit::A => &mut session_max_a,
                        cpms_domain::command::RateUnit::W => &mut session_max_w,
                    };
                    *slot = min_opt(*slot, l.limit_at(now));
                    next_demand_change = min_opt(next_demand_change, l.next_change(now));
                }
                let car_max_a = min_opt(needs.and_then(|n| n.max_current_a), external_a);
                let car_max_w = min_opt(needs.and_then(|n| n.max_power_w), external_w);
                // A driver leaving within two hours goes before the others.
                let soon = needs
                    .and_then(|n| n.departure)
                    .is_some_and(|d| d - now <= Duration::hours(2));
                let this_tx = profiles
                    .installed_for(evse, ProfilePurpose::Tx)
                    .filter(|p| p.profile.transaction_id.as_deref() == Some(&s.id.transaction));
                let previous = this_tx.map(|p| p.limit_a);
                // What it may be applying: an unanswered lower limit does not count yet.
                let may_apply = this_tx.and_then(InstalledProfile::may_apply_a);
                let node = tree.evse(charger, evse);
                let dc = node.is_some_and(|i| tree.nodes[i].node.dc_efficiency.is_some());
                // A charger that refused a profile is tried again now and then: it may take one now.
                let probe = profiles.refuses_profiles
                    && !profiles.ignores_limits
                    && profiles
                        .installed
                        .iter()
                        .filter(|p| p.state == ProfileState::Rejected)
                        .map(|p| p.sent_at)
                        .max()
                        .is_none_or(|t| now - t > Duration::seconds(PROBE_AFTER_S));
                demands.push(Demand {
                    charger: charger.clone(),
                    evse_id: evse,
                    session_id: Some(s.id.to_string()),
                    controllable: online && (profiles.controllable() || probe),
                    priority: policy.priority_of(
                        s.id_token.as_ref().map(|t| t.value.as_str()),
                        s.auth.as_ref().and_then(|a| a.group_id.as_deref()),
                    ) + i32::from(soon),
                    arrived_at: s.started_at.unwrap_or(s.created_at),
                    phases_in_use: s.latest.phases_drawing(),
                    car_max_a,
                    car_max_w,
                    session_max_a,
                    session_max_w,
                    car_min_a: needs.and_then(|n| n.min_current_a),
                    measured_a: s.latest.current_a,
                    previous_limit_a: previous,
                    // Offline: its last limit stays reserved (or its rating, when it never had one).
                    fixed_a: if online { None } else { may_apply },
                });
                sources.push(DemandSource {
                    online,
                    transaction: s.id.transaction.clone(),
                    dc,
                    measured_w: s.latest.power_w,
                });
            }
            if profiles.over_limit
                != cp
                    .as_ref()
                    .map(|v| v.value.over_limit.clone())
                    .unwrap_or_default()
                || flagged.is_some()
            {
                profiles.updated_at = now;
                let mut w = Documents::write_of(&profiles, expected(cp.as_ref()))?;
                if let Some((evse, drawn, limit)) = flagged {
                    w.events.push(noncompliant(
                        &profiles,
                        Some(evse),
                        "limit_ignored",
                        format!(
                            "EVSE {evse} drew {drawn} A for {OVER_READINGS} readings over {OVER_FOR_S} s or more while limited to {limit} A"
                        ),
                        now,
                    ));
                }
                match self.ports.docs.write(&[w]).await {
                    Ok(_) | Err(StoreError::Conflict) => {}
                    Err(e) => return Err(e),
                }
                cp = None;
            }
            drop(cp);
            known.insert(charger.clone(), profiles);
        }
        Ok(SiteDemands {
            demands,
            sources,
            profiles: known,
            next_demand_change,
        })
    }

    /// Allocates a site for `demands` (a preview), or for its running sessions, at `at`.
    pub async fn compute_site(
        &self,
        tenant: &TenantId,
        site_id: &str,
        demands: Option<Vec<Demand>>,
        at: DateTime<Utc>,
    ) -> Result<Option<Computed>, StoreError> {
        let (grids, sites, conds) = (
            self.site_grids(),
            self.records::<cpms_domain::site::Site>(),
            self.site_conditions(),
        );
        let (grid, site, conditions) = tokio::try_join!(
            grids.get(tenant, site_id),
            sites.get(tenant, site_id),
            conds.get(tenant, site_id),
        )?;
        let Some(grid) = grid else {
            return Ok(None);
        };
        let grid = grid.value;
        let Ok(tree) = grid.tree.resolve() else {
            return Ok(None);
        };
        let conditions = conditions.map(|c| c.value.conditions).unwrap_or_default();
        let limits = allocation::effective(
            &tree,
            &grid.policy,
            &conditions,
            tz_of(site.as_ref().map(|s| &s.value)),
            at,
        );
        let read = match demands {
            Some(demands) => SiteDemands {
                demands,
                ..SiteDemands::default()
            },
            None => self.site_demands(tenant, &tree, &grid.policy, at).await?,
        };
        let SiteDemands {
            demands,
            sources,
            profiles,
            next_demand_change,
        } = read;
        let allocation =
            allocation::allocate(&tree, &limits, &demands, &Self::allocation_settings(&grid));
        Ok(Some(Computed {
            demands,
            sources,
            allocation,
            // A schedule boundary, or an offline charger's share falling free.
            next_change: min_opt(limits.next_change, next_demand_change),
            policy: grid.policy,
            profiles,
        }))
    }

    /// Computes a site's allocation, stores it and sends the limits that changed. `None` when the site
    /// has no (valid) tree.
    pub async fn recompute_site(
        &self,
        tenant: &TenantId,
        site_id: &str,
        trigger: &str,
    ) -> Result<Option<SiteAllocation>, StoreError> {
        for attempt in 0..RETRIES {
            backoff(attempt).await;
            let before = self.site_allocations().get(tenant, site_id).await?;
            let now = self.now();
            let Some(computed) = self.compute_site(tenant, site_id, None, now).await? else {
                return Ok(None);
            };
            // A controllable car above its limit is looked at again soon: a steady draw sends no event.
            let over = computed
                .demands
                .iter()
                .zip(&computed.allocation.connectors)
                .any(|(d, c)| {
                    d.controllable
                        && d.measured_a.is_some_and(|m| {
                            m > d.previous_limit_a.unwrap_or(c.limit_a)
                                + Decimal::from(OVER_TOLERANCE_A)
                        })
                });
            let recheck_s = computed.policy.recheck_s;
            let threshold = computed.policy.resend_threshold_a;
            let plan = Self::plan(&computed, threshold, now);
            // Held limits go out on the lower ones' answers; should those never come, the site is
            // looked at again when they time out.
            let recheck = (over || plan.held > 0).then(|| {
                let s = if over { recheck_s } else { PROFILE_TIMEOUT_S };
                now + Duration::seconds(i64::from(s))
            });
            let next_change = min_opt(computed.next_change, recheck);
            let record = SiteAllocation {
                tenant: tenant.clone(),
                site_id: site_id.to_string(),
                computed_at: now,
                trigger: trigger.to_string(),
                allocation: computed.allocation.clone(),
                next_change,
            };
            match self
                .site_allocations()
                .put(&record, expected(before.as_ref()))
                .await
            {
                Ok(_) => {}
                Err(StoreError::Conflict) => continue,
                Err(e) => return Err(e),
            }
            self.deliver(tenant, &computed, &plan, now).await?;
            // After the profiles: the history is not on the way to the chargers.
            self.record_load(tenant, site_id, &computed, now).await?;
            return Ok(Some(record));
        }
        Err(StoreError::Conflict)
    }

    /// Adds what the site's chargers draw now to its load history, when it changed.
    async fn record_load(
        &self,
        tenant: &TenantId,
        site_id: &str,
        c: &Computed,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let mut kw = Decimal::ZERO;
        let mut current_a = [Decimal::ZERO; 3];
        for ((d, src), r) in c
            .demands
            .iter()
            .zip(&c.sources)
            .zip(&c.allocation.connectors)
        {
            kw += src.measured_w.unwrap_or_default() / Decimal::from(1000);
            if let Some(a) = d.measured_a {
                for p in &r.grid_phases {
                    current_a[p.index()] += a;
                }
            }
        }
        let step = cpms_domain::allocation::LoadStep {
            at: now,
            kw: kw.round_dp(3),
            current_a,
        };
        let docs = self.records::<SiteLoadDay>();
        let day = now.date_naive();
        for attempt in 0..RETRIES {
            backoff(attempt).await;
            let read = docs.get(tenant, &SiteLoadDay::key(site_id, day)).await?;
            let mut d = read
                .as_ref()
                .map(|v| v.value.clone())
                .unwrap_or(SiteLoadDay {
                    tenant: tenant.clone(),
                    site_id: site_id.to_string(),
                    day,
                    steps: Vec::new(),
                });
            // A day starts with nothing recorded: a site that draws nothing writes nothing.
            if d.steps.is_empty() && kw.is_zero() && current_a.iter().all(Decimal::is_zero) {
                return Ok(());
            }
            if !d.record(step.clone()) {
                return Ok(());
            }
            match docs.put(&d, expected(read.as_ref())).await {
                Ok(_) => return Ok(()),
                Err(StoreError::Conflict) => continue,
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// The load steps of a site between `from` and `to` (the step in force at `from` first), read day
    /// by day (at most 62 days).
    pub async fn site_load(
        &self,
        tenant: &TenantId,
        site_id: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<cpms_domain::allocation::LoadStep>, StoreError> {
        let docs = self.records::<SiteLoadDay>();
        let mut steps = Vec::new();
        // The day before too: the step in force at `from` may be older.
        let mut day = from.date_naive() - chrono::Days::new(1);
        let last = to.date_naive();
        let mut n = 0;
        while day <= last && n < 64 {
            if let Some(d) = docs.get(tenant, &SiteLoadDay::key(site_id, day)).await? {
                steps.extend(d.value.steps);
            }
            day = day + chrono::Days::new(1);
            n += 1;
        }
        steps.sort_by_key(|s| s.at);
        let first = steps.iter().rposition(|s| s.at <= from).unwrap_or(0);
        Ok(steps
            .split_off(first)
            .into_iter()
            .filter(|s| s.at < to)
            .collect())
    }

    /// What a computation sends: each controllable, connected charger's TxProfile of its new limit,
    /// where it moved (a lower limit always; a higher one by more than `threshold`; one never sent,
    /// or unanswered for too long, again). Lower limits go first: while any lower limit on the site is
    /// unanswered, the higher ones wait (the power they take must be freed first), and the lower
    /// ones' answers have the site computed again.
    fn plan(c: &Computed, threshold: Decimal, now: DateTime<Utc>) -> Plan {
        let resend = Duration::seconds(RESEND_AFTER_S);
        let mut plan = Plan::default();
        let mut rises = Vec::new();
        for (i, (d, src)) in c.demands.iter().zip(&c.sources).enumerate() {
            let result = &c.allocation.connectors[i];
            if !src.online || !d.controllable || result.state == ConnectorState::Reserved {
                continue;
            }
            let limit = result.limit_a;
            let cp = c.profiles.get(&d.charger);
            let installed = cp
                .and_then(|v| v.installed_for(d.evse_id, ProfilePurpose::Tx))
                .filter(|p| p.profile.transaction_id.as_deref() == Some(&src.transaction));
            if let Some(p) = installed
                && p.lowering_unanswered(now, resend)
            {
                plan.unanswered
                    .push((d.charger.clone(), p.command_id.clone(), p.releases));
            }
            let due = match installed {
                None => true,
                Some(p) if p.state == ProfileState::Sent => {
                    limit < p.limit_a || now - p.sent_at > resend
                }
                Some(p) => limit < p.limit_a || limit - p.limit_a > threshold,
            };
            if !due {
                continue;
            }
            // What it may apply now: this transaction's profile, else its fail-safe default.
            let in_force = installed
                .and_then(InstalledProfile::may_apply_a)
                .or_else(|| {
                    cp.and_then(|v| {
                        [d.evse_id, 0].iter().find_map(|&e| {
                            v.installed_for(e, ProfilePurpose::TxDefault)
                                .filter(|p| p.state == ProfileState::Accepted)
                                .map(|p| p.limit_a)
                        })
                    })
                });
            if in_force.is_none_or(|f| limit <= f) {
                plan.lower.push(i);
            } else {
                rises.push(i);
            }
        }
        let waiting = !plan.lower.is_empty() || !plan.unanswered.is_empty();
        if waiting && !rises.is_empty() {
            plan.held = rises.len();
        } else {
            plan.lower.append(&mut rises);
        }
        plan
    }

    /// Sends what [`Self::plan`] planned. The chargers are handled at once (their writes share
    /// commits); a charger's own EVSEs one after the other.
    async fn deliver(
        &self,
        tenant: &TenantId,
        c: &Computed,
        plan: &Plan,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let releases = plan.held > 0;
        let mut by_charger: std::collections::BTreeMap<&ChargerId, Vec<usize>> =
            std::collections::BTreeMap::new();
        for &i in &plan.lower {
            by_charger.entry(&c.demands[i].charger).or_default().push(i);
        }
        let jobs = by_charger.into_values().map(|steps| async move {
            for i in steps {
                self.deliver_one(tenant, c, i, releases).await?;
            }
            Ok::<(), StoreError>(())
        });
        for r in futures_util::future::join_all(jobs).await {
            r?;
        }
        // Lower limits sent before, still unanswered, now hold higher ones back: their answers are
        // to bring the site back.
        if releases {
            for (charger, command_id, flagged) in &plan.unanswered {
                if *flagged {
                    continue;
                }
                self.change_profiles(tenant, charger, |p| {
                    let x = p
                        .installed
                        .iter_mut()
                        .find(|x| &x.command_id == command_id)?;
                    (!x.releases).then(|| {
                        x.releases = true;
                        Vec::new()
                    })
                })
                .await?;
            }
            tracing::info!(tenant = %tenant, held = plan.held, at = %now, "higher limits wait for lower ones to be accepted");
        }
        Ok(())
    }

    async fn deliver_one(
        &self,
        tenant: &TenantId,
        c: &Computed,
        i: usize,
        releases: bool,
    ) -> Result<(), StoreError> {
        let (d, src, result) = (&c.demands[i], &c.sources[i], &c.allocation.connectors[i]);
        let limit = result.limit_a;
        let caps = c
            .profiles
            .get(&d.charger)
            .and_then(|v| v.capabilities.clone());
        let in_watts = src.dc || caps.as_ref().is_some_and(|c| c.unit() == "W");
        let (unit, value) = if in_watts {
            (RateUnit::W, result.limit_w)
        } else {
            (RateUnit::A, limit)
        };
        let stack_level = caps
            .as_ref()
            .map_or(TX_STACK_LEVEL, |c| c.stack_level(TX_STACK_LEVEL));
        let profile = ChargingProfile {
            id: TX_PROFILE_BASE + d.evse_id as i32,
            stack_level,
            purpose: ProfilePurpose::Tx,
            kind: ProfileKind::Relative,
            recurrency: None,
            valid_from: None,
            valid_to: None,
            transaction_id: Some(src.transaction.clone()),
            start: None,
            duration_s: None,
            rate_unit: unit,
            periods: vec![SchedulePeriod {
                start_s: 0,
                limit: value,
                phases: (!src.dc).then_some(result.phases),
            }],
            min_rate: None,
        };
        self.send_profile(tenant, &d.charger, d.evse_id, profile, limit, releases)
            .await
    }

    /// Sends a profile through the command path and records it as sent.
    async fn send_profile(
        &self,
        tenant: &TenantId,
        charger: &ChargerId,
        evse_id: u32,
        profile: ChargingProfile,
        limit_a: Decimal,
        releases: bool,
    ) -> Result<(), StoreError> {
        let request = CommandRequest::SetChargingProfile {
            evse_id,
            profile: profile.clone(),
        };
        let cmd = match self
            .submit_command(tenant, charger.as_str(), request, PROFILE_TIMEOUT_S, ACTOR)
            .await
        {
            Ok(cmd) => cmd,
            Err(SubmitError::Store(e)) => return Err(e),
            Err(e) => {
                tracing::warn!(charger = %charger, error = %e, "charging profile not sent");
                return Ok(());
            }
        };
        let now = self.now();
        let state = match cmd.state {
            cpms_domain::command::CommandState::Answered
                if cmd.status.as_deref() == Some("Accepted") =>
            {
                ProfileState::Accepted
            }
            s if s.is_open() => ProfileState::Sent,
            _ => ProfileState::Rejected,
        };
        self.change_profiles(tenant, charger, |p| {
            p.sent(InstalledProfile {
                evse_id,
                profile: profile.clone(),
                state,
                command_id: cmd.id.clone(),
                sent_at: now,
                limit_a,
                replaces_a: None,
                releases,
            });
            Some(Vec::new())
        })
        .await?;
        // The charger may have answered before the profile was recorded: its outcome was not found
        // then, so it is applied now (applying it twice changes nothing).
        let now_cmd = self.records::<Command>().get(tenant, &cmd.id).await?;
        if let Some(c) = now_cmd.filter(|c| !c.value.state.is_open()) {
            self.profile_outcome(&c.value).await?;
        }
        Ok(())
    }

    /// A profile that never reached the charger (it went offline, or reconnected, first) is no
    /// refusal: it is forgotten, to be sent again (a default at the next boot, a transaction's at the
    /// next computation), and held limits waiting for it are looked at again.
    async fn profile_undelivered(&self, cmd: &Command) -> Result<(), StoreError> {
        let now = self.now();
        self.change_profiles(&cmd.tenant, &cmd.charger, |p| {
            let i = p.installed.iter().position(|x| x.command_id == cmd.id)?;
            let gone = p.installed.remove(i);
            let events = gone
                .releases
                .then(|| profile_answered(cmd, gone.evse_id, now));
            Some(events.into_iter().collect())
        })
        .await
    }

    /// A smart-charging command ended: the profile it carried is accepted or refused. A refusal makes
    /// the charger uncontrollable (reserved at its rating) and is reported (`charger.noncompliant.v1`,
    /// which also brings the smart-charging consumer back to compute the site again).
    pub(crate) async fn profile_outcome(&self, cmd: &Command) -> Result<(), StoreError> {
        if cmd.created_by != ACTOR {
            return Ok(());
        }
        if matches!(cmd.action.as_str(), "GetConfiguration" | "GetVariables") {
            return self.capabilities_read(cmd).await;
        }
        if cmd.action != "SetChargingProfile" {
            return Ok(());
        }
        if cmd.state == cpms_domain::command::CommandState::Failed {
            return self.profile_undelivered(cmd).await;
        }
        let accepted = cmd.state == cpms_domain::command::CommandState::Answered
            && cmd.status.as_deref() == Some("Accepted");
        let now = self.now();
        // Only a refusal asks whether the transaction still runs.
        let active: Vec<String> = if accepted {
            Vec::new()
        } else {
            self.ports
                .sessions
                .active(&cmd.tenant, &cmd.charger)
                .await?
                .into_iter()
                .map(|s| s.id.transaction)
                .collect()
        };
        self.change_profiles(&cmd.tenant, &cmd.charger, |p| {
            let i = p.installed.iter().position(|x| x.command_id == cmd.id)?;
            p.installed[i].state = if accepted {
                ProfileState::Accepted
            } else {
                ProfileState::Rejected
            };
            let tx = p.installed[i].profile.purpose == ProfilePurpose::Tx;
            let (releases, evse_id) = (p.installed[i].releases, p.installed[i].evse_id);
            // A transaction profile refused after its transaction ended is no refusal of profiles.
            let stale = !accepted
                && tx
                && !active
                    .iter()
                    .any(|t| Some(t.as_str()) == p.installed[i].profile.transaction_id.as_deref());
            let mut events = Vec::new();
            // A transaction profile may cross the transaction's end on the wire: one refusal of one
            // is not yet a charger that refuses profiles; two in a row are (one of a default is).
            if accepted {
                p.refuses_profiles = false;
                p.rejections = 0;
            } else if stale {
                p.installed.remove(i);
            } else if tx && p.rejections == 0 {
                p.rejections = 1;
            } else if !p.refuses_profiles {
                p.rejections += 1;
                p.refuses_profiles = true;
                let why = cmd
                    .status
                    .clone()
                    .or_else(|| cmd.error.as_ref().map(|e| e.code.clone()))
                    .or_else(|| cmd.reason.clone())
                    .unwrap_or_default();
                events.push(noncompliant(
                    p,
                    Some(p.installed[i].evse_id),
                    "profile_rejected",
                    format!("the charger answered {why} to a charging profile"),
                    now,
                ));
            }
            // Higher limits on the site waited for this answer.
            if releases && events.is_empty() {
                events.push(profile_answered(cmd, evse_id, now));
            }
            Some(events)
        })
        .await
    }

    /// Asks a charger what it can do with charging profiles (at its boot); the answer is kept by
    /// [`Self::capabilities_read`].
    pub async fn request_capabilities(
        &self,
        tenant: &TenantId,
        charger: &ChargerId,
    ) -> Result<(), StoreError> {
        let Some(c) = self.ports.chargers.get(charger).await? else {
            return Ok(());
        };
        let keys: &[&str] = match c.value.connection.as_ref().map(|c| c.version) {
            Some(cpms_domain::OcppVersion::V16) => &[
                "SupportedFeatureProfiles",
                "ChargeProfileMaxStackLevel",
                "ChargingScheduleAllowedChargingRateUnit",
                "ChargingScheduleMaxPeriods",
            ],
            Some(cpms_domain::OcppVersion::V201) => &[
                "SmartChargingCtrlr.Enabled",
                "SmartChargingCtrlr.ProfileStackLevel",
                "SmartChargingCtrlr.RateUnit",
                "SmartChargingCtrlr.PeriodsPerSchedule",
            ],
            None => return Ok(()),
        };
        let request = CommandRequest::GetConfiguration {
            keys: keys.iter().map(|k| k.to_string()).collect(),
        };
        match self
            .submit_command(tenant, charger.as_str(), request, PROFILE_TIMEOUT_S, ACTOR)
            .await
        {
            Ok(_) => Ok(()),
            Err(SubmitError::Store(e)) => Err(e),
            Err(e) => {
                tracing::warn!(charger = %charger, error = %e, "smart-charging capabilities not asked");
                Ok(())
            }
        }
    }

    /// A charger answered what it can do with profiles: kept; one without smart charging is reserved
    /// at its rating from then on and reported.
    async fn capabilities_read(&self, cmd: &Command) -> Result<(), StoreError> {
        let Some(answer) = cmd.result.as_ref() else {
            return Ok(());
        };
        let now = self.now();
        let caps = cpms_domain::allocation::ProfileCapabilities::from_answer(answer, now);
        self.change_profiles(&cmd.tenant, &cmd.charger, |p| {
            let newly_unable =
                !caps.smart_charging && p.capabilities.as_ref().is_none_or(|c| c.smart_charging);
            p.capabilities = Some(caps.clone());
            let mut events = Vec::new();
            if newly_unable {
                events.push(noncompliant(
                    p,
                    None,
                    "no_smart_charging",
                    "the charger does not do smart charging (its configuration says so)".into(),
                    now,
                ));
            }
            Some(events)
        })
        .await
    }

    /// Sends a charger its fail-safe TxDefaultProfile: the share of every node's limit it would get if
    /// every EVSE of the site charged at once, so the site stays within its limits without the CSMS.
    pub async fn send_fail_safe(
        &self,
        tenant: &TenantId,
        site_id: &str,
        charger: &ChargerId,
    ) -> Result<(), StoreError> {
        let Some(grid) = self.site_grids().get(tenant, site_id).await? else {
            return Ok(());
        };
        let Ok(tree) = grid.value.tree.resolve() else {
            return Ok(());
        };
        let cp = self
            .charger_profiles()
            .get(tenant, charger.as_str())
            .await?;
        if cp.as_ref().is_some_and(|p| !p.value.controllable()) {
            return Ok(());
        }
        let now = self.now();
        // Every EVSE of the tree at once, in a fixed order, with no limits of its own.
        let mut all: Vec<Demand> = tree
            .nodes
            .iter()
            .filter(|r| r.node.kind == allocation::NodeKind::Evse)
            .filter_map(|r| {
                let parent = &tree.nodes[r.parent?].node;
                Some(Demand::new(
                    parent.charger_id.clone()?,
                    r.node.evse_id?,
                    DateTime::<Utc>::UNIX_EPOCH,
                ))
            })
            .collect();
        if !all.iter().any(|d| &d.charger == charger) {
            // A charger without EVSE nodes: one EVSE.
            all.push(Demand::new(charger.clone(), 1, DateTime::<Utc>::UNIX_EPOCH));
        }
        // Static limits only (a schedule may tighten them later; the fail-safe must hold at all times):
        // the lowest of the static limit and every scheduled limit of each node.
        let mut policy = grid.value.policy.clone();
        let mut strictest = tree.clone();
        for r in &mut strictest.nodes {
            for s in policy.schedules.iter().filter(|s| s.node == r.node.id) {
                r.node.limit_a = min_opt(r.node.limit_a, s.limit_a);
                r.node.limit_kw = min_opt(r.node.limit_kw, s.limit_kw);
            }
        }
        policy.schedules.clear();
        policy.price_caps.clear();
        let limits = allocation::effective(
            &strictest,
            &policy,
            &allocation::Conditions::default(),
            chrono_tz::UTC,
            now,
        );
        let a = allocation::allocate(
            &strictest,
            &limits,
            &all,
            &Self::allocation_settings(&grid.value),
        );
        let share = a
            .connectors
            .iter()
            .filter(|c| &c.charger == charger)
            .map(|c| c.limit_a)
            .min()
            .unwrap_or_default();
        if cp
            .as_ref()
            .and_then(|p| p.value.installed_for(0, ProfilePurpose::TxDefault))
            .is_some_and(|p| p.limit_a == share && p.state != ProfileState::Rejected)
        {
            return Ok(());
        }
        let caps = cp.as_ref().and_then(|p| p.value.capabilities.clone());
        let stack_level = caps.as_ref().map_or(FAILSAFE_STACK_LEVEL, |c| {
            c.stack_level(FAILSAFE_STACK_LEVEL)
        });
        // A charger that takes only W gets the share at 230 V on three phases (its worst case).
        let (rate_unit, limit) = match caps.as_ref().map(|c| c.unit()) {
            Some("W") => (RateUnit::W, (share * Decimal::from(690)).floor()),
            _ => (RateUnit::A, share),
        };
        let profile = ChargingProfile {
            id: FAILSAFE_PROFILE_ID,
            stack_level,
            purpose: ProfilePurpose::TxDefault,
            kind: ProfileKind::Relative,
            recurrency: None,
            valid_from: None,
            valid_to: None,
            transaction_id: None,
            start: None,
            duration_s: None,
            rate_unit,
            periods: vec![SchedulePeriod {
                start_s: 0,
                limit,
                phases: None,
            }],
            min_rate: None,
        };
        self.send_profile(tenant, charger, 0, profile, share, false)
            .await
    }

    /// Computes again every site of `tenant` whose limits change by `now` (schedule boundaries, lapsing
    /// external limits, stale readings).
    pub async fn recompute_due_sites(
        &self,
        tenant: &TenantId,
        now: DateTime<Utc>,
    ) -> Result<usize, StoreError> {
        let due = format!(
            "{}#~",
            now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
        );
        let mut n = 0;
        let q =
            Documents::<SiteAllocation>::by_index(ALLOCATIONS_DUE, DUE, PageRequest::first(500))
                .range(None, Some(due));
        let found = self.site_allocations().query(tenant, &q).await?;
        for a in &found.items {
            self.recompute_site(tenant, &a.value.site_id, "schedule boundary")
                .await?;
            n += 1;
        }
        Ok(n)
    }

    /// [`Self::recompute_due_sites`] for every tenant.
    pub async fn recompute_all_due_sites(&self) -> Result<usize, StoreError> {
        let now = self.now();
        let mut n = 0;
        for t in self.all_tenants().await? {
            n += self.recompute_due_sites(&t, now).await?;
        }
        Ok(n)
    }
}

/// `charger.limits_changed.v1` of `charger`'s EVSE, for `reason`, under event id `id`.
fn limits_changed(
    id: String,
    tenant: &TenantId,
    charger: &ChargerId,
    evse_id: u32,
    reason: &str,
    now: DateTime<Utc>,
) -> DomainEvent {
    DomainEvent {
        id,
        tenant: tenant.clone(),
        occurred_at: now,
        body: EventBody::ChargerLimitsChanged {
            charger_id: charger.clone(),
            evse_id,
            reason: reason.to_string(),
        },
    }
}

/// The answer to (or loss of) `cmd`'s lower limit, which higher ones on its site waited for: the
/// site is computed again. One per command (its id is the command's).
fn profile_answered(cmd: &Command, evse_id: u32, now: DateTime<Utc>) -> DomainEvent {
    let id = format!("{}:limits:profile_answered:{}", cmd.charger, cmd.id);
    limits_changed(
        id,
        &cmd.tenant,
        &cmd.charger,
        evse_id,
        "profile_answered",
        now,
    )
}

/// The lesser of two, where there are two; else the one there is.
fn min_opt<T: Ord>(a: Option<T>, b: Option<T>) -> Option<T> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

fn expected<T>(v: Option<&Versioned<T>>) -> Expected {
    v.map_or(Expected::Absent, |v| Expected::Version(v.version))
}

fn noncompliant(
    p: &ChargerProfiles,
    evse_id: Option<u32>,
    reason: &str,
    detail: String,
    now: DateTime<Utc>,
) -> DomainEvent {
    DomainEvent {
        id: format!(
            "{}:noncompliant:{reason}:{}:{}",
            p.charger,
            evse_id.unwrap_or(0),
            now.timestamp_millis()
        ),
        tenant: p.tenant.clone(),
        occurred_at: now,
        body: EventBody::ChargerNoncompliant {
            charger_id: p.charger.clone(),
            evse_id,
            reason: reason.to_string(),
            detail,
        },
    }
}

/// What a charger reported about the limits on its charging (2.0.1).
#[derive(Debug, Clone)]
pub enum ChargerReport {
    /// NotifyEVChargingNeeds.
    Needs(cpms_domain::allocation::EvNeeds),
    /// NotifyChargingLimit.
    Limit(cpms_domain::allocation::ChargerLimit),
    /// A limit set on one session from outside the site (a roaming partner's charging profile); it
    /// replaces the one of the same session and source.
    SessionLimit(cpms_domain::allocation::SessionLimit),
    /// That limit removed.
    SessionLimitCleared {
        /// The EVSE.
        evse_id: u32,
        /// The transaction.
        transaction_id: String,
        /// Who set it.
        source: String,
    },
    /// ClearedChargingLimit (of this source, on this EVSE or all when absent).
    Cleared {
        /// The source.
        source: String,
        /// The EVSE.
        evse_id: Option<u32>,
    },
}

impl Csms {
    /// Records what a charger reported about its limits; publishes `charger.limits_changed.v1` so the
    /// site is computed again. A car's needs make the next computation send its TxProfile even when the
    /// limit did not move (the charger was told a schedule follows). True when the charger is in a
    /// site smart charging manages.
    pub async fn charger_reported(
        &self,
        tenant: &TenantId,
        charger: &ChargerId,
        report: ChargerReport,
    ) -> Result<bool, StoreError> {
        let managed = self.smart_site_of(tenant, charger).await?.is_some();
        let now = self.now();
        let (evse_id, reason) = match &report {
            ChargerReport::Needs(n) => (n.evse_id, "ev_charging_needs"),
            ChargerReport::Limit(l) => (l.evse_id, "charging_limit"),
            ChargerReport::SessionLimit(l) => (l.evse_id, "session_limit"),
            ChargerReport::SessionLimitCleared { evse_id, .. } => {
                (*evse_id, "session_limit_cleared")
            }
            ChargerReport::Cleared { evse_id, .. } => {
                (evse_id.unwrap_or(0), "charging_limit_cleared")
            }
        };
        self.change_profiles(tenant, charger, |p| {
            match &report {
                ChargerReport::Needs(n) => {
                    p.needs.retain(|x| x.evse_id != n.evse_id);
                    p.needs.push(n.clone());
                    // Sent again at the next computation.
                    p.installed.retain(|x| {
                        !(x.evse_id == n.evse_id && x.profile.purpose == ProfilePurpose::Tx)
                    });
                }
                ChargerReport::Limit(l) => {
                    p.external
                        .retain(|x| !(x.evse_id == l.evse_id && x.source == l.source));
                    p.external.push(l.clone());
                }
                ChargerReport::SessionLimit(l) => {
                    p.session_limits.retain(|x| {
                        // One per session and source; those of ended sessions on the EVSE go.
                        x.evse_id != l.evse_id
                            || (x.transaction_id == l.transaction_id && x.source != l.source)
                    });
                    p.session_limits.push(l.clone());
                }
                ChargerReport::SessionLimitCleared {
                    evse_id,
                    transaction_id,
                    source,
                } => p.session_limits.retain(|x| {
                    !(x.evse_id == *evse_id
                        && &x.transaction_id == transaction_id
                        && &x.source == source)
                }),
                ChargerReport::Cleared { source, evse_id } => p
                    .external
                    .retain(|x| !(&x.source == source && evse_id.is_none_or(|e| e == x.evse_id))),
            }
            let events = managed.then(|| {
                let id = format!(
                    "{charger}:limits:{reason}:{evse_id}:{}",
                    now.timestamp_millis()
                );
                limits_changed(id, tenant, charger, evse_id, reason, now)
            });
            Some(events.into_iter().collect())
        })
        .await?;
        Ok(managed)
    }

    /// A charger connected or booted: what the CSMS believed installed on it before this connection is
    /// no longer trusted (a reboot may have lost it, a reconnect may follow a change made meanwhile),
    /// so those profiles are sent again by the next computation; the needs of ended sessions are
    /// dropped.
    pub async fn forget_installed(
        &self,
        tenant: &TenantId,
        charger: &ChargerId,
    ) -> Result<(), StoreError> {
        let active: Vec<u32> = self
            .ports
            .sessions
            .active(tenant, charger)
            .await?
            .iter()
            .filter_map(|s| s.evse_id)
            .collect();
        // What was sent on the charger's current connection stands.
        let since = self
            .ports
            .chargers
            .get(charger)
            .await?
            .and_then(|c| c.value.connection.map(|c| c.connected_at));
        self.change_profiles(tenant, charger, |p| {
            let before = p.clone();
            p.installed
                .retain(|x| since.is_some_and(|t| x.sent_at >= t));
            p.needs.retain(|n| active.contains(&n.evse_id));
            p.session_limits.retain(|l| active.contains(&l.evse_id));
            p.over_limit.clear();
            (*p != before).then(Vec::new)
        })
        .await
    }
}
