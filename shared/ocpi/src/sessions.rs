//! The sessions module: a charging session as the CPO reports it while it runs, and the token that
//! started it.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::cdrs::ChargingPeriod;
use crate::tokens::TokenType;
use crate::types::Price;

/// A session's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum SessionStatus {
    /// Energy flows, or may.
    Active,
    /// Ended, its CDR follows.
    Completed,
    /// Never started (e.g. no car came).
    Invalid,
    /// Accepted, not yet started.
    Pending,
    /// A reservation.
    Reservation,
}

/// How the session was authorized.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AuthMethod {
    /// Against the eMSP in real time.
    AuthRequest,
    /// A command (START_SESSION).
    Command,
    /// A whitelist (tokens the eMSP pushed).
    Whitelist,
}

/// The token of a session or CDR.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CdrToken {
    /// The eMSP's country.
    pub country_code: String,
    /// The eMSP's party id.
    pub party_id: String,
    /// The token's uid.
    pub uid: String,
    /// Its type.
    #[serde(rename = "type")]
    pub kind: TokenType,
    /// The contract it belongs to.
    pub contract_id: String,
}

/// A session.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Session {
    /// The CPO's country.
    pub country_code: String,
    /// The CPO's party id.
    pub party_id: String,
    /// Id (`CiString(36)`).
    pub id: String,
    /// Start.
    #[serde(with = "cpms_ocpp::datetime")]
    pub start_date_time: DateTime<Utc>,
    /// End, once ended.
    #[serde(
        default,
        with = "cpms_ocpp::datetime::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub end_date_time: Option<DateTime<Utc>>,
    /// Energy charged so far (kWh).
    #[serde(with = "cpms_ocpp::number")]
    pub kwh: Decimal,
    /// The token.
    pub cdr_token: CdrToken,
    /// How it was authorized.
    pub auth_method: AuthMethod,
    /// The eMSP's reference of the authorization.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization_reference: Option<String>,
    /// Where.
    pub location_id: String,
    /// Which EVSE.
    pub evse_uid: String,
    /// Which connector.
    pub connector_id: String,
    /// Its meter.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meter_id: Option<String>,
    /// ISO 4217.
    pub currency: String,
    /// What it consumed so far, by period.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub charging_periods: Vec<ChargingPeriod>,
    /// Its cost so far.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_cost: Option<Price>,
    /// Its state.
    pub status: SessionStatus,
    /// Last changed.
    #[serde(with = "cpms_ocpp::datetime")]
    pub last_updated: DateTime<Utc>,
}
