//! Meter samples in one unit system for both OCPP versions: energy in Wh (varh), power in W (var, VA),
//! current in A, voltage in V, temperature in degrees Celsius, frequency in Hz, state of charge in percent.
//! Prefixed units (kWh, kW, ...), 2.0.1 power-of-ten multipliers, kelvin and Fahrenheit are converted.

use std::str::FromStr;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// The measurand whose register gives a session's energy.
pub const ENERGY_IMPORT_REGISTER: &str = "Energy.Active.Import.Register";
/// Active power drawn.
pub const POWER_IMPORT: &str = "Power.Active.Import";
/// Current drawn.
pub const CURRENT_IMPORT: &str = "Current.Import";
/// State of charge.
pub const SOC: &str = "SoC";
/// Voltage.
pub const VOLTAGE: &str = "Voltage";

/// One sampled value, normalized.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct MeterSample {
    /// When the charger sampled it.
    pub timestamp: DateTime<Utc>,
    /// OCPP measurand name (`Energy.Active.Import.Register`, `Power.Active.Import`, `SoC`, ...).
    pub measurand: String,
    /// The value in `unit`; `None` for signed data the CSMS cannot read.
    #[schemars(with = "Option<f64>")]
    #[serde(with = "cpms_ocpp::number::option")]
    pub value: Option<Decimal>,
    /// `Wh`, `varh`, `W`, `var`, `VA`, `A`, `V`, `Celsius`, `Hz`, `Percent`, or the charger's own unit
    /// when it is none of those.
    pub unit: String,
    /// Phase (`L1`, `L1-N`, ...), when the value is per phase.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<String>,
    /// Where it was measured (`Outlet`, `EV`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    /// Why it was sampled (`Sample.Periodic`, `Transaction.Begin`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<String>,
    /// Signed meter data, kept verbatim for calibration-law audits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signed_data: Option<String>,
}

/// What makes a sample one fact: the same reading sent twice (a retransmission with a new message id, a
/// 2.0.1 event resent with a new seqNo) has the same key and is stored once. A different value for the
/// same series and time (a stuck clock, a correction) is not a repeat: it is kept.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SampleKey {
    /// The series: measurand, phase, location and context.
    pub series: String,
    /// When it was sampled.
    pub timestamp: DateTime<Utc>,
    /// The value (normalized, so `1.50` and `1.5` are one) or the signed data.
    pub value: String,
}

impl MeterSample {
    /// An overall `Energy.Active.Import.Register` reading of `wh` at `timestamp`.
    pub fn register_wh(timestamp: DateTime<Utc>, wh: Decimal) -> Self {
        MeterSample {
            timestamp,
            measurand: ENERGY_IMPORT_REGISTER.into(),
            value: Some(wh),
            unit: "Wh".into(),
            phase: None,
            location: None,
            context: None,
            signed_data: None,
        }
    }

    /// The sample's identity.
    pub fn key(&self) -> SampleKey {
        let value = match (&self.value, &self.signed_data) {
            (Some(v), _) => v.normalize().to_string(),
            (None, Some(d)) => d.clone(),
            (None, None) => String::new(),
        };
        SampleKey {
            series: self.series(),
            timestamp: self.timestamp,
            value,
        }
    }

    /// The series it belongs to: `measurand|phase|location|context`.
    pub fn series(&self) -> String {
        format!(
            "{}|{}|{}|{}",
            self.measurand,
            self.phase.as_deref().unwrap_or(""),
            self.location.as_deref().unwrap_or(""),
            self.context.as_deref().unwrap_or("")
        )
    }

    /// Whether this is an overall (not per-phase) reading of `measurand` with a value.
    pub fn is_total(&self, measurand: &str) -> bool {
        self.measurand == measurand && self.phase.is_none() && self.value.is_some()
    }
}

/// The unit a measurand is in when the charger does not say.
pub fn default_unit(measurand: &str) -> &'static str {
    match measurand {
        m if m.starts_with("Energy.Reactive") => "varh",
        m if m.starts_with("Energy") => "Wh",
        m if m.starts_with("Power.Reactive") => "var",
        "Power.Factor" => "",
        m if m.starts_with("Power") => "W",
        m if m.starts_with("Current") => "A",
        "Voltage" => "V",
        "Frequency" => "Hz",
        "Temperature" => "Celsius",
        "SoC" => "Percent",
        "RPM" => "RPM",
        _ => "",
    }
}

/// Reads a sampled value written as text (1.6), allowing exponents (`1.5E3`).
pub fn parse_value(text: &str) -> Option<Decimal> {
    let t = text.trim();
    Decimal::from_str(t)
        .ok()
        .or_else(|| Decimal::from_scientific(t).ok())
}

/// Converts `value` in `unit` (times 10^`multiplier`) to the normalized unit. Returns the value and the
/// unit it is now in; a unit the CSMS does not know is kept as it is.
pub fn to_si(value: Decimal, unit: &str, multiplier: i32) -> (Decimal, String) {
    let value = scale(value, multiplier);
    let thousand = Decimal::from(1000);
    let (v, u) = match unit {
        "kWh" => (value * thousand, "Wh"),
        "kvarh" => (value * thousand, "varh"),
        "kW" => (value * thousand, "W"),
        "kvar" => (value * thousand, "var"),
        "kVA" => (value * thousand, "VA"),
        "K" => (value - Decimal::new(27315, 2), "Celsius"),
        "Fahrenheit" => (
            ((value - Decimal::from(32)) * Decimal::from(5) / Decimal::from(9)).round_dp(3),
            "Celsius",
        ),
        "Celsius" | "Celcius" => (value, "Celsius"),
        "Hertz" => (value, "Hz"),
        other => return (value, other.to_string()),
    };
    (v.normalize(), u.to_string())
}

fn scale(value: Decimal, multiplier: i32) -> Decimal {
    let ten = Decimal::TEN;
    let mut v = value;
    for _ in 0..multiplier.unsigned_abs().min(12) {
        v = if multiplier > 0 {
            v.checked_mul(ten).unwrap_or(v)
        } else {
            v / ten
        };
    }
    v
}

#[cfg(test)]
mod tests {
    use rust_decimal::Decimal;

    use super::*;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    #[test]
    fn prefixed_units_become_base_units() {
        assert_eq!(to_si(d("12.345"), "kWh", 0), (d("12345"), "Wh".into()));
        assert_eq!(to_si(d("7.2"), "kW", 0), (d("7200"), "W".into()));
        assert_eq!(to_si(d("300"), "K", 0), (d("26.85"), "Celsius".into()));
        assert_eq!(
            to_si(d("212"), "Fahrenheit", 0),
            (d("100"), "Celsius".into())
        );
        assert_eq!(to_si(d("21"), "Celcius", 0), (d("21"), "Celsius".into()));
        assert_eq!(to_si(d("16"), "A", 0), (d("16"), "A".into()));
    }

    #[test]
    fn multipliers_scale_exactly() {
        assert_eq!(to_si(d("12.5"), "kWh", 0), to_si(d("12500"), "Wh", 0));
        assert_eq!(to_si(d("125"), "Wh", 2).0, d("12500"));
        assert_eq!(to_si(d("125"), "W", -1).0, d("12.5"));
    }

    #[test]
    fn values_are_read_with_exponents() {
        assert_eq!(parse_value(" 1500 "), Some(d("1500")));
        assert_eq!(parse_value("1.5E3"), Some(d("1500")));
        assert_eq!(parse_value("abc"), None);
    }

    #[test]
    fn default_units_follow_the_measurand() {
        assert_eq!(default_unit("Energy.Active.Import.Register"), "Wh");
        assert_eq!(default_unit("Energy.Reactive.Export.Interval"), "varh");
        assert_eq!(default_unit("Power.Active.Import"), "W");
        assert_eq!(default_unit("SoC"), "Percent");
    }
}
