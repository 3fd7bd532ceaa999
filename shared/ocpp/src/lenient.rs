//! The charger quirks the CSMS forgives instead of rejecting, because rejecting them would lose meter data
//! or a whole session (a charger drops a transaction message after a few CallErrors). Each forgiven quirk
//! is reported by [`crate::schema::validate_lenient`] so the caller can record it.
//!
//! | quirk | where | read as |
//! |---|---|---|
//! | `number_as_string` | 1.6 `SampledValue.value` sent as a JSON number | its decimal text |
//! | `fractional_integer` | 1.6 `meterStart` / `meterStop` with a fraction | rounded to the nearest Wh |
//! | `enum_typo` | enumerations of sampled values (`measurand`, `unit`, `context`, `phase`, `location`) written with other case or punctuation, or a known misspelling | the value it names |
//!
//! Anything else keeps its CallError.

use serde_json::Value;

use crate::schema::{Place, Schema, Violation, ViolationKind};

/// Objects whose enumerations are matched leniently: the sampled values of both versions.
const SAMPLED_VALUE_OBJECTS: [&str; 2] = ["SampledValue", "SampledValueType"];

/// Integer fields that carry meter registers in Wh and are sometimes sent with a fraction.
const METER_INTEGERS: [(&str, &str); 2] = [
    ("StartTransactionRequest", "meterStart"),
    ("StopTransactionRequest", "meterStop"),
];

/// Misspellings seen in the field, and what they mean.
const ALIASES: [(&str, &str); 6] = [
    ("celsius", "Celcius"),
    ("celcius", "Celsius"),
    ("percentage", "Percent"),
    ("hz", "Hertz"),
    ("degc", "Celsius"),
    ("soc", "SoC"),
];

/// Rewrites `value` when its violation is a forgivable quirk; returns the quirk's name.
pub(crate) fn forgive(
    value: &mut Value,
    schema: &Schema,
    place: Place,
    violation: &Violation,
) -> Option<&'static str> {
    match (schema, violation.kind, &*value) {
        (Schema::String { .. }, ViolationKind::Type, Value::Number(n))
            if place.object == "SampledValue" && place.property == "value" =>
        {
            *value = Value::String(n.to_string());
            Some("number_as_string")
        }
        (Schema::Integer { .. }, ViolationKind::Type, Value::Number(n))
            if METER_INTEGERS.contains(&(place.object, place.property)) =>
        {
            let rounded = n.as_f64()?.round();
            (rounded.abs() < 9.0e15).then(|| {
                *value = Value::from(rounded as i64);
                "fractional_integer"
            })
        }
        (Schema::Enum(allowed), ViolationKind::Enum, Value::String(s))
            if SAMPLED_VALUE_OBJECTS.contains(&place.object) =>
        {
            let found = closest(allowed, s)?;
            *value = Value::String(found.to_string());
            Some("enum_typo")
        }
        _ => None,
    }
}

/// The allowed value `s` means: equal ignoring case and punctuation, or a known misspelling.
fn closest(allowed: &[&'static str], s: &str) -> Option<&'static str> {
    let key = squash(s);
    if let Some(v) = allowed.iter().find(|v| squash(v) == key) {
        return Some(v);
    }
    ALIASES
        .iter()
        .filter(|(typo, _)| *typo == key)
        .find_map(|(_, meant)| allowed.iter().find(|v| *v == meant).copied())
}

fn squash(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::schema::{ViolationKind, validate, validate_lenient};
    use crate::{OcppVersion, schema};

    #[test]
    fn meter_values_with_numbers_and_typos_are_forgiven_and_reported() {
        let s = schema(OcppVersion::V16, "MeterValues", false).unwrap();
        let mut p = json!({"connectorId": 1, "transactionId": 5, "meterValue": [
            {"timestamp": "2024-01-01T00:00:00Z", "sampledValue": [
                {"value": 1234.5, "unit": "kwh", "measurand": "energy.active.import.register"},
                {"value": "20", "unit": "Celsius", "measurand": "Temperature"}]}]});
        assert!(validate(&mut p.clone(), s).is_err());
        let quirks = validate_lenient(&mut p, s).unwrap();
        let kinds: Vec<_> = quirks.iter().map(|q| (q.kind, q.path.as_str())).collect();
        assert_eq!(
            kinds,
            [
                ("number_as_string", "/meterValue/0/sampledValue/0/value"),
                ("enum_typo", "/meterValue/0/sampledValue/0/measurand"),
                ("enum_typo", "/meterValue/0/sampledValue/0/unit"),
            ]
        );
        let sv = &p["meterValue"][0]["sampledValue"][0];
        assert_eq!(sv["value"], "1234.5");
        assert_eq!(sv["unit"], "kWh");
        assert_eq!(sv["measurand"], "Energy.Active.Import.Register");
    }

    #[test]
    fn fractional_meter_registers_are_rounded() {
        let s = schema(OcppVersion::V16, "StopTransaction", false).unwrap();
        let mut p = json!({"transactionId": 1, "meterStop": 1500.6,
                           "timestamp": "2024-01-01T00:00:00Z"});
        let quirks = validate_lenient(&mut p, s).unwrap();
        assert_eq!(quirks[0].kind, "fractional_integer");
        assert_eq!(p["meterStop"], 1501);
    }

    #[test]
    fn other_violations_are_not_forgiven() {
        let s = schema(OcppVersion::V16, "StopTransaction", false).unwrap();
        let mut p = json!({"transactionId": 1.5, "meterStop": 1,
                           "timestamp": "2024-01-01T00:00:00Z"});
        assert_eq!(
            validate_lenient(&mut p, s).unwrap_err().kind,
            ViolationKind::Type
        );
        let s = schema(OcppVersion::V16, "StatusNotification", false).unwrap();
        let mut p = json!({"connectorId": 1, "status": "available", "errorCode": "NoError"});
        assert!(validate_lenient(&mut p, s).is_err());
    }
}
