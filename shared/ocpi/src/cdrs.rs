//! The CDRs module: the final, priced record of a session. Never changed once sent: a correction is a
//! credit CDR (`credit: true`, `credit_reference_id`) and a new one.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::locations::{ConnectorFormat, PowerType};
use crate::sessions::{AuthMethod, CdrToken};
use crate::tariffs::Tariff;
use crate::types::{Place, Price};

/// What a period's volume measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum CdrDimensionType {
    /// Average current (A).
    Current,
    /// Energy (kWh).
    Energy,
    /// Energy exported (kWh).
    EnergyExport,
    /// Energy imported (kWh).
    EnergyImport,
    /// Highest current (A).
    MaxCurrent,
    /// Lowest current (A).
    MinCurrent,
    /// Highest power (kW).
    MaxPower,
    /// Lowest power (kW).
    MinPower,
    /// Parking time (h).
    ParkingTime,
    /// Average power (kW).
    Power,
    /// Reservation time (h).
    ReservationTime,
    /// State of charge (%).
    StateOfCharge,
    /// Charging time (h).
    Time,
}

/// One measured volume of a period.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CdrDimension {
    /// What.
    #[serde(rename = "type")]
    pub kind: CdrDimensionType,
    /// How much.
    #[serde(with = "cpms_ocpp::number")]
    pub volume: Decimal,
}

/// A period of a session under one set of prices.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChargingPeriod {
    /// When it began.
    #[serde(with = "cpms_ocpp::datetime")]
    pub start_date_time: DateTime<Utc>,
    /// What it consumed.
    pub dimensions: Vec<CdrDimension>,
    /// The tariff that priced it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tariff_id: Option<String>,
}

/// Where a CDR's session took place (a copy: the location may change later).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CdrLocation {
    /// Location id.
    pub id: String,
    /// Its name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Its address and coordinates.
    #[serde(flatten)]
    pub place: Place,
    /// The EVSE's uid.
    pub evse_uid: String,
    /// The EVSE's eMI3 id.
    pub evse_id: String,
    /// The connector.
    pub connector_id: String,
    /// Its standard.
    pub connector_standard: String,
    /// Its format.
    pub connector_format: ConnectorFormat,
    /// Its power type.
    pub connector_power_type: PowerType,
}

/// A CDR.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cdr {
    /// The CPO's country.
    pub country_code: String,
    /// The CPO's party id.
    pub party_id: String,
    /// Id (`CiString(39)`).
    pub id: String,
    /// Start.
    #[serde(with = "cpms_ocpp::datetime")]
    pub start_date_time: DateTime<Utc>,
    /// End.
    #[serde(with = "cpms_ocpp::datetime")]
    pub end_date_time: DateTime<Utc>,
    /// The session.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    /// The token.
    pub cdr_token: CdrToken,
    /// How it was authorized.
    pub auth_method: AuthMethod,
    /// The eMSP's reference of the authorization.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization_reference: Option<String>,
    /// Where.
    pub cdr_location: CdrLocation,
    /// The meter.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meter_id: Option<String>,
    /// ISO 4217.
    pub currency: String,
    /// The tariffs that priced it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tariffs: Vec<Tariff>,
    /// Its periods (at least one).
    pub charging_periods: Vec<ChargingPeriod>,
    /// What it costs.
    pub total_cost: Price,
    /// Of which fixed (FLAT).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_fixed_cost: Option<Price>,
    /// Energy (kWh).
    #[serde(with = "cpms_ocpp::number")]
    pub total_energy: Decimal,
    /// Of the cost, for energy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_energy_cost: Option<Price>,
    /// Time from start to end (h).
    #[serde(with = "cpms_ocpp::number")]
    pub total_time: Decimal,
    /// Of the cost, for time charging.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_time_cost: Option<Price>,
    /// Time not charging (h).
    #[serde(
        default,
        with = "cpms_ocpp::number::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub total_parking_time: Option<Decimal>,
    /// Of the cost, for parking.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_parking_cost: Option<Price>,
    /// A remark.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remark: Option<String>,
    /// A credit CDR: it cancels `credit_reference_id`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credit: Option<bool>,
    /// The CDR a credit cancels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credit_reference_id: Option<String>,
    /// Last changed (for a CDR: made).
    #[serde(with = "cpms_ocpp::datetime")]
    pub last_updated: DateTime<Utc>,
}
