//! The detection rules: a built-in set, on by default, each with thresholds a tenant may change, and
//! overrides per site, charger model or charger. [`AlertConfig::rule`] gives the settings that apply to
//! one resource: the built-in defaults, then the tenant's changes, then overrides from the widest scope
//! to the narrowest (model, site, charger).

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::remedy::Step;
use crate::{DomainError, TenantId};

/// A detection rule.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum RuleId {
    /// No frame from a charger for twice its heartbeat interval plus a grace, or disconnected longer
    /// than a set time.
    ChargerOffline,
    /// Most chargers of a site went offline within a short window (a power cut, the site's network).
    SiteOffline,
    /// A connector reported Faulted, or an error code other than `NoError`.
    ConnectorFaulted,
    /// A connector reported a vendor error code found in the tenant's vendor code table.
    VendorError,
    /// Repeated failed starts on one EVSE within a window (sessions that ended with almost no energy).
    FailedStarts,
    /// A connector stayed Preparing (a cable in, no session) for too long.
    PreparingTooLong,
    /// A session stayed active for too long.
    SessionStuck,
    /// An EVSE stayed Unavailable for too long.
    EvseUnavailable,
    /// A 2.0.1 component reported a problem (NotifyEvent) that has not cleared.
    ComponentProblem,
    /// A firmware update failed (until one installs).
    FirmwareFailed,
    /// A security event that calls for a look (tampering, a cleared security log, a bad firmware
    /// signature, TLS or certificate trouble); its severity is the event's.
    SecurityEvent,
    /// Commands to a charger keep failing: rejected, answered with a CALLERROR, or not answered.
    CommandFailed,
    /// A CDR was marked for review by billing.
    BillingReview,
    /// Smart charging cannot control a charger (a refused profile, or it draws above its limit).
    Noncompliant,
    /// A roaming partner keeps refusing what is pushed to it (raised by OCPI push, to come).
    PartnerDelivery,
}

impl RuleId {
    /// Every rule.
    pub const ALL: [RuleId; 15] = [
        RuleId::ChargerOffline,
        RuleId::SiteOffline,
        RuleId::ConnectorFaulted,
        RuleId::VendorError,
        RuleId::FailedStarts,
        RuleId::PreparingTooLong,
        RuleId::SessionStuck,
        RuleId::EvseUnavailable,
        RuleId::ComponentProblem,
        RuleId::FirmwareFailed,
        RuleId::SecurityEvent,
        RuleId::CommandFailed,
        RuleId::BillingReview,
        RuleId::Noncompliant,
        RuleId::PartnerDelivery,
    ];

    /// The snake_case name.
    pub fn name(self) -> &'static str {
        match self {
            RuleId::ChargerOffline => "charger_offline",
            RuleId::SiteOffline => "site_offline",
            RuleId::ConnectorFaulted => "connector_faulted",
            RuleId::VendorError => "vendor_error",
            RuleId::FailedStarts => "failed_starts",
            RuleId::PreparingTooLong => "preparing_too_long",
            RuleId::SessionStuck => "session_stuck",
            RuleId::EvseUnavailable => "evse_unavailable",
            RuleId::ComponentProblem => "component_problem",
            RuleId::FirmwareFailed => "firmware_failed",
            RuleId::SecurityEvent => "security_event",
            RuleId::CommandFailed => "command_failed",
            RuleId::BillingReview => "billing_review",
            RuleId::Noncompliant => "noncompliant",
            RuleId::PartnerDelivery => "partner_delivery",
        }
    }

    /// The rule of a name.
    pub fn parse(s: &str) -> Option<RuleId> {
        RuleId::ALL.into_iter().find(|r| r.name() == s)
    }

    /// Whether it watches a state (it clears by itself when the state ends) rather than counting
    /// occurrences (it clears when none came for `quiet_s`).
    pub fn is_state(self) -> bool {
        !matches!(
            self,
            RuleId::FailedStarts
                | RuleId::SecurityEvent
                | RuleId::CommandFailed
                | RuleId::BillingReview
                | RuleId::Noncompliant
                | RuleId::PartnerDelivery
        )
    }
}

/// How bad it is.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// For the record.
    Info,
    /// Needs a look.
    Warning,
    /// Drivers cannot charge at one place.
    Major,
    /// A site or more is down.
    Critical,
}

impl Severity {
    /// Every severity.
    pub const ALL: [Severity; 4] = [
        Severity::Info,
        Severity::Warning,
        Severity::Major,
        Severity::Critical,
    ];

    /// The snake_case name.
    pub fn name(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Major => "major",
            Severity::Critical => "critical",
        }
    }

    /// The severity of a name.
    pub fn parse(s: &str) -> Option<Severity> {
        Severity::ALL.into_iter().find(|v| v.name() == s)
    }
}

/// What one rule does for one resource.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RuleSettings {
    /// Off: the rule opens nothing.
    pub enabled: bool,
    /// Severity of its incidents.
    pub severity: Severity,
    /// The rule's own threshold, in seconds: offline, the grace over twice the heartbeat interval;
    /// Preparing, stuck sessions, unavailable EVSEs: how long the state may last.
    pub threshold_s: u32,
    /// Offline: how long a charger may stay disconnected (a closed connection) before it is offline.
    #[serde(default)]
    pub disconnected_s: u32,
    /// Counting rules: occurrences within `window_s` that open an incident.
    #[serde(default)]
    pub count: u32,
    /// Counting rules: the window (s).
    #[serde(default)]
    pub window_s: u32,
    /// The condition must hold this long before an incident opens (s; 0: at once).
    #[serde(default)]
    pub min_duration_s: u32,
    /// The condition must stay clear this long before its incident resolves (s; 0: at once).
    #[serde(default)]
    pub clear_after_s: u32,
    /// Counting rules: the incident resolves when nothing new came for this long (s; 0: only by hand).
    #[serde(default)]
    pub quiet_s: u32,
    /// A recurrence within this long after it resolved reopens the incident (s).
    #[serde(default)]
    pub reopen_within_s: u32,
    /// Flap damping: this many changes within `flap_window_s` mark the condition flapping; its incident
    /// then resolves only after it stayed clear for the whole window.
    #[serde(default)]
    pub flap_changes: u32,
    /// The flap window (s).
    #[serde(default)]
    pub flap_window_s: u32,
    /// Remediation: the steps tried in turn, each checked for effect after `check_after_s`.
    #[serde(default)]
    pub remedies: Vec<Step>,
    /// Seconds after a step before its effect is checked.
    #[serde(default)]
    pub check_after_s: u32,
    /// Remedies may interrupt a charging session (resets, inoperative). Off by default.
    #[serde(default)]
    pub may_interrupt: bool,
    /// The escalation policy its incidents follow (none: the tenant's default).
    #[serde(default)]
    pub policy: Option<String>,
}

impl RuleSettings {
    /// The built-in settings of `rule`.
    pub fn builtin(rule: RuleId) -> Self {
        let base = RuleSettings {
            enabled: true,
            severity: Severity::Major,
            threshold_s: 0,
            disconnected_s: 0,
            count: 0,
            window_s: 0,
            min_duration_s: 0,
            clear_after_s: 60,
            quiet_s: 0,
            reopen_within_s: 3600,
            flap_changes: 6,
            flap_window_s: 600,
            remedies: Vec::new(),
            check_after_s: 120,
            may_interrupt: false,
            policy: None,
        };
        match rule {
            RuleId::ChargerOffline => RuleSettings {
                threshold_s: 60,
                disconnected_s: 120,
                clear_after_s: 0,
                ..base
            },
            RuleId::SiteOffline => RuleSettings {
                severity: Severity::Critical,
                clear_after_s: 0,
                ..base
            },
            RuleId::ConnectorFaulted => RuleSettings {
                remedies: vec![Step::TriggerStatus, Step::SoftReset, Step::HardReset],
                ..base
            },
            RuleId::VendorError => RuleSettings {
                severity: Severity::Warning,
                ..base
            },
            RuleId::FailedStarts => RuleSettings {
                severity: Severity::Warning,
                count: 3,
                window_s: 3600,
                quiet_s: 6 * 3600,
                remedies: vec![Step::SoftReset],
                ..base
            },
            RuleId::PreparingTooLong => RuleSettings {
                severity: Severity::Warning,
                threshold_s: 15 * 60,
                ..base
            },
            RuleId::SessionStuck => RuleSettings {
                severity: Severity::Warning,
                threshold_s: 24 * 3600,
                ..base
            },
            RuleId::EvseUnavailable => RuleSettings {
                threshold_s: 4 * 3600,
                remedies: vec![Step::TriggerStatus],
                ..base
            },
            RuleId::ComponentProblem => RuleSettings {
                severity: Severity::Warning,
                ..base
            },
            RuleId::FirmwareFailed => RuleSettings {
                severity: Severity::Warning,
                clear_after_s: 0,
                ..base
            },
            RuleId::BillingReview => RuleSettings {
                severity: Severity::Warning,
                quiet_s: 0,
                ..base
            },
            RuleId::SecurityEvent => RuleSettings {
                severity: Severity::Warning,
                count: 1,
                quiet_s: 24 * 3600,
                ..base
            },
            RuleId::CommandFailed => RuleSettings {
                severity: Severity::Warning,
                count: 3,
                window_s: 3600,
                quiet_s: 6 * 3600,
                ..base
            },
            RuleId::Noncompliant => RuleSettings {
                severity: Severity::Warning,
                quiet_s: 24 * 3600,
                ..base
            },
            RuleId::PartnerDelivery => RuleSettings {
                quiet_s: 3600,
                ..base
            },
        }
    }

    fn apply(&mut self, p: &RulePatch) {
        macro_rules! set {
            ($($f:ident),*) => { $( if let Some(v) = &p.$f { self.$f = v.clone(); } )* };
        }
        set!(
            enabled,
            severity,
            threshold_s,
            disconnected_s,
            count,
            window_s,
            min_duration_s,
            clear_after_s,
            quiet_s,
            reopen_within_s,
            flap_changes,
            flap_window_s,
            remedies,
            check_after_s,
            may_interrupt
        );
        if let Some(p) = &p.policy {
            self.policy = (!p.is_empty()).then(|| p.clone());
        }
    }
}

/// A change to a rule's settings: what is given replaces the value below it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RulePatch {
    /// See [`RuleSettings`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// See [`RuleSettings`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity: Option<Severity>,
    /// See [`RuleSettings`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold_s: Option<u32>,
    /// See [`RuleSettings`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disconnected_s: Option<u32>,
    /// See [`RuleSettings`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u32>,
    /// See [`RuleSettings`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window_s: Option<u32>,
    /// See [`RuleSettings`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_duration_s: Option<u32>,
    /// See [`RuleSettings`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clear_after_s: Option<u32>,
    /// See [`RuleSettings`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quiet_s: Option<u32>,
    /// See [`RuleSettings`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reopen_within_s: Option<u32>,
    /// See [`RuleSettings`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flap_changes: Option<u32>,
    /// See [`RuleSettings`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flap_window_s: Option<u32>,
    /// See [`RuleSettings`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remedies: Option<Vec<Step>>,
    /// See [`RuleSettings`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub check_after_s: Option<u32>,
    /// See [`RuleSettings`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub may_interrupt: Option<bool>,
    /// See [`RuleSettings`] (`""`: back to the tenant's default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
}

/// Where an override applies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Scope {
    /// Chargers of a vendor's model (as they report at boot).
    Model {
        /// Vendor.
        vendor: String,
        /// Model.
        model: String,
    },
    /// A site's chargers.
    Site {
        /// The site.
        site_id: String,
    },
    /// One charger.
    Charger {
        /// The charger.
        charger_id: String,
    },
}

impl Scope {
    fn rank(&self) -> u8 {
        match self {
            Scope::Model { .. } => 0,
            Scope::Site { .. } => 1,
            Scope::Charger { .. } => 2,
        }
    }
}

/// An override of one rule for a scope.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Override {
    /// Where.
    pub scope: Scope,
    /// Which rule.
    pub rule: RuleId,
    /// What changes.
    pub settings: RulePatch,
}

/// When a site counts as down as a whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SiteOutage {
    /// Share of the site's chargers (percent) offline together.
    pub percent: u8,
    /// Only sites with at least this many chargers.
    pub min_chargers: u32,
    /// They went offline within this window (s).
    pub window_s: u32,
}

impl Default for SiteOutage {
    fn default() -> Self {
        SiteOutage {
            percent: 80,
            min_chargers: 3,
            window_s: 60,
        }
    }
}

/// Time to acknowledge and time to resolve an incident of one severity may take (s; 0: no target).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Targets {
    /// Acknowledge within.
    pub acknowledge_s: u32,
    /// Resolve within.
    pub resolve_s: u32,
}

/// A tenant's alerting configuration (one record; absent: the built-in defaults).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct AlertConfig {
    /// Owner.
    #[schemars(skip)]
    pub tenant: TenantId,
    /// The tenant's changes to the built-in rules.
    #[serde(default)]
    pub rules: BTreeMap<RuleId, RulePatch>,
    /// Overrides per model, site or charger.
    #[serde(default)]
    pub overrides: Vec<Override>,
    /// When a site counts as down.
    #[serde(default)]
    pub site_outage: SiteOutage,
    /// Remedies sent to one charger in one UTC day, at most.
    #[serde(default = "default_remedies_per_day")]
    pub remedies_per_day: u32,
    /// Targets per severity.
    #[serde(default = "default_targets")]
    pub targets: BTreeMap<Severity, Targets>,
    /// The escalation policy incidents follow when their rule names none.
    #[serde(default)]
    pub default_policy: Option<String>,
}

/// The most overrides a tenant keeps.
pub const MAX_OVERRIDES: usize = 500;

fn default_remedies_per_day() -> u32 {
    3
}

fn default_targets() -> BTreeMap<Severity, Targets> {
    BTreeMap::from([
        (
            Severity::Critical,
            Targets {
                acknowledge_s: 15 * 60,
                resolve_s: 4 * 3600,
            },
        ),
        (
            Severity::Major,
            Targets {
                acknowledge_s: 3600,
                resolve_s: 24 * 3600,
            },
        ),
    ])
}

/// What a resource is, for choosing its overrides.
#[derive(Debug, Clone, Copy, Default)]
pub struct Subject<'a> {
    /// The charger.
    pub charger: Option<&'a str>,
    /// Its site.
    pub site: Option<&'a str>,
    /// Its vendor and model.
    pub model: Option<(&'a str, &'a str)>,
}

impl AlertConfig {
    /// The defaults.
    pub fn defaults(tenant: TenantId) -> Self {
        AlertConfig {
            tenant,
            rules: BTreeMap::new(),
            overrides: Vec::new(),
            site_outage: SiteOutage::default(),
            remedies_per_day: default_remedies_per_day(),
            targets: default_targets(),
            default_policy: None,
        }
    }

    /// The settings of `rule` for `subject`.
    pub fn rule(&self, rule: RuleId, subject: Subject<'_>) -> RuleSettings {
        let mut s = RuleSettings::builtin(rule);
        if let Some(p) = self.rules.get(&rule) {
            s.apply(p);
        }
        let mut matching: Vec<&Override> = self
            .overrides
            .iter()
            .filter(|o| o.rule == rule)
            .filter(|o| match &o.scope {
                Scope::Model { vendor, model } => {
                    subject.model == Some((vendor.as_str(), model.as_str()))
                }
                Scope::Site { site_id } => subject.site == Some(site_id.as_str()),
                Scope::Charger { charger_id } => subject.charger == Some(charger_id.as_str()),
            })
            .collect();
        matching.sort_by_key(|o| o.scope.rank());
        for o in matching {
            s.apply(&o.settings);
        }
        if s.policy.is_none() {
            s.policy = self.default_policy.clone();
        }
        s
    }

    /// The targets of `severity`.
    pub fn targets(&self, severity: Severity) -> Targets {
        self.targets.get(&severity).copied().unwrap_or_default()
    }

    /// Checks the values.
    pub fn validate(&self) -> Result<(), DomainError> {
        let bad = |field, reason: &str| {
            Err(DomainError::Invalid {
                field,
                reason: reason.into(),
            })
        };
        if self.overrides.len() > MAX_OVERRIDES {
            return bad("overrides", "at most 500");
        }
        if self.site_outage.percent == 0 || self.site_outage.percent > 100 {
            return bad("site_outage.percent", "must be 1 to 100");
        }
        if self.site_outage.window_s > 3600 {
            return bad("site_outage.window_s", "must be at most 3600");
        }
        if self.remedies_per_day > 100 {
            return bad("remedies_per_day", "must be at most 100");
        }
        for p in self
            .rules
            .values()
            .chain(self.overrides.iter().map(|o| &o.settings))
        {
            if p.remedies.as_ref().is_some_and(|r| r.len() > 8) {
                return bad("remedies", "at most 8 steps");
            }
            let week = 7 * 24 * 3600;
            let long = [
                p.threshold_s,
                p.disconnected_s,
                p.window_s,
                p.min_duration_s,
                p.clear_after_s,
                p.quiet_s,
                p.reopen_within_s,
                p.flap_window_s,
                p.check_after_s,
            ];
            if long.iter().flatten().any(|&v| v > 30 * 24 * 3600) {
                return bad("settings", "durations must be at most 30 days (2592000 s)");
            }
            if p.count.is_some_and(|c| c > 1000) || p.flap_changes.is_some_and(|c| c > 1000) {
                return bad("count", "must be at most 1000");
            }
            if p.window_s.is_some_and(|w| w > week) || p.flap_window_s.is_some_and(|w| w > week) {
                return bad("window_s", "must be at most a week (604800 s)");
            }
        }
        Ok(())
    }
}

/// A vendor's error code, as the operator maps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct VendorCode {
    /// Owner.
    #[schemars(skip)]
    pub tenant: TenantId,
    /// Vendor (1.6 `vendorId`, or the vendor the charger reported at boot).
    pub vendor: String,
    /// The code (1.6 `vendorErrorCode`, 2.0.1 `techCode`).
    pub code: String,
    /// Severity of its incidents (`info`: recorded, no incident).
    pub severity: Severity,
    /// Who fixes it (`operator`, `vendor`, `site_host`, `grid`, `driver`, ...).
    pub responsible: String,
    /// In words.
    #[serde(default)]
    pub description: Option<String>,
}

impl VendorCode {
    /// Its record id.
    pub fn key(vendor: &str, code: &str) -> String {
        format!("{}|{}", vendor.to_ascii_lowercase(), code)
    }
}
