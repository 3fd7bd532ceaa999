//! The charging profiles module (the CPO is its receiver): a limit a smart charging service sets on a
//! running session, answered at once and then with the result at `response_url`.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// The unit of a profile's limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ChargingRateUnit {
    /// Watts.
    W,
    /// Amperes (per phase).
    A,
}

/// One period of a profile.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChargingProfilePeriod {
    /// Seconds after the profile's start.
    pub start_period: u32,
    /// The limit.
    #[serde(with = "cpms_ocpp::number")]
    pub limit: Decimal,
}

/// A charging profile.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChargingProfile {
    /// When it begins (absent: now).
    #[serde(
        default,
        with = "cpms_ocpp::datetime::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub start_date_time: Option<DateTime<Utc>>,
    /// How long it lasts (s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<u32>,
    /// Its unit.
    pub charging_rate_unit: ChargingRateUnit,
    /// The least rate the car should get.
    #[serde(
        default,
        with = "cpms_ocpp::number::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub min_charging_rate: Option<Decimal>,
    /// Its periods.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub charging_profile_period: Vec<ChargingProfilePeriod>,
}

/// `PUT .../chargingprofiles/{session_id}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SetChargingProfile {
    /// The profile.
    pub charging_profile: ChargingProfile,
    /// Where the result goes.
    pub response_url: String,
}

/// The synchronous answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ChargingProfileResponseType {
    /// It will be sent; the result follows.
    Accepted,
    /// The charger cannot take profiles.
    NotSupported,
    /// Not now.
    Rejected,
    /// Too often.
    TooOften,
    /// No such session.
    UnknownSession,
}

/// The synchronous answer to a profile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChargingProfileResponse {
    /// Accepted or why not.
    pub result: ChargingProfileResponseType,
    /// Seconds within which the result will be posted.
    pub timeout: u32,
}

/// What the charger did with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ChargingProfileResultType {
    /// Applied.
    Accepted,
    /// Refused.
    Rejected,
    /// No such session.
    Unknown,
}

/// The result POSTed to `response_url`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChargingProfileResult {
    /// What happened.
    pub result: ChargingProfileResultType,
}
