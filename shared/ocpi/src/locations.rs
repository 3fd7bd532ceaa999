//! The locations module: a location (a site) with its EVSEs and their connectors, and their live
//! status.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::types::{BusinessDetails, DisplayText, GeoLocation, Place};

/// An EVSE's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum EvseStatus {
    /// Free to charge.
    Available,
    /// Blocked (a car parked in front of it, not charging).
    Blocked,
    /// In use.
    Charging,
    /// Not working: the operator took it out (maintenance).
    Inoperative,
    /// Broken.
    Outoforder,
    /// Planned, not yet built.
    Planned,
    /// Removed.
    Removed,
    /// Reserved.
    Reserved,
    /// Not known (no status reported, or the charger is offline).
    Unknown,
}

/// How power is delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum PowerType {
    /// AC, one phase.
    #[serde(rename = "AC_1_PHASE")]
    Ac1Phase,
    /// AC, two phases.
    #[serde(rename = "AC_2_PHASE")]
    Ac2Phase,
    /// AC, two phases of a split-phase supply.
    #[serde(rename = "AC_2_PHASE_SPLIT")]
    Ac2PhaseSplit,
    /// AC, three phases.
    #[serde(rename = "AC_3_PHASE")]
    Ac3Phase,
    /// DC.
    Dc,
}

/// A socket or a tethered cable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum ConnectorFormat {
    /// A socket: the driver brings the cable.
    Socket,
    /// A cable attached to the charger.
    Cable,
}

/// A connector.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Connector {
    /// Id within its EVSE (`CiString(36)`).
    pub id: String,
    /// Its standard (`IEC_62196_T2`, `IEC_62196_T2_COMBO`, `CHADEMO`, `IEC_62196_T1`, ...).
    pub standard: String,
    /// Socket or cable.
    pub format: ConnectorFormat,
    /// AC or DC.
    pub power_type: PowerType,
    /// Voltage (V; line to neutral for AC).
    pub max_voltage: u32,
    /// Current (A; per phase for AC).
    pub max_amperage: u32,
    /// Power (W), where less than voltage times current.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_electric_power: Option<u32>,
    /// Tariffs that apply here.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tariff_ids: Vec<String>,
    /// Terms and conditions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub terms_and_conditions: Option<String>,
    /// Last changed.
    #[serde(with = "cpms_ocpp::datetime")]
    pub last_updated: DateTime<Utc>,
}

/// An EVSE: what one car charges at.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evse {
    /// Unique within the CPO, stable (`CiString(36)`).
    pub uid: String,
    /// The eMI3 EVSE id (`NL*ABC*E12345*1`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evse_id: Option<String>,
    /// Its status.
    pub status: EvseStatus,
    /// What it can do (`REMOTE_START_STOP_CAPABLE`, `RFID_READER`, `RESERVABLE`, `UNLOCK_CAPABLE`,
    /// `CHARGING_PROFILE_CAPABLE`, ...).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub capabilities: Vec<String>,
    /// Its connectors (at least one).
    pub connectors: Vec<Connector>,
    /// Where it is, when not where the location is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub coordinates: Option<GeoLocation>,
    /// The number or name on it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub physical_reference: Option<String>,
    /// Last changed (its status included).
    #[serde(with = "cpms_ocpp::datetime")]
    pub last_updated: DateTime<Utc>,
}

/// A location: a site with EVSEs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Location {
    /// The CPO's country.
    pub country_code: String,
    /// The CPO's party id.
    pub party_id: String,
    /// Id (`CiString(36)`).
    pub id: String,
    /// Shown to drivers.
    pub publish: bool,
    /// Name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Its address and coordinates.
    #[serde(flatten)]
    pub place: Place,
    /// `ALONG_MOTORWAY`, `PARKING_GARAGE`, `PARKING_LOT`, `ON_DRIVEWAY`, `ON_STREET`,
    /// `UNDERGROUND_GARAGE`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parking_type: Option<String>,
    /// Its EVSEs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub evses: Vec<Evse>,
    /// Directions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub directions: Vec<DisplayText>,
    /// Who operates it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operator: Option<BusinessDetails>,
    /// IANA time zone (`Europe/Amsterdam`).
    pub time_zone: String,
    /// Last changed (anything in it included).
    #[serde(with = "cpms_ocpp::datetime")]
    pub last_updated: DateTime<Utc>,
}

/// What a PATCH of an EVSE's status carries.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvseStatusPatch {
    /// The new status.
    pub status: EvseStatus,
    /// When it changed.
    #[serde(with = "cpms_ocpp::datetime")]
    pub last_updated: DateTime<Utc>,
}
