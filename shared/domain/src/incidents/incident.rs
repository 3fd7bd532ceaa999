//! An incident: what people follow up. Open, acknowledged, resolved (by hand or by itself when its
//! condition clears), reopened when it recurs soon after; with a severity, an assignee, notes, and a
//! timeline of everything that happened to it (signals, remedies, notifications, human actions). Times
//! to acknowledge and to resolve are kept, and each target a severity has is checked once.

use chrono::{DateTime, Duration, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::condition::Resource;
use super::remedy::RemedyState;
use super::rules::{RuleId, Severity, Targets};
use crate::TenantId;

/// Most entries an incident's timeline keeps; past that, the oldest signals are dropped (human
/// actions and the first entry stay).
pub const MAX_ENTRIES: usize = 300;
/// Most chargers a site incident lists.
pub const MAX_ATTACHED: usize = 2_000;

/// Where an incident stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum IncidentState {
    /// Nobody has taken it yet.
    Open,
    /// Someone is on it.
    Acknowledged,
    /// Over.
    Resolved,
}

impl IncidentState {
    /// The snake_case name.
    pub fn name(self) -> &'static str {
        match self {
            IncidentState::Open => "open",
            IncidentState::Acknowledged => "acknowledged",
            IncidentState::Resolved => "resolved",
        }
    }
}

/// What an entry of an incident's timeline records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum EntryKind {
    /// It opened.
    Opened,
    /// The condition was seen again.
    Signal,
    /// A charger was attached to a site incident.
    Attached,
    /// A remedy was sent, skipped, or its effect checked.
    Remedy,
    /// A notification was sent (or failed).
    Notification,
    /// It escalated to the next tier.
    Escalated,
    /// Someone acknowledged it.
    Acknowledged,
    /// Someone was assigned.
    Assigned,
    /// A note.
    Note,
    /// A target was missed.
    Breached,
    /// It resolved.
    Resolved,
    /// It recurred after it resolved.
    Reopened,
}

/// One entry of an incident's timeline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct IncidentEntry {
    /// When.
    pub at: DateTime<Utc>,
    /// What.
    pub kind: EntryKind,
    /// In words.
    pub text: String,
    /// Who (`system`, `key:<id>`).
    pub by: String,
}

/// How far an incident has escalated.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
pub struct Escalation {
    /// The policy.
    #[serde(default)]
    pub policy: Option<String>,
    /// The tier notified last (0: the first).
    pub tier: usize,
    /// Times the last tier was notified again.
    #[serde(default)]
    pub repeats: u32,
    /// When the next tier (or repeat) is due if nobody acknowledges.
    #[serde(default)]
    pub next_at: Option<DateTime<Utc>>,
    /// Notifications made (the next one's sequence number).
    #[serde(default)]
    pub sent: u32,
    /// The tier waits for its business hours (it has not been notified yet).
    #[serde(default)]
    pub waiting: bool,
}

/// An incident.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Incident {
    /// Owner.
    #[schemars(skip)]
    pub tenant: TenantId,
    /// Id (time-ordered).
    pub id: String,
    /// The rule that opened it.
    pub rule: RuleId,
    /// What it is about.
    pub resource: Resource,
    /// The resource's site.
    #[serde(default)]
    pub site_id: Option<String>,
    /// Where it stands.
    pub state: IncidentState,
    /// How bad.
    pub severity: Severity,
    /// One line.
    pub title: String,
    /// The last signal, in words.
    pub detail: String,
    /// Who fixes it, when known (vendor codes).
    #[serde(default)]
    pub responsible: Option<String>,
    /// Assigned to.
    #[serde(default)]
    pub assignee: Option<String>,
    /// Site incidents: the chargers that went offline with the site.
    #[serde(default)]
    pub chargers: Vec<String>,
    /// Opened.
    pub opened_at: DateTime<Utc>,
    /// Acknowledged.
    #[serde(default)]
    pub acknowledged_at: Option<DateTime<Utc>>,
    /// Resolved.
    #[serde(default)]
    pub resolved_at: Option<DateTime<Utc>>,
    /// Resolved by itself (its condition cleared) rather than by a person.
    #[serde(default)]
    pub auto_resolved: bool,
    /// Times it reopened.
    #[serde(default)]
    pub reopened: u32,
    /// Remediation.
    #[serde(default)]
    pub remedy: RemedyState,
    /// Escalation.
    #[serde(default)]
    pub escalation: Escalation,
    /// Targets missed (`acknowledge`, `resolve`).
    #[serde(default)]
    pub breached: Vec<String>,
    /// Everything that happened to it, oldest first.
    pub entries: Vec<IncidentEntry>,
    /// Its next timer (remedy check, escalation, target), for the sweep.
    #[serde(default)]
    pub due: Option<DateTime<Utc>>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
}

/// Who the system is in an incident's timeline.
pub const SYSTEM: &str = "system";

impl Incident {
    /// A new open incident.
    #[allow(clippy::too_many_arguments)]
    pub fn open(
        tenant: TenantId,
        id: String,
        rule: RuleId,
        resource: Resource,
        site_id: Option<String>,
        severity: Severity,
        title: String,
        detail: String,
        now: DateTime<Utc>,
    ) -> Self {
        let mut i = Incident {
            tenant,
            id,
            rule,
            resource,
            site_id,
            state: IncidentState::Open,
            severity,
            title,
            detail: detail.clone(),
            responsible: None,
            assignee: None,
            chargers: Vec::new(),
            opened_at: now,
            acknowledged_at: None,
            resolved_at: None,
            auto_resolved: false,
            reopened: 0,
            remedy: RemedyState::default(),
            escalation: Escalation::default(),
            breached: Vec::new(),
            entries: Vec::new(),
            due: None,
            updated_at: now,
        };
        i.log(now, EntryKind::Opened, detail, SYSTEM);
        i
    }

    /// Adds an entry to its timeline.
    pub fn log(&mut self, at: DateTime<Utc>, kind: EntryKind, text: String, by: &str) {
        let mut text = text;
        if text.len() > 500 {
            let mut end = 500;
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            text.truncate(end);
        }
        self.entries.push(IncidentEntry {
            at,
            kind,
            text,
            by: by.to_string(),
        });
        if self.entries.len() > MAX_ENTRIES {
            // Drop the oldest repeat of a signal (or else the oldest entry after the first).
            let drop = self
                .entries
                .iter()
                .skip(1)
                .position(|e| e.kind == EntryKind::Signal || e.kind == EntryKind::Notification)
                .map_or(1, |p| p + 1);
            self.entries.remove(drop);
        }
        self.updated_at = at;
    }

    /// Whether it is still open (acknowledged or not).
    pub fn is_open(&self) -> bool {
        self.state != IncidentState::Resolved
    }

    /// Someone acknowledged it; false when it was not open.
    pub fn acknowledge(&mut self, by: &str, now: DateTime<Utc>) -> bool {
        if self.state != IncidentState::Open {
            return false;
        }
        self.state = IncidentState::Acknowledged;
        self.acknowledged_at = Some(now);
        self.escalation.next_at = None;
        self.log(
            now,
            EntryKind::Acknowledged,
            format!("acknowledged by {by}"),
            by,
        );
        true
    }

    /// It resolved (`by`: the system when its condition cleared); false when it already was.
    pub fn resolve(&mut self, by: &str, text: String, now: DateTime<Utc>) -> bool {
        if !self.is_open() {
            return false;
        }
        self.state = IncidentState::Resolved;
        self.resolved_at = Some(now);
        self.auto_resolved = by == SYSTEM;
        self.escalation.next_at = None;
        self.remedy.check_at = None;
        self.due = None;
        self.log(now, EntryKind::Resolved, text, by);
        true
    }

    /// It recurred after it resolved.
    pub fn reopen(&mut self, detail: String, now: DateTime<Utc>) {
        self.state = IncidentState::Open;
        self.reopened += 1;
        self.resolved_at = None;
        self.acknowledged_at = None;
        self.auto_resolved = false;
        self.remedy = RemedyState::default();
        self.escalation = Escalation {
            policy: self.escalation.policy.clone(),
            sent: self.escalation.sent,
            ..Escalation::default()
        };
        self.detail = detail.clone();
        self.log(now, EntryKind::Reopened, detail, SYSTEM);
    }

    /// Time to acknowledge (or to resolve, for one resolved unacknowledged).
    pub fn time_to_acknowledge(&self) -> Option<Duration> {
        self.acknowledged_at
            .or(self.resolved_at)
            .map(|t| t - self.opened_at)
    }

    /// Time to resolve.
    pub fn time_to_resolve(&self) -> Option<Duration> {
        self.resolved_at.map(|t| t - self.opened_at)
    }

    /// The targets it missed by `now` and has not been marked for (`acknowledge`, `resolve`); each is
    /// marked.
    pub fn breaches(&mut self, t: Targets, now: DateTime<Utc>) -> Vec<&'static str> {
        let mut out = Vec::new();
        let late = |target: u32, done: Option<DateTime<Utc>>| {
            target > 0
                && done.unwrap_or(now) - self.opened_at > Duration::seconds(i64::from(target))
        };
        if late(t.acknowledge_s, self.acknowledged_at.or(self.resolved_at))
            && !self.breached.iter().any(|b| b == "acknowledge")
        {
            out.push("acknowledge");
        }
        if late(t.resolve_s, self.resolved_at) && !self.breached.iter().any(|b| b == "resolve") {
            out.push("resolve");
        }
        for b in &out {
            self.breached.push((*b).to_string());
            self.log(
                now,
                EntryKind::Breached,
                format!("the {b} target was missed"),
                SYSTEM,
            );
        }
        out
    }

    /// The next target deadline not yet reached or marked.
    pub fn next_target(&self, t: Targets) -> Option<DateTime<Utc>> {
        let at = |s: u32| self.opened_at + Duration::seconds(i64::from(s));
        let mut next = None;
        if self.is_open() {
            if self.acknowledged_at.is_none()
                && t.acknowledge_s > 0
                && !self.breached.iter().any(|b| b == "acknowledge")
            {
                next = Some(at(t.acknowledge_s));
            }
            if t.resolve_s > 0 && !self.breached.iter().any(|b| b == "resolve") {
                let r = at(t.resolve_s);
                next = Some(next.map_or(r, |n: DateTime<Utc>| n.min(r)));
            }
        }
        next
    }

    /// Sets `due` to the earliest of its timers.
    pub fn schedule(&mut self, t: Targets) {
        if !self.is_open() {
            self.due = None;
            return;
        }
        self.due = [
            self.remedy.check_at,
            self.escalation.next_at,
            self.next_target(t),
        ]
        .into_iter()
        .flatten()
        .min();
    }

    /// Attaches a charger to a site incident; false when it already was.
    pub fn attach(&mut self, charger: &str, now: DateTime<Utc>) -> bool {
        if self.chargers.iter().any(|c| c == charger) || self.chargers.len() >= MAX_ATTACHED {
            return false;
        }
        self.chargers.push(charger.to_string());
        self.log(
            now,
            EntryKind::Attached,
            format!("{charger} is offline with the site"),
            SYSTEM,
        );
        true
    }
}
