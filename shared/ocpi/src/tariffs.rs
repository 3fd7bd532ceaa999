//! The tariffs module: the prices a location's connectors charge by, as elements of price components
//! with restrictions.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::types::{DisplayText, Price};

/// What a price component charges for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TariffDimensionType {
    /// Per kWh.
    Energy,
    /// Once.
    Flat,
    /// Per hour not charging.
    ParkingTime,
    /// Per hour charging.
    Time,
}

/// A price of an element.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PriceComponent {
    /// What for.
    #[serde(rename = "type")]
    pub kind: TariffDimensionType,
    /// Per unit, excluding VAT.
    #[serde(with = "cpms_ocpp::number")]
    pub price: Decimal,
    /// VAT (%).
    #[serde(
        default,
        with = "cpms_ocpp::number::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub vat: Option<Decimal>,
    /// Billed in steps of this (Wh, or seconds).
    pub step_size: u32,
}

/// When an element applies: all that is given must hold.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TariffRestrictions {
    /// From this local time (`HH:MM`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_time: Option<String>,
    /// Until this local time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_time: Option<String>,
    /// From this local date (`YYYY-MM-DD`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_date: Option<String>,
    /// Until this local date.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_date: Option<String>,
    /// From this energy (kWh).
    #[serde(
        default,
        with = "cpms_ocpp::number::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub min_kwh: Option<Decimal>,
    /// Below this energy.
    #[serde(
        default,
        with = "cpms_ocpp::number::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub max_kwh: Option<Decimal>,
    /// From this current (A).
    #[serde(
        default,
        with = "cpms_ocpp::number::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub min_current: Option<Decimal>,
    /// Below this current.
    #[serde(
        default,
        with = "cpms_ocpp::number::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub max_current: Option<Decimal>,
    /// From this power (kW).
    #[serde(
        default,
        with = "cpms_ocpp::number::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub min_power: Option<Decimal>,
    /// Below this power.
    #[serde(
        default,
        with = "cpms_ocpp::number::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub max_power: Option<Decimal>,
    /// From this many seconds into the session.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_duration: Option<u32>,
    /// Until this many seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_duration: Option<u32>,
    /// On these days (`MONDAY` ...).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub day_of_week: Vec<String>,
    /// `RESERVATION` or `RESERVATION_EXPIRES`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reservation: Option<String>,
}

/// Price components and when they apply.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TariffElement {
    /// The prices.
    pub price_components: Vec<PriceComponent>,
    /// When.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restrictions: Option<TariffRestrictions>,
}

/// A tariff.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tariff {
    /// The CPO's country.
    pub country_code: String,
    /// The CPO's party id.
    pub party_id: String,
    /// Id (`CiString(36)`).
    pub id: String,
    /// ISO 4217.
    pub currency: String,
    /// `AD_HOC_PAYMENT`, `PROFILE_CHEAP`, `PROFILE_FAST`, `PROFILE_GREEN`, `REGULAR`.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// In words.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tariff_alt_text: Vec<DisplayText>,
    /// A session costs at least this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_price: Option<Price>,
    /// At most this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_price: Option<Price>,
    /// Its elements.
    pub elements: Vec<TariffElement>,
    /// Valid from.
    #[serde(
        default,
        with = "cpms_ocpp::datetime::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub start_date_time: Option<DateTime<Utc>>,
    /// Valid until.
    #[serde(
        default,
        with = "cpms_ocpp::datetime::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub end_date_time: Option<DateTime<Utc>>,
    /// Last changed.
    #[serde(with = "cpms_ocpp::datetime")]
    pub last_updated: DateTime<Utc>,
}
