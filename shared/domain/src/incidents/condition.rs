//! A rule's condition on one resource, between the signals and the incidents: whether it holds, since
//! when, and what it has led to. One record per (rule, resource): the key that deduplicates incidents.
//! Its state machine is the noise control of one resource: an incident opens when the condition has
//! held for the rule's minimum duration, resolves when it stayed clear for `clear_after_s` (for the
//! whole flap window when it flaps), and a recurrence soon after reopens the resolved incident instead of
//! opening a new one. Timers are a `due` time, swept.

use chrono::{DateTime, Duration, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::rules::{RuleId, RuleSettings};
use crate::TenantId;

/// What an incident is about.
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Resource {
    /// A site.
    Site {
        /// The site.
        site_id: String,
    },
    /// A charger.
    Charger {
        /// The charger.
        charger_id: String,
    },
    /// One connector (EVSE 0 connector 0: the charger as a whole, in 1.6).
    Connector {
        /// The charger.
        charger_id: String,
        /// EVSE.
        evse_id: u32,
        /// Connector.
        connector_id: u32,
    },
    /// A component of a charger (2.0.1 device model).
    Component {
        /// The charger.
        charger_id: String,
        /// EVSE (0: the station).
        evse_id: u32,
        /// Component name.
        component: String,
    },
    /// A roaming partner.
    Partner {
        /// The partner.
        partner_id: String,
    },
}

impl Resource {
    /// A stable key (`site:S1`, `charger:CP1`, `connector:CP1:1:1`).
    pub fn key(&self) -> String {
        match self {
            Resource::Site { site_id } => format!("site:{site_id}"),
            Resource::Charger { charger_id } => format!("charger:{charger_id}"),
            Resource::Connector {
                charger_id,
                evse_id,
                connector_id,
            } => format!("connector:{charger_id}:{evse_id}:{connector_id}"),
            Resource::Component {
                charger_id,
                evse_id,
                component,
            } => format!("component:{charger_id}:{evse_id}:{component}"),
            Resource::Partner { partner_id } => format!("partner:{partner_id}"),
        }
    }

    /// The charger it is or belongs to.
    pub fn charger(&self) -> Option<&str> {
        match self {
            Resource::Charger { charger_id }
            | Resource::Connector { charger_id, .. }
            | Resource::Component { charger_id, .. } => Some(charger_id),
            _ => None,
        }
    }

    /// Its EVSE (0: the whole charger, or not a connector).
    pub fn evse(&self) -> u32 {
        match self {
            Resource::Connector { evse_id, .. } | Resource::Component { evse_id, .. } => *evse_id,
            _ => 0,
        }
    }
}

/// A timer the condition waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Pending {
    /// Open an incident if it still holds.
    Open,
    /// Resolve the incident if it is still clear.
    Resolve,
}

/// Most recent changes and hits kept (for flap damping and counting rules).
pub const MAX_HISTORY: usize = 64;

/// A rule's condition on one resource.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Condition {
    /// Owner.
    #[schemars(skip)]
    pub tenant: TenantId,
    /// The rule.
    pub rule: RuleId,
    /// The resource.
    pub resource: Resource,
    /// The resource's site.
    #[serde(default)]
    pub site_id: Option<String>,
    /// It holds.
    pub active: bool,
    /// Since when it holds (or is clear).
    pub since: DateTime<Utc>,
    /// The last signal, in words.
    pub detail: String,
    /// Severity the last signal carries, when it decides (vendor codes).
    #[serde(default)]
    pub severity: Option<super::rules::Severity>,
    /// Who fixes it, when known (vendor codes).
    #[serde(default)]
    pub responsible: Option<String>,
    /// Times it changed (newest last, at most [`MAX_HISTORY`]).
    #[serde(default)]
    pub changes: Vec<DateTime<Utc>>,
    /// Counting rules: times it occurred (newest last, at most [`MAX_HISTORY`]).
    #[serde(default)]
    pub hits: Vec<DateTime<Utc>>,
    /// Its open incident.
    #[serde(default)]
    pub incident: Option<String>,
    /// Its last incident and when it resolved (a recurrence soon after reopens it).
    #[serde(default)]
    pub resolved: Option<(String, DateTime<Utc>)>,
    /// The timer it waits for.
    #[serde(default)]
    pub pending: Option<Pending>,
    /// When the timer fires.
    #[serde(default)]
    pub due: Option<DateTime<Utc>>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
}

/// What a condition's change asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Open an incident.
    Open,
    /// Reopen this resolved incident.
    Reopen(String),
    /// Resolve this incident: the condition cleared.
    Resolve(String),
    /// The condition occurred again while this incident is open.
    Recur(String),
}

fn secs(s: u32) -> Duration {
    Duration::seconds(i64::from(s))
}

fn push_bounded(v: &mut Vec<DateTime<Utc>>, at: DateTime<Utc>) {
    v.push(at);
    if v.len() > MAX_HISTORY {
        v.remove(0);
    }
}

impl Condition {
    /// Its record id.
    pub fn key(rule: RuleId, resource: &Resource) -> String {
        format!("{}|{}", rule.name(), resource.key())
    }

    /// A clear condition.
    pub fn new(
        tenant: TenantId,
        rule: RuleId,
        resource: Resource,
        site_id: Option<String>,
        now: DateTime<Utc>,
    ) -> Self {
        Condition {
            tenant,
            rule,
            resource,
            site_id,
            active: false,
            since: now,
            detail: String::new(),
            severity: None,
            responsible: None,
            changes: Vec::new(),
            hits: Vec::new(),
            incident: None,
            resolved: None,
            pending: None,
            due: None,
            updated_at: now,
        }
    }

    /// Whether it flaps: `flap_changes` changes or more within the flap window before `now`.
    pub fn flapping(&self, s: &RuleSettings, now: DateTime<Utc>) -> bool {
        s.flap_changes > 0
            && self
                .changes
                .iter()
                .filter(|&&t| t > now - secs(s.flap_window_s))
                .count()
                >= s.flap_changes as usize
    }

    fn open_or_reopen(&mut self, s: &RuleSettings, at: DateTime<Utc>) -> Action {
        self.pending = None;
        self.due = None;
        match self.resolved.take() {
            Some((id, when)) if at - when <= secs(s.reopen_within_s) => {
                self.incident = Some(id.clone());
                Action::Reopen(id)
            }
            other => {
                self.resolved = other;
                Action::Open
            }
        }
    }

    /// A state rule's condition now holds (`true`) or not, at `at`; `detail` says why.
    pub fn observe(
        &mut self,
        holds: bool,
        at: DateTime<Utc>,
        detail: String,
        s: &RuleSettings,
    ) -> Vec<Action> {
        self.updated_at = at;
        if holds {
            self.detail = detail;
        }
        if holds == self.active {
            // Still the same (a resent report): nothing changes.
            return Vec::new();
        }
        self.active = holds;
        self.since = at;
        push_bounded(&mut self.changes, at);
        if holds {
            if let Some(id) = &self.incident {
                // It came back before its incident resolved: the incident stays open.
                self.pending = None;
                self.due = None;
                return vec![Action::Recur(id.clone())];
            }
            if s.min_duration_s == 0 {
                return vec![self.open_or_reopen(s, at)];
            }
            self.pending = Some(Pending::Open);
            self.due = Some(at + secs(s.min_duration_s));
            return Vec::new();
        }
        // It cleared.
        if self.pending == Some(Pending::Open) {
            // Shorter than the minimum duration: no incident.
            self.pending = None;
            self.due = None;
            return Vec::new();
        }
        let Some(id) = self.incident.clone() else {
            return Vec::new();
        };
        let hold = self.clear_hold(s, at);
        if hold.is_zero() {
            return vec![self.resolve_now(id, at)];
        }
        self.pending = Some(Pending::Resolve);
        self.due = Some(at + hold);
        Vec::new()
    }

    fn clear_hold(&self, s: &RuleSettings, at: DateTime<Utc>) -> Duration {
        if self.flapping(s, at) {
            secs(s.clear_after_s.max(s.flap_window_s))
        } else {
            secs(s.clear_after_s)
        }
    }

    /// Resolves its incident at `now`, or only stops waiting when it has none.
    fn resolve_or_clear(&mut self, now: DateTime<Utc>) -> Vec<Action> {
        match self.incident.clone() {
            Some(id) => vec![self.resolve_now(id, now)],
            None => {
                self.pending = None;
                self.due = None;
                Vec::new()
            }
        }
    }

    fn resolve_now(&mut self, id: String, at: DateTime<Utc>) -> Action {
        self.incident = None;
        self.pending = None;
        self.due = None;
        self.resolved = Some((id.clone(), at));
        Action::Resolve(id)
    }

    /// A counting rule's occurrence at `at`: an incident opens once `count` came within `window_s`
    /// (or at once when `count` is 0 or 1); while it is open, the occurrence is noted.
    pub fn occur(&mut self, at: DateTime<Utc>, detail: String, s: &RuleSettings) -> Vec<Action> {
        self.updated_at = at;
        self.detail = detail;
        push_bounded(&mut self.hits, at);
        if s.quiet_s > 0 {
            self.pending = Some(Pending::Resolve);
            self.due = Some(at + secs(s.quiet_s));
        }
        if let Some(id) = &self.incident {
            return vec![Action::Recur(id.clone())];
        }
        let window = secs(s.window_s);
        let recent = self
            .hits
            .iter()
            .filter(|&&t| s.window_s == 0 || t > at - window)
            .count();
        if recent < s.count.max(1) as usize {
            if s.quiet_s > 0 {
                self.pending = None;
                self.due = None;
            }
            return Vec::new();
        }
        self.active = true;
        self.since = at;
        let a = self.open_or_reopen(s, at);
        if s.quiet_s > 0 {
            self.pending = Some(Pending::Resolve);
            self.due = Some(at + secs(s.quiet_s));
        }
        vec![a]
    }

    /// The incident the condition led to was opened (or reopened) under `id`.
    pub fn opened(&mut self, id: String) {
        self.incident = Some(id);
    }

    /// Its incident was resolved by hand (or closed otherwise): the condition forgets it; if it still
    /// holds, the next signal that it holds opens a new incident.
    pub fn closed_by_hand(&mut self, at: DateTime<Utc>) {
        if let Some(id) = self.incident.take() {
            self.resolved = Some((id, at));
        }
        self.active = false;
        self.pending = None;
        self.due = None;
        self.hits.clear();
    }

    /// Its timer fired at `now`.
    pub fn tick(&mut self, now: DateTime<Utc>, s: &RuleSettings) -> Vec<Action> {
        if self.due.is_none_or(|d| d > now) {
            return Vec::new();
        }
        self.updated_at = now;
        match self.pending {
            Some(Pending::Open) if self.active => vec![self.open_or_reopen(s, now)],
            Some(Pending::Resolve) if self.rule.is_state() && !self.active => {
                // Flapping again since the timer was set: hold on until it stays clear.
                let hold = self.clear_hold(s, self.since);
                if self.since + hold > now {
                    self.due = Some(self.since + hold);
                    return Vec::new();
                }
                self.resolve_or_clear(now)
            }
            Some(Pending::Resolve) if !self.rule.is_state() => {
                self.active = false;
                self.since = now;
                self.resolve_or_clear(now)
            }
            _ => {
                self.pending = None;
                self.due = None;
                Vec::new()
            }
        }
    }
}
