//! What each node of a site allows at one instant: its static limits, lowered by schedules in the site's
//! time zone (17:00-21:00 at 50 kW), by price caps while the operator's price curve is above a threshold,
//! and by external limits until they expire (a grid operator's signal); and what other loads take from
//! it (a fresh live reading, else the static reservation). Also the next instant any of that changes, so
//! the caller can recompute the site at schedule boundaries.

use chrono::{DateTime, Datelike, Duration, NaiveTime, TimeZone, Utc, Weekday};
use chrono_tz::Tz;
use rust_decimal::Decimal;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::tree::ResolvedTree;
use crate::DomainError;

/// A limit on a node during a daily window, in the site's local time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ScheduledLimit {
    /// The node it limits.
    pub node: String,
    /// Days the window starts on (`Mon` ... `Sun`); empty: every day.
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub days: Vec<Weekday>,
    /// Start, local time (`17:00`).
    #[schemars(with = "String")]
    pub from: NaiveTime,
    /// End, local time (`21:00`); before `from`: the window runs past midnight.
    #[schemars(with = "String")]
    pub to: NaiveTime,
    /// Current per phase allowed meanwhile, in A.
    #[serde(default, with = "cpms_ocpp::number::option")]
    #[schemars(with = "Option<f64>")]
    pub limit_a: Option<Decimal>,
    /// Power allowed meanwhile, in kW.
    #[serde(default, with = "cpms_ocpp::number::option")]
    #[schemars(with = "Option<f64>")]
    pub limit_kw: Option<Decimal>,
}

/// A cap on a node while energy costs at least a price.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PriceCap {
    /// The node it limits.
    pub node: String,
    /// From this price per kWh (in the price curve's currency) up, the cap applies.
    #[serde(with = "cpms_ocpp::number")]
    #[schemars(with = "f64")]
    pub at_or_above: Decimal,
    /// The power allowed then, in kW.
    #[serde(with = "cpms_ocpp::number")]
    #[schemars(with = "f64")]
    pub limit_kw: Decimal,
}

/// A site's standing rules: schedules, price caps, and allocation settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SitePolicy {
    /// Limits by time of day.
    #[serde(default)]
    pub schedules: Vec<ScheduledLimit>,
    /// Limits by energy price.
    #[serde(default)]
    pub price_caps: Vec<PriceCap>,
    /// The least current an AC car charges with, in A (IEC 61851: 6).
    #[serde(default = "six", with = "cpms_ocpp::number")]
    #[schemars(with = "f64")]
    pub min_current_a: Decimal,
    /// A live reading older than this, in seconds, no longer counts: the static reservation does.
    #[serde(default = "five_minutes")]
    pub reading_stale_after_s: u32,
    /// A higher limit is sent only when it rises by more than this, in A (a lower one always is).
    #[serde(default = "one", with = "cpms_ocpp::number")]
    #[schemars(with = "f64")]
    pub resend_threshold_a: Decimal,
    /// While a car draws above its limit, the site is looked at again after this many seconds (a
    /// steady draw sends no meter event); 1 to 3600, default 30.
    #[serde(default = "thirty")]
    pub recheck_s: u32,
    /// How long, in seconds, an offline charger's last limit stays reserved for its running
    /// sessions (it may go on charging at that limit) before it is declared gone and holds nothing;
    /// counted from its last contact. 0: kept until it comes back or its sessions end. Default 3600.
    #[serde(default = "one_hour")]
    pub offline_reserved_for_s: u32,
    /// Priorities of tokens or token groups (fleets, a paid priority); the highest that matches a
    /// session applies (default 0; a driver leaving within two hours gets 1 more).
    #[serde(default)]
    pub priorities: Vec<PriorityRule>,
}

/// A priority for the sessions of a token or a token group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PriorityRule {
    /// Sessions of this token.
    #[serde(default)]
    pub token: Option<String>,
    /// Sessions of tokens of this group (a fleet).
    #[serde(default)]
    pub group: Option<String>,
    /// Higher goes first (-100 to 100).
    pub priority: i32,
}

impl SitePolicy {
    /// The priority of a session of `token` in `group`.
    pub fn priority_of(&self, token: Option<&str>, group: Option<&str>) -> i32 {
        self.priorities
            .iter()
            .filter(|r| {
                (r.token.is_some() || r.group.is_some())
                    && r.token.as_deref().is_none_or(|t| Some(t) == token)
                    && r.group.as_deref().is_none_or(|g| Some(g) == group)
            })
            .map(|r| r.priority)
            .max()
            .unwrap_or(0)
    }
}

fn thirty() -> u32 {
    30
}

fn six() -> Decimal {
    Decimal::from(6)
}
fn one() -> Decimal {
    Decimal::ONE
}
fn one_hour() -> u32 {
    3600
}
fn five_minutes() -> u32 {
    300
}

impl Default for SitePolicy {
    fn default() -> Self {
        SitePolicy {
            schedules: Vec::new(),
            price_caps: Vec::new(),
            min_current_a: six(),
            reading_stale_after_s: five_minutes(),
            resend_threshold_a: one(),
            recheck_s: thirty(),
            offline_reserved_for_s: one_hour(),
            priorities: Vec::new(),
        }
    }
}

/// One interval of an energy price curve.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PricePoint {
    /// Start (inclusive).
    pub from: DateTime<Utc>,
    /// End (exclusive).
    pub to: DateTime<Utc>,
    /// Price per kWh.
    #[serde(with = "cpms_ocpp::number")]
    #[schemars(with = "f64")]
    pub price_per_kwh: Decimal,
}

/// A limit set from outside (a grid operator, an energy manager), until it expires.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExternalLimit {
    /// Its id (posting the same id again replaces it).
    pub id: String,
    /// The node it limits.
    pub node: String,
    /// Who set it (`dso`, `ems`, ...).
    #[serde(default)]
    pub source: Option<String>,
    /// Current per phase, in A.
    #[serde(default, with = "cpms_ocpp::number::option")]
    #[schemars(with = "Option<f64>")]
    pub limit_a: Option<Decimal>,
    /// Power, in kW.
    #[serde(default, with = "cpms_ocpp::number::option")]
    #[schemars(with = "Option<f64>")]
    pub limit_kw: Option<Decimal>,
    /// When it lapses.
    pub until: DateTime<Utc>,
}

/// A live reading of the other loads on a node (a building meter).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LoadReading {
    /// The node.
    pub node: String,
    /// Current per phase L1, L2, L3, in A.
    #[serde(default, with = "cpms_ocpp::number::option_vec")]
    #[schemars(with = "Option<Vec<f64>>")]
    pub current_a: Option<Vec<Decimal>>,
    /// Power, in kW.
    #[serde(default, with = "cpms_ocpp::number::option")]
    #[schemars(with = "Option<f64>")]
    pub power_kw: Option<Decimal>,
    /// When it was measured.
    pub at: DateTime<Utc>,
}

/// What changes over time: the price curve, external limits, readings.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Conditions {
    /// Energy prices by interval.
    #[serde(default)]
    pub price_curve: Vec<PricePoint>,
    /// Limits set from outside.
    #[serde(default)]
    pub external_limits: Vec<ExternalLimit>,
    /// Readings of other loads, the newest per node counts.
    #[serde(default)]
    pub readings: Vec<LoadReading>,
}

/// What a node allows now, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct NodeLimits {
    /// Current per phase, in A.
    #[serde(with = "cpms_ocpp::number::option")]
    #[schemars(with = "Option<f64>")]
    pub limit_a: Option<Decimal>,
    /// Which rule set `limit_a`.
    pub limit_a_by: Option<String>,
    /// Power, in kW.
    #[serde(with = "cpms_ocpp::number::option")]
    #[schemars(with = "Option<f64>")]
    pub limit_kw: Option<Decimal>,
    /// Which rule set `limit_kw`.
    pub limit_kw_by: Option<String>,
    /// Other loads per grid phase L1, L2, L3, in A.
    #[schemars(with = "Vec<f64>")]
    #[serde(with = "cpms_ocpp::number::array3")]
    pub other_a: [Decimal; 3],
    /// Other loads, in kW (beyond `other_a`).
    #[serde(with = "cpms_ocpp::number")]
    #[schemars(with = "f64")]
    pub other_kw: Decimal,
    /// Where the other loads came from (`reading at ...`, `static reservation`).
    pub other_by: Option<String>,
}

/// Every node's limits at one instant, in the tree's order.
#[derive(Debug, Clone, PartialEq)]
pub struct Effective {
    /// Per node.
    pub nodes: Vec<NodeLimits>,
    /// The next instant a schedule, price interval, external limit or reading's freshness changes.
    pub next_change: Option<DateTime<Utc>>,
}

fn invalid(field: &'static str, reason: impl Into<String>) -> DomainError {
    DomainError::Invalid {
        field,
        reason: reason.into(),
    }
}

fn lower(
    cur: &mut Option<Decimal>,
    by: &mut Option<String>,
    v: Option<Decimal>,
    why: impl FnOnce() -> String,
) {
    if let Some(v) = v
        && cur.is_none_or(|c| v < c)
    {
        *cur = Some(v);
        *by = Some(why());
    }
}

/// Local `date` at `time` in `tz`, as UTC (a time skipped by a DST change moves to the hour after).
fn at_local(tz: Tz, date: chrono::NaiveDate, time: NaiveTime) -> Option<DateTime<Utc>> {
    let naive = date.and_time(time);
    tz.from_local_datetime(&naive)
        .earliest()
        .or_else(|| {
            tz.from_local_datetime(&(naive + Duration::hours(1)))
                .earliest()
        })
        .map(|t| t.with_timezone(&Utc))
}

impl ScheduledLimit {
    fn runs_on(&self, d: Weekday) -> bool {
        self.days.is_empty() || self.days.contains(&d)
    }

    /// Whether the window covers `now`, and its next boundary after `now`.
    fn at(&self, tz: Tz, now: DateTime<Utc>) -> (bool, Option<DateTime<Utc>>) {
        let today = now.with_timezone(&tz).date_naive();
        let mut active = false;
        let mut next: Option<DateTime<Utc>> = None;
        // Windows that started yesterday may still run; look a week ahead for the next boundary.
        for offset in -1..=8 {
            let day = today + Duration::days(offset);
            if !self.runs_on(day.weekday()) {
                continue;
            }
            let end_day = if self.to <= self.from {
                day + Duration::days(1)
            } else {
                day
            };
            let (Some(start), Some(end)) =
                (at_local(tz, day, self.from), at_local(tz, end_day, self.to))
            else {
                continue;
            };
            if start <= now && now < end {
                active = true;
            }
            for b in [start, end] {
                if b > now && next.is_none_or(|n| b < n) {
                    next = Some(b);
                }
            }
        }
        (active, next)
    }
}

impl SitePolicy {
    /// Checks the rules against the tree.
    pub fn validate(&self, tree: &ResolvedTree) -> Result<(), DomainError> {
        if self.min_current_a < Decimal::ZERO || self.min_current_a > Decimal::from(80) {
            return Err(invalid("min_current_a", "0 to 80 A"));
        }
        if self.resend_threshold_a < Decimal::ZERO || self.resend_threshold_a > Decimal::from(100) {
            return Err(invalid("resend_threshold_a", "0 to 100 A"));
        }
        if !(1..=3600).contains(&self.recheck_s) {
            return Err(invalid("recheck_s", "1 to 3600 s"));
        }
        if self.offline_reserved_for_s > 7 * 86_400 {
            return Err(invalid("offline_reserved_for_s", "0 to 604800 s (a week)"));
        }
        if self.priorities.len() > 500
            || self.priorities.iter().any(|r| {
                !(-100..=100).contains(&r.priority) || (r.token.is_none() && r.group.is_none())
            })
        {
            return Err(invalid(
                "priorities",
                "at most 500, each naming a token or a group, priorities -100 to 100",
            ));
        }
        if self.schedules.len() + self.price_caps.len() > 500 {
            return Err(invalid("schedules", "at most 500 schedules and price caps"));
        }
        for s in &self.schedules {
            if tree.get(&s.node).is_none() {
                return Err(invalid(
                    "node",
                    format!("schedule for unknown node {:?}", s.node),
                ));
            }
            if s.limit_a.is_none() && s.limit_kw.is_none() {
                return Err(invalid("schedules", "a schedule sets limit_a or limit_kw"));
            }
            if s.from == s.to {
                return Err(invalid("schedules", "a window's from and to differ"));
            }
            if s.limit_a.is_some_and(|v| v < Decimal::ZERO)
                || s.limit_kw.is_some_and(|v| v < Decimal::ZERO)
            {
                return Err(invalid("schedules", "limits are zero or more"));
            }
        }
        for c in &self.price_caps {
            if tree.get(&c.node).is_none() {
                return Err(invalid(
                    "node",
                    format!("price cap for unknown node {:?}", c.node),
                ));
            }
            if c.limit_kw < Decimal::ZERO {
                return Err(invalid("price_caps", "limits are zero or more"));
            }
        }
        Ok(())
    }
}

/// Every node's limits at `now`.
pub fn effective(
    tree: &ResolvedTree,
    policy: &SitePolicy,
    cond: &Conditions,
    tz: Tz,
    now: DateTime<Utc>,
) -> Effective {
    let mut nodes: Vec<NodeLimits> = tree
        .nodes
        .iter()
        .map(|r| {
            let mut other_a = [Decimal::ZERO; 3];
            if let Some(a) = r.node.reserved_a {
                for p in &r.grid_phases {
                    other_a[p.index()] = a;
                }
            }
            let reserved = r.node.reserved_a.is_some() || r.node.reserved_kw.is_some();
            NodeLimits {
                limit_a: r.node.limit_a,
                limit_a_by: r.node.limit_a.map(|_| "the node's rating".to_string()),
                limit_kw: r.node.limit_kw,
                limit_kw_by: r.node.limit_kw.map(|_| "the node's rating".to_string()),
                other_a,
                other_kw: r.node.reserved_kw.unwrap_or_default(),
                other_by: reserved.then(|| "static reservation".to_string()),
            }
        })
        .collect();
    let mut next: Option<DateTime<Utc>> = None;
    let mut soon = |t: DateTime<Utc>| {
        if t > now && next.is_none_or(|n| t < n) {
            next = Some(t);
        }
    };
    for s in &policy.schedules {
        let Some(i) = tree.index_of(&s.node) else {
            continue;
        };
        let (active, boundary) = s.at(tz, now);
        if let Some(b) = boundary {
            soon(b);
        }
        if active {
            let why = || {
                format!(
                    "schedule {}-{}",
                    s.from.format("%H:%M"),
                    s.to.format("%H:%M")
                )
            };
            let n = &mut nodes[i];
            lower(&mut n.limit_a, &mut n.limit_a_by, s.limit_a, why);
            lower(&mut n.limit_kw, &mut n.limit_kw_by, s.limit_kw, why);
        }
    }
    let price_now = cond
        .price_curve
        .iter()
        .find(|p| p.from <= now && now < p.to);
    for p in &cond.price_curve {
        soon(p.from);
        soon(p.to);
    }
    if let Some(price) = price_now {
        for c in &policy.price_caps {
            let Some(i) = tree.index_of(&c.node) else {
                continue;
            };
            if price.price_per_kwh >= c.at_or_above {
                let n = &mut nodes[i];
                lower(
                    &mut n.limit_kw,
                    &mut n.limit_kw_by,
                    Some(c.limit_kw),
                    || {
                        format!(
                            "price {} per kWh is at or above {}",
                            price.price_per_kwh, c.at_or_above
                        )
                    },
                );
            }
        }
    }
    for e in &cond.external_limits {
        let Some(i) = tree.index_of(&e.node) else {
            continue;
        };
        if e.until <= now {
            continue;
        }
        soon(e.until);
        let why = || {
            format!(
                "external limit {} ({}) until {}",
                e.id,
                e.source.as_deref().unwrap_or("unnamed source"),
                e.until.to_rfc3339()
            )
        };
        let n = &mut nodes[i];
        lower(&mut n.limit_a, &mut n.limit_a_by, e.limit_a, why);
        lower(&mut n.limit_kw, &mut n.limit_kw_by, e.limit_kw, why);
    }
    let stale = Duration::seconds(i64::from(policy.reading_stale_after_s));
    for (i, r) in tree.nodes.iter().enumerate() {
        let newest = cond
            .readings
            .iter()
            .filter(|x| x.node == r.node.id && x.at <= now + Duration::seconds(60))
            .max_by_key(|x| x.at);
        let Some(reading) = newest else {
            continue;
        };
        if reading.at + stale <= now {
            continue;
        }
        soon(reading.at + stale);
        let n = &mut nodes[i];
        n.other_a = [Decimal::ZERO; 3];
        if let Some(a) = &reading.current_a {
            for (k, v) in a.iter().take(3).enumerate() {
                // Per phase of the node, mapped onto the grid's phases.
                let grid = r.grid_rotation.0[k];
                n.other_a[grid.index()] = (*v).max(Decimal::ZERO);
            }
        }
        n.other_kw = if reading.current_a.is_some() {
            Decimal::ZERO
        } else {
            reading.power_kw.unwrap_or_default().max(Decimal::ZERO)
        };
        n.other_by = Some(format!("reading at {}", reading.at.to_rfc3339()));
    }
    Effective {
        nodes,
        next_change: next,
    }
}
