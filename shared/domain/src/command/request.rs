//! The operator's vocabulary of commands, one for both OCPP versions. Chargers are addressed by EVSE:
//! `evse_id` is the 2.0.1 EVSE id and the 1.6 connectorId (1.6 has one connector per "EVSE");
//! `connector_id` picks a connector of a 2.0.1 EVSE.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::profile::{ChargingProfile, ProfilePurpose, RateUnit};

/// A command an operator sends to a charger.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum CommandRequest {
    /// Start a session for a token (1.6 RemoteStartTransaction, 2.0.1 RequestStartTransaction).
    StartSession {
        /// The token the session is for.
        id_token: String,
        /// 2.0.1 IdTokenEnumType (default `Central`).
        #[serde(default)]
        id_token_type: Option<String>,
        /// Where (the charger chooses when absent; 2.0.1 chargers may require it).
        #[serde(default)]
        evse_id: Option<u32>,
        /// A transaction profile (purpose `tx`, no transaction id) to charge the session with.
        #[serde(default)]
        charging_profile: Option<ChargingProfile>,
    },
    /// Install a charging profile (SetChargingProfile). `evse_id` 0 is the whole charger.
    SetChargingProfile {
        /// The EVSE (1.6 connectorId); 0 for a charger maximum or a charger-wide default.
        evse_id: u32,
        /// The profile.
        profile: ChargingProfile,
    },
    /// Remove charging profiles (ClearChargingProfile): by id, or by EVSE, purpose and stack level
    /// (all given criteria must match; none clears every profile the CSMS may clear).
    ClearChargingProfile {
        /// The profile id.
        #[serde(default)]
        id: Option<i32>,
        /// The EVSE (1.6 connectorId).
        #[serde(default)]
        evse_id: Option<u32>,
        /// The purpose.
        #[serde(default)]
        purpose: Option<ProfilePurpose>,
        /// The stack level.
        #[serde(default)]
        stack_level: Option<u32>,
    },
    /// Ask for the schedule an EVSE will follow (GetCompositeSchedule).
    GetCompositeSchedule {
        /// The EVSE (1.6 connectorId); 0: the charger's total.
        evse_id: u32,
        /// How far ahead, in seconds.
        duration_s: u32,
        /// The unit wanted (the charger's choice when absent).
        #[serde(default)]
        rate_unit: Option<RateUnit>,
    },
    /// 2.0.1: ask for the installed profiles (GetChargingProfiles); the ReportChargingProfiles that
    /// follow are collected into the command's result under `reports`.
    GetChargingProfiles {
        /// Only this EVSE (0: the charger's own).
        #[serde(default)]
        evse_id: Option<u32>,
        /// Only this purpose.
        #[serde(default)]
        purpose: Option<ProfilePurpose>,
        /// Only this stack level.
        #[serde(default)]
        stack_level: Option<u32>,
        /// Only these ids.
        #[serde(default)]
        ids: Vec<i32>,
    },
    /// Stop a session (1.6 RemoteStopTransaction, 2.0.1 RequestStopTransaction).
    StopSession {
        /// The OCPP transaction id (the part after `~` of a session id).
        transaction_id: String,
    },
    /// Reset the charger (1.6 Reset soft/hard; 2.0.1 Reset immediate/on idle).
    Reset {
        /// 1.6 only: `soft` (default) or `hard`.
        #[serde(default)]
        kind: Option<ResetKind>,
        /// 2.0.1 only: `immediate` (default) or `on_idle`.
        #[serde(default)]
        when: Option<ResetWhen>,
        /// 2.0.1 only: reset one EVSE.
        #[serde(default)]
        evse_id: Option<u32>,
    },
    /// Unlock a connector (a cable stuck in it).
    UnlockConnector {
        /// The EVSE (1.6 connectorId).
        evse_id: u32,
        /// 2.0.1 connector of the EVSE (default 1).
        #[serde(default)]
        connector_id: Option<u32>,
    },
    /// Make the charger, an EVSE or a connector (un)available.
    ChangeAvailability {
        /// `true`: Operative; `false`: Inoperative.
        operative: bool,
        /// The EVSE; absent or 0 means the whole charger.
        #[serde(default)]
        evse_id: Option<u32>,
        /// 2.0.1 connector of the EVSE.
        #[serde(default)]
        connector_id: Option<u32>,
    },
    /// Read configuration (1.6 GetConfiguration; 2.0.1 GetVariables). 2.0.1 keys are
    /// `Component.Variable` (`OCPPCommCtrlr.HeartbeatInterval`); no keys reads all (1.6 only).
    GetConfiguration {
        /// Keys to read.
        #[serde(default)]
        keys: Vec<String>,
    },
    /// Change one setting (1.6 ChangeConfiguration; 2.0.1 SetVariables, key `Component.Variable`).
    ChangeConfiguration {
        /// The key.
        key: String,
        /// Its new value.
        value: String,
    },
    /// Ask the charger to send a message now (`BootNotification`, `Heartbeat`, `StatusNotification`,
    /// `MeterValues`, ...: the requestedMessage values of the charger's version).
    TriggerMessage {
        /// The message.
        message: String,
        /// About this EVSE (1.6 connectorId).
        #[serde(default)]
        evse_id: Option<u32>,
        /// 2.0.1 connector of the EVSE.
        #[serde(default)]
        connector_id: Option<u32>,
    },
    /// Clear the charger's authorization cache.
    ClearCache {},
    /// Install firmware from a URL.
    UpdateFirmware {
        /// Where the charger downloads it.
        location: String,
        /// When to download it.
        retrieve_at: DateTime<Utc>,
        /// Download attempts.
        #[serde(default)]
        retries: Option<u32>,
        /// Seconds between attempts.
        #[serde(default)]
        retry_interval_s: Option<u32>,
        /// 2.0.1: PEM certificate that signed the firmware.
        #[serde(default)]
        signing_certificate: Option<String>,
        /// 2.0.1: base64 signature of the firmware.
        #[serde(default)]
        signature: Option<String>,
    },
    /// Upload diagnostics (1.6 GetDiagnostics; 2.0.1 GetLog with DiagnosticsLog) to a URL.
    GetDiagnostics {
        /// Where the charger uploads them.
        location: String,
        /// Oldest entries wanted.
        #[serde(default)]
        from: Option<DateTime<Utc>>,
        /// Newest entries wanted.
        #[serde(default)]
        to: Option<DateTime<Utc>>,
        /// Upload attempts.
        #[serde(default)]
        retries: Option<u32>,
        /// Seconds between attempts.
        #[serde(default)]
        retry_interval_s: Option<u32>,
    },
    /// Send the local authorization list.
    SendLocalList {
        /// The list's version after this update.
        version: i32,
        /// `full` replaces the list; `differential` changes the entries given.
        update: ListUpdate,
        /// Entries (in a differential update, an entry without status is removed).
        #[serde(default)]
        entries: Vec<LocalListEntry>,
    },
    /// Read the local authorization list's version.
    GetLocalListVersion {},
    /// Reserve an EVSE (or the charger) for a token until a time.
    Reserve {
        /// Id of the reservation (generated when absent).
        #[serde(default)]
        reservation_id: Option<i32>,
        /// When it ends.
        expires_at: DateTime<Utc>,
        /// For whom.
        id_token: String,
        /// 2.0.1 IdTokenEnumType (default `Central`).
        #[serde(default)]
        id_token_type: Option<String>,
        /// The EVSE (1.6 connectorId; absent: any, connector 0 in 1.6).
        #[serde(default)]
        evse_id: Option<u32>,
    },
    /// Cancel a reservation.
    CancelReservation {
        /// Its id.
        reservation_id: i32,
    },
    /// A vendor-specific DataTransfer.
    DataTransfer {
        /// Vendor.
        vendor_id: String,
        /// Message id.
        #[serde(default)]
        message_id: Option<String>,
        /// Data (1.6 carries a string: other JSON is sent as its text).
        #[serde(default)]
        data: Option<Value>,
    },
    /// Give the charger a new Basic-auth password (1.6 ChangeConfiguration `AuthorizationKey`, 2.0.1
    /// SetVariables `SecurityCtrlr.BasicAuthPassword`). The CSMS generates it (40 hexadecimal
    /// characters) unless one is given, lets the charger in with it once it accepts (or once it connects
    /// with it), and with the old one until then. The password is never shown.
    RotatePassword {
        /// The new password (16 to 40 characters; hexadecimal for 1.6); generated when absent.
        #[serde(default)]
        password: Option<String>,
    },
    /// Any action of the charger's version with its payload, checked against the official schema.
    Raw {
        /// The OCPP action.
        action: String,
        /// Its payload.
        payload: Value,
    },
}

/// 1.6 reset kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ResetKind {
    /// Stop sessions, restart software.
    Soft,
    /// Restart hardware.
    Hard,
}

/// 2.0.1 reset timing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ResetWhen {
    /// Stop sessions and reset now.
    Immediate,
    /// Reset when no session runs.
    OnIdle,
}

/// How a local list is updated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ListUpdate {
    /// Replace.
    Full,
    /// Change.
    Differential,
}

/// A local list entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LocalListEntry {
    /// The token.
    pub id_token: String,
    /// 2.0.1 IdTokenEnumType (default `ISO14443`).
    #[serde(default)]
    pub id_token_type: Option<String>,
    /// OCPP authorization status (`Accepted`, `Blocked`, `Expired`, `Invalid`); absent removes the entry.
    #[serde(default)]
    pub status: Option<String>,
    /// Until when the entry is valid.
    #[serde(default)]
    pub expires_at: Option<DateTime<Utc>>,
    /// Group token (1.6 parentIdTag, 2.0.1 groupIdToken).
    #[serde(default)]
    pub group_id: Option<String>,
}

impl CommandRequest {
    /// The command's name in the vocabulary (`start_session`, ...).
    pub fn name(&self) -> &'static str {
        match self {
            CommandRequest::StartSession { .. } => "start_session",
            CommandRequest::StopSession { .. } => "stop_session",
            CommandRequest::SetChargingProfile { .. } => "set_charging_profile",
            CommandRequest::ClearChargingProfile { .. } => "clear_charging_profile",
            CommandRequest::GetCompositeSchedule { .. } => "get_composite_schedule",
            CommandRequest::GetChargingProfiles { .. } => "get_charging_profiles",
            CommandRequest::Reset { .. } => "reset",
            CommandRequest::UnlockConnector { .. } => "unlock_connector",
            CommandRequest::ChangeAvailability { .. } => "change_availability",
            CommandRequest::GetConfiguration { .. } => "get_configuration",
            CommandRequest::ChangeConfiguration { .. } => "change_configuration",
            CommandRequest::TriggerMessage { .. } => "trigger_message",
            CommandRequest::ClearCache {} => "clear_cache",
            CommandRequest::UpdateFirmware { .. } => "update_firmware",
            CommandRequest::GetDiagnostics { .. } => "get_diagnostics",
            CommandRequest::SendLocalList { .. } => "send_local_list",
            CommandRequest::GetLocalListVersion {} => "get_local_list_version",
            CommandRequest::Reserve { .. } => "reserve",
            CommandRequest::CancelReservation { .. } => "cancel_reservation",
            CommandRequest::DataTransfer { .. } => "data_transfer",
            CommandRequest::RotatePassword { .. } => "rotate_password",
            CommandRequest::Raw { .. } => "raw",
        }
    }
}
