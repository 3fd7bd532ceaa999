//! Tariffs as OCPI 2.2.1 models them: elements of price components (ENERGY per kWh, TIME per hour
//! charging, PARKING_TIME per hour connected but not charging, FLAT per session), each with a price
//! excluding VAT, a VAT percentage and a step size; restrictions saying when an element applies; a
//! minimum and maximum price. One engine (`price`) turns a session's usage into a priced result that
//! the live cost, the CDR and the invoice all take their numbers from.

mod check;
pub mod money;
mod price;
mod restriction;
pub mod running;
pub mod usage;

#[cfg(test)]
mod tests;

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

pub use check::{TariffCheck, check};
pub use money::{Price, round_money, with_vat};
pub use price::{CdrDimension, ChargingPeriod, Priced, VatLine, components_at, price};
pub use running::ReadingSummary;
pub use usage::{Slice, Usage};

use crate::TenantId;

/// What a price component charges for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Dimension {
    /// Per kWh; step size in Wh.
    Energy,
    /// Once per session; no step size.
    Flat,
    /// Per hour charging; step size in seconds.
    Time,
    /// Per hour connected but not charging; step size in seconds.
    ParkingTime,
}

/// One price of a tariff element.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PriceComponent {
    /// The dimension.
    #[serde(rename = "type")]
    pub dimension: Dimension,
    /// Price per unit (kWh, hour, session), excluding VAT.
    #[schemars(with = "f64")]
    #[serde(with = "cpms_ocpp::number")]
    pub price: Decimal,
    /// VAT percentage; absent means no VAT applies (which is not the same as 0 %).
    #[schemars(with = "Option<f64>")]
    #[serde(
        default,
        with = "cpms_ocpp::number::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub vat: Option<Decimal>,
    /// Billed in blocks of this many Wh (ENERGY) or seconds (TIME, PARKING_TIME); 1 for FLAT.
    pub step_size: u32,
}

/// Days of the week, as OCPI names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[allow(missing_docs)]
pub enum DayOfWeek {
    Monday,
    Tuesday,
    Wednesday,
    Thursday,
    Friday,
    Saturday,
    Sunday,
}

impl DayOfWeek {
    /// The chrono weekday.
    pub fn weekday(self) -> chrono::Weekday {
        use chrono::Weekday::*;
        match self {
            DayOfWeek::Monday => Mon,
            DayOfWeek::Tuesday => Tue,
            DayOfWeek::Wednesday => Wed,
            DayOfWeek::Thursday => Thu,
            DayOfWeek::Friday => Fri,
            DayOfWeek::Saturday => Sat,
            DayOfWeek::Sunday => Sun,
        }
    }
}

/// When an element applies; all given restrictions must hold (they are ANDed). Times and dates are in
/// the site's time zone; `min_*` bounds are inclusive, `max_*` bounds exclusive.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Restrictions {
    /// From this local time of day (`HH:MM`).
    #[schemars(with = "Option<String>")]
    #[serde(default, with = "hhmm", skip_serializing_if = "Option::is_none")]
    pub start_time: Option<NaiveTime>,
    /// Until this local time of day (`HH:MM`, exclusive); before `start_time` means across midnight.
    #[schemars(with = "Option<String>")]
    #[serde(default, with = "hhmm", skip_serializing_if = "Option::is_none")]
    pub end_time: Option<NaiveTime>,
    /// From this local date (`YYYY-MM-DD`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_date: Option<NaiveDate>,
    /// Until this local date (exclusive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_date: Option<NaiveDate>,
    /// From this much energy charged in the session (kWh).
    #[schemars(with = "Option<f64>")]
    #[serde(
        default,
        with = "cpms_ocpp::number::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub min_kwh: Option<Decimal>,
    /// Until this much energy charged in the session (kWh).
    #[schemars(with = "Option<f64>")]
    #[serde(
        default,
        with = "cpms_ocpp::number::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub max_kwh: Option<Decimal>,
    /// While the current (sum over phases, A) is at least this.
    #[schemars(with = "Option<f64>")]
    #[serde(
        default,
        with = "cpms_ocpp::number::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub min_current: Option<Decimal>,
    /// While the current (sum over phases, A) is below this.
    #[schemars(with = "Option<f64>")]
    #[serde(
        default,
        with = "cpms_ocpp::number::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub max_current: Option<Decimal>,
    /// While the power (kW) is at least this.
    #[schemars(with = "Option<f64>")]
    #[serde(
        default,
        with = "cpms_ocpp::number::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub min_power: Option<Decimal>,
    /// While the power (kW) is below this.
    #[schemars(with = "Option<f64>")]
    #[serde(
        default,
        with = "cpms_ocpp::number::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub max_power: Option<Decimal>,
    /// From this many seconds after the session started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_duration: Option<u32>,
    /// Until this many seconds after the session started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_duration: Option<u32>,
    /// On these local days.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub day_of_week: Vec<DayOfWeek>,
    /// `RESERVATION` or `RESERVATION_EXPIRES`: the element prices reservations, not sessions (such
    /// elements are kept and shown, and skipped when a session is priced).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reservation: Option<String>,
}

/// Price components and when they apply.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TariffElement {
    /// The prices (at most one per dimension).
    pub price_components: Vec<PriceComponent>,
    /// When they apply; absent: always.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restrictions: Option<Restrictions>,
}

/// The pricing terms of a tariff: what the engine needs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TariffTerms {
    /// ISO 4217 currency (`EUR`).
    pub currency: String,
    /// The elements, in order: per dimension the first one whose restrictions hold applies.
    pub elements: Vec<TariffElement>,
    /// A session costs at least this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_price: Option<Price>,
    /// A session costs at most this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_price: Option<Price>,
}

/// A tariff of a tenant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tariff {
    /// Owner.
    pub tenant: TenantId,
    /// Id (1 to 36 of `A-Z a-z 0-9 - _ .`, as OCPI tariff ids).
    pub id: String,
    /// Name shown to operators and drivers.
    pub name: String,
    /// The terms.
    pub terms: TariffTerms,
    /// Valid for sessions starting at or after this.
    #[serde(default)]
    pub start_date_time: Option<DateTime<Utc>>,
    /// Valid for sessions starting before this.
    #[serde(default)]
    pub end_date_time: Option<DateTime<Utc>>,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last changed (OCPI `last_updated`).
    pub updated_at: DateTime<Utc>,
}

impl Tariff {
    /// Whether a session starting at `at` is priced by this tariff.
    pub fn valid_at(&self, at: DateTime<Utc>) -> bool {
        self.start_date_time.is_none_or(|s| at >= s) && self.end_date_time.is_none_or(|e| at < e)
    }
}

/// OCPI local times of day: `HH:MM`.
mod hhmm {
    use chrono::NaiveTime;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(t: &Option<NaiveTime>, s: S) -> Result<S::Ok, S::Error> {
        match t {
            Some(t) => s.serialize_str(&t.format("%H:%M").to_string()),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<NaiveTime>, D::Error> {
        let Some(text) = Option::<String>::deserialize(d)? else {
            return Ok(None);
        };
        let ok = text.len() == 5 && text.as_bytes()[2] == b':';
        ok.then(|| NaiveTime::parse_from_str(&text, "%H:%M").ok())
            .flatten()
            .map(Some)
            .ok_or_else(|| serde::de::Error::custom(format!("{text:?} is not a time of day HH:MM")))
    }
}
