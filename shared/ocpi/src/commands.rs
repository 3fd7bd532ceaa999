//! The commands module (the CPO is its receiver): what an eMSP asks of a charger, the synchronous answer,
//! and the result POSTed to its `response_url` once the charger has answered.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::check::Check;
use crate::tokens::Token;
use crate::types::DisplayText;

/// A command.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum CommandType {
    /// Cancel a reservation.
    CancelReservation,
    /// Reserve an EVSE.
    ReserveNow,
    /// Start a session.
    StartSession,
    /// Stop a session.
    StopSession,
    /// Unlock a connector.
    UnlockConnector,
}

impl CommandType {
    /// Of its URL segment (`START_SESSION`).
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "CANCEL_RESERVATION" => CommandType::CancelReservation,
            "RESERVE_NOW" => CommandType::ReserveNow,
            "START_SESSION" => CommandType::StartSession,
            "STOP_SESSION" => CommandType::StopSession,
            "UNLOCK_CONNECTOR" => CommandType::UnlockConnector,
            _ => return None,
        })
    }
}

/// START_SESSION.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StartSession {
    /// Where the result goes.
    pub response_url: String,
    /// The token to charge with.
    pub token: Token,
    /// Where.
    pub location_id: String,
    /// Which EVSE (optional in the specification; required here when the location has more than one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evse_uid: Option<String>,
    /// Which connector.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connector_id: Option<String>,
    /// The eMSP's reference.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization_reference: Option<String>,
}

/// STOP_SESSION.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StopSession {
    /// Where the result goes.
    pub response_url: String,
    /// The session.
    pub session_id: String,
}

/// RESERVE_NOW.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReserveNow {
    /// Where the result goes.
    pub response_url: String,
    /// For this token.
    pub token: Token,
    /// Until.
    #[serde(with = "cpms_ocpp::datetime")]
    pub expiry_date: DateTime<Utc>,
    /// The eMSP's id of the reservation.
    pub reservation_id: String,
    /// Where.
    pub location_id: String,
    /// Which EVSE.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evse_uid: Option<String>,
    /// The eMSP's reference.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization_reference: Option<String>,
}

/// CANCEL_RESERVATION.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CancelReservation {
    /// Where the result goes.
    pub response_url: String,
    /// The reservation.
    pub reservation_id: String,
}

/// UNLOCK_CONNECTOR.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnlockConnector {
    /// Where the result goes.
    pub response_url: String,
    /// Where.
    pub location_id: String,
    /// Which EVSE.
    pub evse_uid: String,
    /// Which connector.
    pub connector_id: String,
}

/// The synchronous answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum CommandResponseType {
    /// The CPO does not do this.
    NotSupported,
    /// It cannot now.
    Rejected,
    /// It will be sent to the charger; the result follows.
    Accepted,
    /// No such session.
    UnknownSession,
}

/// The synchronous answer to a command.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommandResponse {
    /// Accepted or why not.
    pub result: CommandResponseType,
    /// Seconds within which the result will be posted.
    pub timeout: u32,
    /// In words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<DisplayText>,
}

/// What the charger did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum CommandResultType {
    /// Done.
    Accepted,
    /// The reservation was cancelled.
    CanceledReservation,
    /// Another car is there.
    EvseOccupied,
    /// The EVSE is out of order or inoperative.
    EvseInoperative,
    /// It failed.
    Failed,
    /// The charger does not do this.
    NotSupported,
    /// It refused.
    Rejected,
    /// No answer from the charger in time.
    Timeout,
    /// No such reservation.
    UnknownReservation,
}

/// The result POSTed to `response_url`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommandResult {
    /// What happened.
    pub result: CommandResultType,
    /// In words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<DisplayText>,
}

/// Checks the fields commands share.
pub fn check_common(
    response_url: &str,
    location_id: Option<&str>,
    evse_uid: Option<&str>,
) -> Result<(), String> {
    let mut c = Check::new();
    c.len("response_url", response_url, 255);
    if !(response_url.starts_with("http://") || response_url.starts_with("https://")) {
        c.fail("response_url: an http(s) URL");
    }
    if let Some(l) = location_id {
        c.ci("location_id", l, 36);
    }
    if let Some(e) = evse_uid {
        c.ci("evse_uid", e, 36);
    }
    c.done()
}
