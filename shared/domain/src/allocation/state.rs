//! What smart charging keeps: a site's electrical model and rules, the conditions posted for it, its
//! latest allocation, and per charger the profiles the CSMS believes installed and whether the charger
//! can be controlled at all.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::allocate::Allocation;
use super::limits::{Conditions, SitePolicy};
use super::tree::ElectricalTree;
use crate::command::ChargingProfile;
use crate::{ChargerId, TenantId};

/// A site's electrical model and its standing rules.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SiteGrid {
    /// Tenant.
    pub tenant: TenantId,
    /// The site.
    pub site_id: String,
    /// The tree.
    pub tree: ElectricalTree,
    /// Schedules, price caps, settings.
    #[serde(default)]
    pub policy: SitePolicy,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
}

/// What was posted for a site: its price curve, external limits, readings of other loads.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SiteConditions {
    /// Tenant.
    pub tenant: TenantId,
    /// The site.
    pub site_id: String,
    /// The conditions.
    #[serde(flatten)]
    pub conditions: Conditions,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
}

/// Most price intervals kept per site.
pub const MAX_PRICE_POINTS: usize = 2000;
/// Most external limits per site.
pub const MAX_EXTERNAL_LIMITS: usize = 100;
/// Readings kept per node (the newest).
pub const READINGS_PER_NODE: usize = 1;

impl SiteConditions {
    /// Drops what no longer matters at `now`: lapsed external limits, price intervals over for more
    /// than a day, all but the newest reading per node.
    pub fn prune(&mut self, now: DateTime<Utc>) {
        let c = &mut self.conditions;
        c.external_limits.retain(|e| e.until > now);
        c.price_curve
            .retain(|p| p.to > now - chrono::Duration::days(1));
        c.price_curve.sort_by_key(|p| p.from);
        c.readings
            .sort_by(|a, b| (&a.node, b.at).cmp(&(&b.node, a.at)));
        c.readings.dedup_by(|a, b| a.node == b.node);
    }
}

/// A site's latest allocation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SiteAllocation {
    /// Tenant.
    pub tenant: TenantId,
    /// The site.
    pub site_id: String,
    /// When it was computed.
    pub computed_at: DateTime<Utc>,
    /// What triggered it.
    pub trigger: String,
    /// The result.
    pub allocation: Allocation,
    /// When the site's limits change next (a schedule boundary, a lapsing limit): it is computed again
    /// then.
    pub next_change: Option<DateTime<Utc>>,
}

/// How a profile the CSMS sent fared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ProfileState {
    /// Sent, no answer yet.
    Sent,
    /// The charger accepted it.
    Accepted,
    /// The charger refused it, or answered with an error, or not at all.
    Rejected,
}

/// A profile as the CSMS believes it installed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct InstalledProfile {
    /// EVSE (0: the charger).
    pub evse_id: u32,
    /// The profile.
    pub profile: ChargingProfile,
    /// How it fared.
    pub state: ProfileState,
    /// The command that carried it.
    pub command_id: String,
    /// Sent.
    pub sent_at: DateTime<Utc>,
    /// The limit it carries, in A per phase (for the resend threshold).
    #[serde(with = "cpms_ocpp::number")]
    #[schemars(with = "f64")]
    pub limit_a: Decimal,
    /// Until the charger accepts it, the limit (A) that may still be in force in its place: the one
    /// it replaces (the higher of those still unanswered). `None`: none of its kind applied before.
    #[serde(default, with = "cpms_ocpp::number::option")]
    #[schemars(with = "Option<f64>")]
    pub replaces_a: Option<Decimal>,
    /// Higher limits elsewhere on the site wait for its answer: the answer has the site computed again.
    #[serde(default)]
    pub releases: bool,
}

impl InstalledProfile {
    /// The highest limit (A) the charger may be applying for this profile's EVSE and purpose: the
    /// profile's once accepted; while unanswered, the higher of it and the one it replaces; after a
    /// refusal, the one it replaces.
    pub fn may_apply_a(&self) -> Option<Decimal> {
        match self.state {
            ProfileState::Accepted => Some(self.limit_a),
            ProfileState::Sent => Some(
                self.replaces_a
                    .map_or(self.limit_a, |b| b.max(self.limit_a)),
            ),
            ProfileState::Rejected => self.replaces_a,
        }
    }

    /// A lower limit the charger has not answered yet, sent less than `within` ago.
    pub fn lowering_unanswered(&self, now: DateTime<Utc>, within: chrono::Duration) -> bool {
        self.state == ProfileState::Sent
            && self.replaces_a.is_some_and(|b| b > self.limit_a)
            && now - self.sent_at <= within
    }
}

/// What the car asked for (2.0.1 NotifyEVChargingNeeds).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct EvNeeds {
    /// EVSE.
    pub evse_id: u32,
    /// When the driver leaves.
    #[serde(default)]
    pub departure: Option<DateTime<Utc>>,
    /// Energy wanted, in Wh.
    #[serde(default, with = "cpms_ocpp::number::option")]
    #[schemars(with = "Option<f64>")]
    pub energy_wh: Option<Decimal>,
    /// The car's most current per phase, in A (AC).
    #[serde(default, with = "cpms_ocpp::number::option")]
    #[schemars(with = "Option<f64>")]
    pub max_current_a: Option<Decimal>,
    /// The car's least current per phase, in A (AC).
    #[serde(default, with = "cpms_ocpp::number::option")]
    #[schemars(with = "Option<f64>")]
    pub min_current_a: Option<Decimal>,
    /// The car's most power, in W (DC).
    #[serde(default, with = "cpms_ocpp::number::option")]
    #[schemars(with = "Option<f64>")]
    pub max_power_w: Option<Decimal>,
    /// Reported.
    pub at: DateTime<Utc>,
}

/// A limit set on the charger by someone else (2.0.1 NotifyChargingLimit), until cleared.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ChargerLimit {
    /// EVSE (0: the charger).
    pub evse_id: u32,
    /// Who set it (`EMS`, `SO`, `Other`).
    pub source: String,
    /// The lowest limit of its schedule, in A per phase, when given in A.
    #[serde(default, with = "cpms_ocpp::number::option")]
    #[schemars(with = "Option<f64>")]
    pub limit_a: Option<Decimal>,
    /// The same in W, when given in W.
    #[serde(default, with = "cpms_ocpp::number::option")]
    #[schemars(with = "Option<f64>")]
    pub limit_w: Option<Decimal>,
    /// Reported.
    pub at: DateTime<Utc>,
}

/// A limit set on one session from outside the site, by the smart charging service of a roaming
/// partner (OCPI ChargingProfiles) or another party: a schedule the session is kept at or under. On a
/// site smart charging manages it is one more cap of the allocator (the site's limits still apply,
/// and the lower wins); elsewhere it is sent to the charger as the session's TxProfile.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SessionLimit {
    /// The EVSE.
    pub evse_id: u32,
    /// The OCPP transaction it limits (the limit ends with it).
    pub transaction_id: String,
    /// Who set it (`ocpi:{partner}`).
    pub source: String,
    /// When the schedule begins.
    pub start: DateTime<Utc>,
    /// Its length in seconds (absent: until the session ends).
    #[serde(default)]
    pub duration_s: Option<u32>,
    /// The unit of its limits.
    pub rate_unit: crate::command::RateUnit,
    /// Its periods, the first at 0, in rising order.
    pub periods: Vec<crate::command::SchedulePeriod>,
    /// The least rate the car charges efficiently with.
    #[serde(default, with = "cpms_ocpp::number::option")]
    #[schemars(with = "Option<f64>")]
    pub min_rate: Option<Decimal>,
    /// When it was set.
    pub set_at: DateTime<Utc>,
}

/// Most periods a session limit may have.
pub const MAX_SESSION_LIMIT_PERIODS: usize = 96;

impl SessionLimit {
    /// Checks its schedule as a charging profile's (at least one period, the first at 0, rising,
    /// limits in range), with at most [`MAX_SESSION_LIMIT_PERIODS`] periods.
    pub fn validate(&self) -> Result<(), crate::DomainError> {
        if self.periods.len() > MAX_SESSION_LIMIT_PERIODS {
            return Err(crate::DomainError::Invalid {
                field: "periods",
                reason: format!("at most {MAX_SESSION_LIMIT_PERIODS} periods"),
            });
        }
        self.as_profile(1, 0).validate(self.evse_id, false)
    }

    fn end(&self) -> Option<DateTime<Utc>> {
        self.duration_s
            .map(|d| self.start + chrono::Duration::seconds(i64::from(d)))
    }

    /// The limit in force at `now`, in its unit: none before it starts or after it ends.
    pub fn limit_at(&self, now: DateTime<Utc>) -> Option<Decimal> {
        if now < self.start || self.end().is_some_and(|e| now >= e) {
            return None;
        }
        let elapsed = (now - self.start).num_seconds();
        self.periods
            .iter()
            .take_while(|p| i64::from(p.start_s) <= elapsed)
            .last()
            .map(|p| p.limit)
    }

    /// The next instant after `now` its limit changes (a period begins, or it starts or ends).
    pub fn next_change(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.periods
            .iter()
            .map(|p| self.start + chrono::Duration::seconds(i64::from(p.start_s)))
            .chain(self.end())
            .filter(|t| *t > now)
            .min()
    }

    /// The same as a transaction profile with `id` at `stack_level`, for a charger smart charging does
    /// not manage.
    pub fn as_profile(&self, id: i32, stack_level: u32) -> crate::command::ChargingProfile {
        crate::command::ChargingProfile {
            id,
            stack_level,
            purpose: crate::command::ProfilePurpose::Tx,
            kind: crate::command::ProfileKind::Absolute,
            recurrency: None,
            valid_from: None,
            valid_to: self.end(),
            transaction_id: Some(self.transaction_id.clone()),
            start: Some(self.start),
            duration_s: self.duration_s,
            rate_unit: self.rate_unit,
            periods: self.periods.clone(),
            min_rate: self.min_rate,
        }
    }
}

/// How long an EVSE has drawn above its limit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct OverLimit {
    /// The EVSE.
    pub evse_id: u32,
    /// Readings above the limit in a row.
    pub count: u32,
    /// The session's sample count at the last reading counted (a reading is counted once).
    pub sample_count: u32,
    /// When (the charger's clock) the first reading of this run above the limit was taken.
    #[serde(default)]
    pub since: Option<DateTime<Utc>>,
}

/// What a charger says it can do with charging profiles (1.6 configuration keys, 2.0.1
/// SmartChargingCtrlr variables), read at its boot.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ProfileCapabilities {
    /// It does smart charging at all (1.6 SupportedFeatureProfiles lists SmartCharging; 2.0.1
    /// SmartChargingCtrlr.Enabled).
    pub smart_charging: bool,
    /// The highest stack level it takes (ChargeProfileMaxStackLevel, ProfileStackLevel).
    #[serde(default)]
    pub max_stack_level: Option<u32>,
    /// The most periods per schedule (ChargingScheduleMaxPeriods, PeriodsPerSchedule).
    #[serde(default)]
    pub max_periods: Option<u32>,
    /// The rate units it takes (`A`, `W`; ChargingScheduleAllowedChargingRateUnit, RateUnit); empty:
    /// not said.
    #[serde(default)]
    pub rate_units: Vec<String>,
    /// When it was read.
    pub read_at: DateTime<Utc>,
}

impl ProfileCapabilities {
    /// Reads a GetConfiguration (1.6) or GetVariables (2.0.1) answer.
    pub fn from_answer(v: &serde_json::Value, at: DateTime<Utc>) -> ProfileCapabilities {
        let mut values: Vec<(String, String)> = Vec::new();
        for k in v["configurationKey"].as_array().into_iter().flatten() {
            if let (Some(key), Some(val)) = (k["key"].as_str(), k["value"].as_str()) {
                values.push((key.to_string(), val.to_string()));
            }
        }
        for r in v["getVariableResult"].as_array().into_iter().flatten() {
            if r["attributeStatus"] == "Accepted"
                && let (Some(c), Some(var), Some(val)) = (
                    r["component"]["name"].as_str(),
                    r["variable"]["name"].as_str(),
                    r["attributeValue"].as_str(),
                )
            {
                values.push((format!("{c}.{var}"), val.to_string()));
            }
        }
        let get = |names: &[&str]| {
            values
                .iter()
                .find(|(k, _)| names.contains(&k.as_str()))
                .map(|(_, v)| v.trim().to_string())
        };
        let smart_charging = match (
            get(&["SupportedFeatureProfiles"]),
            get(&["SmartChargingCtrlr.Enabled", "SmartChargingCtrlr.Available"]),
        ) {
            (Some(p), _) => p
                .split(',')
                .any(|x| x.trim().eq_ignore_ascii_case("SmartCharging")),
            (None, Some(e)) => e.eq_ignore_ascii_case("true"),
            // Not said: assume it does (the profiles' answers tell).
            (None, None) => true,
        };
        let number = |names: &[&str]| get(names).and_then(|v| v.parse::<u32>().ok());
        let units = get(&[
            "ChargingScheduleAllowedChargingRateUnit",
            "SmartChargingCtrlr.RateUnit",
        ])
        .map(|u| {
            u.split(',')
                .map(|x| match x.trim() {
                    "Current" | "A" => "A".to_string(),
                    "Power" | "W" => "W".to_string(),
                    other => other.to_string(),
                })
                .filter(|x| x == "A" || x == "W")
                .collect()
        })
        .unwrap_or_default();
        ProfileCapabilities {
            smart_charging,
            max_stack_level: number(&[
                "ChargeProfileMaxStackLevel",
                "SmartChargingCtrlr.ProfileStackLevel",
            ]),
            max_periods: number(&[
                "ChargingScheduleMaxPeriods",
                "SmartChargingCtrlr.PeriodsPerSchedule",
            ]),
            rate_units: units,
            read_at: at,
        }
    }

    /// The unit to send limits in: A when taken (or when nothing was said), else W.
    pub fn unit(&self) -> &'static str {
        if self.rate_units.is_empty() || self.rate_units.iter().any(|u| u == "A") {
            "A"
        } else {
            "W"
        }
    }

    /// `wanted` within the highest stack level taken.
    pub fn stack_level(&self, wanted: u32) -> u32 {
        self.max_stack_level.map_or(wanted, |m| wanted.min(m))
    }
}

/// Smart charging's view of one charger.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChargerProfiles {
    /// Tenant.
    pub tenant: TenantId,
    /// The charger.
    pub charger: ChargerId,
    /// Profiles as the CSMS believes them installed (the newest per EVSE and purpose).
    #[serde(default)]
    pub installed: Vec<InstalledProfile>,
    /// Set when the charger refused a profile: it is reserved at its rating until it accepts one.
    #[serde(default)]
    pub refuses_profiles: bool,
    /// Profiles refused in a row.
    #[serde(default)]
    pub rejections: u32,
    /// Consecutive readings above its limit plus the tolerance, per EVSE.
    #[serde(default)]
    pub over_limit: Vec<OverLimit>,
    /// Set when it was seen above its limit for several readings: it is reserved at what it draws.
    #[serde(default)]
    pub ignores_limits: bool,
    /// What the cars asked for.
    #[serde(default)]
    pub needs: Vec<EvNeeds>,
    /// Limits set by others on the charger.
    #[serde(default)]
    pub external: Vec<ChargerLimit>,
    /// Limits set on its sessions from outside the site (a roaming partner's smart charging).
    #[serde(default)]
    pub session_limits: Vec<SessionLimit>,
    /// What it says it can do, read at its boot.
    #[serde(default)]
    pub capabilities: Option<ProfileCapabilities>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
}

impl ChargerProfiles {
    /// An empty record.
    pub fn new(tenant: TenantId, charger: ChargerId, now: DateTime<Utc>) -> Self {
        ChargerProfiles {
            tenant,
            charger,
            installed: Vec::new(),
            refuses_profiles: false,
            rejections: 0,
            over_limit: Vec::new(),
            ignores_limits: false,
            needs: Vec::new(),
            external: Vec::new(),
            session_limits: Vec::new(),
            capabilities: None,
            updated_at: now,
        }
    }

    /// Whether the CSMS can limit it.
    pub fn controllable(&self) -> bool {
        !self.refuses_profiles
            && !self.ignores_limits
            && self.capabilities.as_ref().is_none_or(|c| c.smart_charging)
    }

    /// The profile installed for an EVSE with a purpose, if any.
    pub fn installed_for(
        &self,
        evse_id: u32,
        purpose: crate::command::ProfilePurpose,
    ) -> Option<&InstalledProfile> {
        self.installed
            .iter()
            .find(|p| p.evse_id == evse_id && p.profile.purpose == purpose)
    }

    /// Records a profile sent (replacing the one of the same EVSE and purpose).
    /// `p.replaces_a` is filled in from the one replaced (a transaction profile replaces only one of
    /// the same transaction).
    pub fn sent(&mut self, mut p: InstalledProfile) {
        p.replaces_a = self
            .installed
            .iter()
            .find(|x| x.evse_id == p.evse_id && x.profile.purpose == p.profile.purpose)
            .filter(|x| x.profile.transaction_id == p.profile.transaction_id)
            .and_then(InstalledProfile::may_apply_a);
        self.installed
            .retain(|x| !(x.evse_id == p.evse_id && x.profile.purpose == p.profile.purpose));
        self.installed.push(p);
        self.installed.sort_by_key(|x| (x.evse_id, x.profile.id));
    }

    /// Counts a reading of `drawn_a` taken at `at` (the session's `sample_count`-th; a reading already
    /// counted is not counted again) against the EVSE's limit; returns true when the EVSE has been
    /// above `limit + tolerance` for `readings` readings in a row spanning at least `for_s` seconds.
    #[allow(clippy::too_many_arguments)]
    pub fn observe(
        &mut self,
        evse_id: u32,
        sample_count: u32,
        at: DateTime<Utc>,
        drawn_a: Decimal,
        limit_a: Decimal,
        tolerance_a: Decimal,
        readings: u32,
        for_s: i64,
    ) -> bool {
        let over = drawn_a > limit_a + tolerance_a;
        let i = match self.over_limit.iter().position(|o| o.evse_id == evse_id) {
            Some(i) => i,
            None => {
                self.over_limit.push(OverLimit {
                    evse_id,
                    count: 0,
                    sample_count: 0,
                    since: None,
                });
                self.over_limit.len() - 1
            }
        };
        let o = &mut self.over_limit[i];
        if o.sample_count == sample_count {
            return false;
        }
        o.sample_count = sample_count;
        if !over {
            o.count = 0;
            o.since = None;
            return false;
        }
        o.count += 1;
        let since = *o.since.get_or_insert(at);
        o.count >= readings && (at - since).num_seconds() >= for_s
    }
}
