//! The charger log: what a charger reported that is not state (security events, device events, reports,
//! data transfers), and what the CSMS refused from it. Support teams read it; alerting will consume it.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{ChargerId, TenantId};

/// What a log entry records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum LogKind {
    /// SecurityEventNotification.
    SecurityEvent,
    /// 2.0.1 NotifyEvent (device model events: faults, thresholds).
    DeviceEvent,
    /// 2.0.1 NotifyReport part (device model report).
    Report,
    /// DataTransfer from the charger.
    DataTransfer,
    /// Another notification kept as received (LogStatusNotification, ReservationStatusUpdate, ...).
    Notification,
    /// A CALL the CSMS answered with a CallError.
    RejectedCall,
    /// A connection attempt the CSMS refused (bad password, unsupported protocol).
    ConnectionRejected,
}

/// One entry of a charger's log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct LogEntry {
    /// Owner.
    pub tenant: TenantId,
    /// The charger.
    pub charger_id: ChargerId,
    /// When the CSMS received it.
    pub at: DateTime<Utc>,
    /// What it is.
    pub kind: LogKind,
    /// One line for lists (`FirmwareUpdated`, `NotImplemented: Foo`).
    pub summary: String,
    /// The details as received.
    pub data: serde_json::Value,
}

/// A refused connection from a charger identity that is not registered (or not valid), kept outside any
/// tenant so operators can spot misconfigured chargers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ConnectionAttempt {
    /// The identity it presented, as received.
    pub identity: String,
    /// When.
    pub at: DateTime<Utc>,
    /// Why it was refused.
    pub reason: String,
    /// Peer address, when known.
    #[serde(default)]
    pub remote_addr: Option<String>,
}
