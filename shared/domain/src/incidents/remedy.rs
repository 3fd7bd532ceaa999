//! Auto-remediation: a rule's ladder of standard remedies, tried in turn through the command path while
//! its incident stays open, each checked for effect before the next. A step that would interrupt a
//! charging session is skipped unless the rule allows it; a charger gets at most the tenant's number of
//! remedies a day.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::OcppVersion;
use crate::command::{CommandRequest, ResetKind, ResetWhen};

/// A remedy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    /// Ask for the connector's status again (TriggerMessage StatusNotification).
    TriggerStatus,
    /// Soft reset of the charger.
    SoftReset,
    /// Hard reset of the charger.
    HardReset,
    /// Take the EVSE out of service (ChangeAvailability Inoperative) so drivers are not sent to it.
    SetInoperative,
}

impl Step {
    /// The snake_case name.
    pub fn name(self) -> &'static str {
        match self {
            Step::TriggerStatus => "trigger_status",
            Step::SoftReset => "soft_reset",
            Step::HardReset => "hard_reset",
            Step::SetInoperative => "set_inoperative",
        }
    }

    /// Whether it would stop a session in progress.
    pub fn interrupts(self) -> bool {
        !matches!(self, Step::TriggerStatus)
    }

    /// The command that carries it out on `evse` (0: the charger) of a charger speaking `version`.
    pub fn command(self, evse: u32, version: OcppVersion) -> CommandRequest {
        let evse_id = (evse > 0).then_some(evse);
        let v16 = version == OcppVersion::V16;
        match self {
            Step::TriggerStatus => CommandRequest::TriggerMessage {
                message: "StatusNotification".into(),
                evse_id,
                connector_id: None,
            },
            // 1.6: a soft reset; 2.0.1 has none and waits until the charger is idle.
            Step::SoftReset => CommandRequest::Reset {
                kind: v16.then_some(ResetKind::Soft),
                when: (!v16).then_some(ResetWhen::OnIdle),
                evse_id: None,
            },
            Step::HardReset => CommandRequest::Reset {
                kind: v16.then_some(ResetKind::Hard),
                when: (!v16).then_some(ResetWhen::Immediate),
                evse_id: None,
            },
            Step::SetInoperative => CommandRequest::ChangeAvailability {
                operative: false,
                evse_id,
                connector_id: None,
            },
        }
    }
}

/// Where an incident's remediation stands.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
pub struct RemedyState {
    /// Index of the next step to try.
    pub next_step: usize,
    /// The step last sent, and its command.
    #[serde(default)]
    pub last: Option<(Step, String)>,
    /// When the last step's effect is checked (or the ladder goes on).
    #[serde(default)]
    pub check_at: Option<DateTime<Utc>>,
    /// Every step is done (or skipped).
    #[serde(default)]
    pub exhausted: bool,
    /// The step after which the condition cleared.
    #[serde(default)]
    pub cleared_by: Option<Step>,
}

/// What to do next on an incident's ladder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Send this step (its index).
    Send(usize, Step),
    /// Skip this step (its index): it would interrupt a session.
    Skip(usize, Step),
    /// Nothing left.
    Done,
}

impl RemedyState {
    /// The next step of `ladder` when a session `charging` is (or is not) in progress.
    pub fn next(&self, ladder: &[Step], charging: bool, may_interrupt: bool) -> Next {
        match ladder.get(self.next_step) {
            None => Next::Done,
            Some(&s) if s.interrupts() && charging && !may_interrupt => {
                Next::Skip(self.next_step, s)
            }
            Some(&s) => Next::Send(self.next_step, s),
        }
    }
}

/// Remedies sent to one charger on one UTC day (the tenant's daily limit counts them).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemedyBudget {
    /// Owner.
    pub tenant: crate::TenantId,
    /// The charger.
    pub charger_id: String,
    /// The day.
    pub day: chrono::NaiveDate,
    /// Remedies sent.
    pub used: u32,
}

impl RemedyBudget {
    /// Its record id.
    pub fn key(charger: &str, day: chrono::NaiveDate) -> String {
        format!("{charger}|{day}")
    }
}
