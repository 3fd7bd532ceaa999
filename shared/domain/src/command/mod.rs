//! Commands to chargers: what the operator asked for, the OCPP call it became, and what came of it.
//!
//! A command is queued, then sent (at most one CALL in flight per charger: the charger's
//! [`OutboundLane`] names it), then ends in exactly one of: answered (the charger's CALLRESULT, kept
//! whole), error (its CALLERROR), timed out (no answer by the deadline) or failed (never reached the
//! charger, or the charger went away before answering).

mod ocpp;
pub mod profile;
mod request;

use chrono::{DateTime, Duration, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use ocpp::to_ocpp;
pub use profile::{
    ChargingProfile, ProfileKind, ProfilePurpose, RateUnit, Recurrency, SchedulePeriod,
};
pub use request::{CommandRequest, ListUpdate, LocalListEntry, ResetKind, ResetWhen};

use crate::{ChargerId, OcppVersion, TenantId};

/// Where a command is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CommandState {
    /// Waiting behind another command to the same charger.
    Queued,
    /// Sent; waiting for the answer.
    Sent,
    /// The charger answered with a CALLRESULT (see `result` and `status`).
    Answered,
    /// The charger answered with a CALLERROR (see `error`).
    Error,
    /// No answer before the deadline.
    TimedOut,
    /// Not delivered, or the charger disconnected before answering (see `reason`).
    Failed,
}

impl CommandState {
    /// Whether the command still waits for something.
    pub fn is_open(self) -> bool {
        matches!(self, CommandState::Queued | CommandState::Sent)
    }
}

/// A charger's CALLERROR.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct CallErrorInfo {
    /// The error code as the charger sent it.
    pub code: String,
    /// Its description.
    pub description: String,
    /// Its details.
    #[serde(default)]
    pub details: Value,
}

/// A command.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Command {
    /// Tenant.
    pub tenant: TenantId,
    /// Time-ordered id; also the OCPP message id of the CALL.
    pub id: String,
    /// The charger.
    pub charger: ChargerId,
    /// What the operator asked for.
    pub request: CommandRequest,
    /// The version it was mapped for.
    pub ocpp_version: OcppVersion,
    /// The OCPP action.
    pub action: String,
    /// The OCPP payload.
    pub payload: Value,
    /// Where it is.
    pub state: CommandState,
    /// Seconds the charger has to answer once the call is sent.
    pub timeout_s: u32,
    /// Who asked (API key id).
    pub created_by: String,
    /// Asked.
    pub created_at: DateTime<Utc>,
    /// Sent.
    #[serde(default)]
    pub sent_at: Option<DateTime<Utc>>,
    /// The answer is due by then.
    #[serde(default)]
    pub deadline: Option<DateTime<Utc>>,
    /// Ended.
    #[serde(default)]
    pub completed_at: Option<DateTime<Utc>>,
    /// The CALLRESULT payload.
    #[serde(default)]
    pub result: Option<Value>,
    /// The `status` of the CALLRESULT (`Accepted`, `Rejected`, `Unlocked`, ...), when it has one.
    #[serde(default)]
    pub status: Option<String>,
    /// The CALLERROR.
    #[serde(default)]
    pub error: Option<CallErrorInfo>,
    /// Why it failed or timed out.
    #[serde(default)]
    pub reason: Option<String>,
}

impl Command {
    /// Marks it sent now, due in `timeout_s`.
    pub fn sent(&mut self, now: DateTime<Utc>) {
        self.state = CommandState::Sent;
        self.sent_at = Some(now);
        self.deadline = Some(now + Duration::seconds(i64::from(self.timeout_s)));
    }

    /// Records the charger's CALLRESULT. Reports collected before it (a charger may send its
    /// ReportChargingProfiles before the CSMS has read the answer) are kept.
    pub fn answered(&mut self, mut payload: Value, now: DateTime<Utc>) {
        self.status = payload
            .get("status")
            .and_then(Value::as_str)
            .map(str::to_string);
        if let (Some(Value::Object(before)), Value::Object(answer)) =
            (self.result.take(), &mut payload)
        {
            for key in ["reports", "reports_complete"] {
                if let Some(v) = before.get(key) {
                    answer.insert(key.to_string(), v.clone());
                }
            }
        }
        self.result = Some(payload);
        self.end(CommandState::Answered, now);
    }

    /// Records the charger's CALLERROR.
    pub fn errored(&mut self, error: CallErrorInfo, now: DateTime<Utc>) {
        self.error = Some(error);
        self.end(CommandState::Error, now);
    }

    /// No answer in time.
    pub fn timed_out(&mut self, now: DateTime<Utc>) {
        self.reason = Some(format!(
            "the charger did not answer within {} s",
            self.timeout_s
        ));
        self.end(CommandState::TimedOut, now);
    }

    /// Not delivered, or abandoned.
    pub fn failed(&mut self, reason: impl Into<String>, now: DateTime<Utc>) {
        self.reason = Some(reason.into());
        self.end(CommandState::Failed, now);
    }

    fn end(&mut self, state: CommandState, now: DateTime<Utc>) {
        self.state = state;
        self.completed_at = Some(now);
        self.redact_secrets();
    }

    /// Whether the call sets the charger's Basic-auth password (redacted or not).
    pub fn sets_password(&self) -> bool {
        crate::credentials::password_set_by(self.ocpp_version, &self.action, &self.payload)
            .is_some()
    }

    /// Hides a password the command carries (an ended command is stored redacted; an open one keeps it
    /// until it is sent and answered, and is shown redacted).
    pub fn redact_secrets(&mut self) {
        use crate::credentials::{REDACTED, redact_password};
        if !redact_password(self.ocpp_version, &self.action, &mut self.payload) {
            return;
        }
        match &mut self.request {
            CommandRequest::ChangeConfiguration { value, .. } => *value = REDACTED.to_string(),
            CommandRequest::RotatePassword { password } => *password = None,
            CommandRequest::Raw { payload, .. } => {
                redact_password(self.ocpp_version, &self.action, payload);
            }
            _ => {}
        }
    }

    /// Whether a sent command is past its deadline.
    pub fn overdue(&self, now: DateTime<Utc>) -> bool {
        self.state == CommandState::Sent && self.deadline.is_some_and(|d| now >= d)
    }
}

/// The outbound lane of a charger: the one CALL in flight to it, if any.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboundLane {
    /// Tenant.
    pub tenant: TenantId,
    /// The charger.
    pub charger: ChargerId,
    /// The command in flight.
    #[serde(default)]
    pub in_flight: Option<InFlight>,
}

/// The CALL in flight on a lane.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InFlight {
    /// The command (its id is the message id).
    pub command_id: String,
    /// The action (its response schema checks the answer).
    pub action: String,
    /// When the answer is due.
    pub deadline: DateTime<Utc>,
}

#[cfg(test)]
mod tests;
