//! A validator for the OCPP JSON schemas. The generated tables (`v16::schema`, `v201::schema`) describe
//! each message; [`validate`] walks a payload against them and reports the first violation with its
//! JSON-pointer path and the CallError code it deserves.
//!
//! Code per violation (OCPP-J "RPC framework" error table):
//! missing required field, too few or too many array items -> OccurrenceConstraintViolation;
//! wrong JSON type -> TypeConstraintViolation; value outside its enumeration, too long, out of range,
//! not a multiple, unreadable date-time -> PropertyConstraintViolation; property the schema does not
//! declare -> FormatViolation (the payload does not conform to the PDU structure).

use std::str::FromStr;

use rust_decimal::Decimal;
use serde_json::Value;

use crate::ErrorCode;

/// One place of a schema.
#[derive(Debug)]
pub enum Schema {
    /// Anything (2.0.1 `DataTransfer.data`).
    Any,
    /// `true` or `false`.
    Boolean,
    /// A whole number, optionally bounded.
    Integer {
        /// Inclusive lower bound.
        min: Option<f64>,
        /// Inclusive upper bound.
        max: Option<f64>,
    },
    /// A number, optionally bounded and restricted to multiples of a step (written as in the schema).
    Number {
        /// Inclusive lower bound.
        min: Option<f64>,
        /// Inclusive upper bound.
        max: Option<f64>,
        /// The value must be a multiple of this.
        multiple_of: Option<&'static str>,
    },
    /// A string of at most `max_len` characters.
    String {
        /// Longest allowed length in characters.
        max_len: Option<u32>,
    },
    /// A string holding an RFC 3339 date-time.
    DateTime,
    /// A string from a fixed list.
    Enum(&'static [&'static str]),
    /// A list.
    Array {
        /// Schema of every item.
        items: &'static Schema,
        /// Fewest items.
        min_items: Option<u32>,
        /// Most items.
        max_items: Option<u32>,
    },
    /// An object.
    Object(&'static Object),
}

/// An object schema.
#[derive(Debug)]
pub struct Object {
    /// The type name the specification gives it.
    pub name: &'static str,
    /// Whether properties the schema does not declare are allowed.
    pub additional: bool,
    /// The declared properties.
    pub props: &'static [Prop],
}

/// One declared property of an object.
#[derive(Debug)]
pub struct Prop {
    /// The JSON name.
    pub name: &'static str,
    /// Whether it must be present.
    pub required: bool,
    /// Its schema.
    pub schema: &'static Schema,
}

/// Which side sends the CALL of an action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// The charger calls the CSMS.
    ChargerToCsms,
    /// The CSMS calls the charger.
    CsmsToCharger,
    /// Either side (DataTransfer).
    Both,
}

/// What a payload got wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ViolationKind {
    /// Wrong JSON type.
    Type,
    /// A required property is missing.
    Required,
    /// A property the schema does not declare.
    AdditionalProperty,
    /// A string outside its enumeration.
    Enum,
    /// A string longer than allowed.
    MaxLength,
    /// A number below its minimum.
    Minimum,
    /// A number above its maximum.
    Maximum,
    /// A number that is not a multiple of its step.
    MultipleOf,
    /// Fewer array items than required.
    MinItems,
    /// More array items than allowed.
    MaxItems,
    /// A date-time that cannot be read.
    DateTime,
    /// A whole number too large to handle.
    Range,
}

/// The first violation found in a payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// What is wrong.
    pub kind: ViolationKind,
    /// JSON pointer to the offending value (`/meterValue/0/timestamp`); empty for the payload itself.
    pub path: String,
    /// A sentence saying what is wrong.
    pub message: String,
}

impl Violation {
    /// The CallError code this violation deserves.
    pub fn error_code(&self) -> ErrorCode {
        use ViolationKind::*;
        match self.kind {
            Type => ErrorCode::TypeConstraintViolation,
            Required | MinItems | MaxItems => ErrorCode::OccurrenceConstraintViolation,
            AdditionalProperty => ErrorCode::FormatViolation,
            Enum | MaxLength | Minimum | Maximum | MultipleOf | DateTime | Range => {
                ErrorCode::PropertyConstraintViolation
            }
        }
    }

    fn new(kind: ViolationKind, message: String) -> Self {
        Violation {
            kind,
            path: String::new(),
            message,
        }
    }

    fn under(mut self, segment: &str) -> Self {
        let escaped = segment.replace('~', "~0").replace('/', "~1");
        self.path = format!("/{escaped}{}", self.path);
        self
    }
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

/// Checks `value` against `schema`. Whole numbers written with a zero fraction (`5.0`) are accepted where
/// an integer is expected (as JSON Schema draft 6 does) and rewritten as integers in place, so that the
/// typed messages can read them.
pub fn validate(value: &mut Value, schema: &Schema) -> Result<(), Violation> {
    Walker { quirks: None }.walk(value, schema, Place::ROOT)
}

/// Like [`validate`], but first forgives the known charger quirks of [`crate::lenient`], rewriting the
/// value in place and listing what it forgave.
pub fn validate_lenient(value: &mut Value, schema: &Schema) -> Result<Vec<Quirk>, Violation> {
    let mut quirks = Vec::new();
    Walker {
        quirks: Some(&mut quirks),
    }
    .walk(value, schema, Place::ROOT)?;
    Ok(quirks)
}

/// A charger quirk that lenient validation forgave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quirk {
    /// Which quirk (`number_as_string`, `fractional_integer`, `enum_typo`).
    pub kind: &'static str,
    /// JSON pointer to the value.
    pub path: String,
    /// What was received and what it was read as.
    pub detail: String,
}

/// Where in the schema a value sits: the object type and the property name holding it.
#[derive(Clone, Copy)]
pub(crate) struct Place<'a> {
    pub(crate) object: &'a str,
    pub(crate) property: &'a str,
}

impl Place<'_> {
    const ROOT: Place<'static> = Place {
        object: "",
        property: "",
    };
}

struct Walker<'q> {
    quirks: Option<&'q mut Vec<Quirk>>,
}

impl Walker<'_> {
    fn walk(&mut self, value: &mut Value, schema: &Schema, place: Place) -> Result<(), Violation> {
        match self.check(value, schema, place) {
            Err(v) if self.quirks.is_some() && v.path.is_empty() => {
                match crate::lenient::forgive(value, schema, place, &v) {
                    Some(kind) => {
                        let detail = format!("{}; read as {value}", v.message);
                        self.check(value, schema, place)?;
                        if let Some(q) = self.quirks.as_deref_mut() {
                            q.push(Quirk {
                                kind,
                                path: String::new(),
                                detail,
                            });
                        }
                        Ok(())
                    }
                    None => Err(v),
                }
            }
            other => other,
        }
    }

    fn check(&mut self, value: &mut Value, schema: &Schema, place: Place) -> Result<(), Violation> {
        use ViolationKind as K;
        match schema {
            Schema::Any => Ok(()),
            Schema::Boolean => match value {
                Value::Bool(_) => Ok(()),
                other => Err(type_error("a boolean", other)),
            },
            Schema::Integer { min, max } => {
                let n = match value {
                    Value::Number(n) => n.clone(),
                    other => return Err(type_error("an integer", other)),
                };
                if n.as_i64().is_none() {
                    match n.as_f64() {
                        Some(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => {
                            *value = Value::from(f as i64);
                        }
                        Some(f) if f.fract() != 0.0 => {
                            return Err(Violation::new(
                                K::Type,
                                format!("expected an integer, found {n}"),
                            ));
                        }
                        _ => return Err(Violation::new(K::Range, format!("{n} is out of range"))),
                    }
                }
                let f = value.as_f64().unwrap_or_default();
                check_bounds(f, *min, *max)
            }
            Schema::Number {
                min,
                max,
                multiple_of,
            } => {
                let Value::Number(n) = value else {
                    return Err(type_error("a number", value));
                };
                let f = n.as_f64().unwrap_or_default();
                check_bounds(f, *min, *max)?;
                if let Some(step) = multiple_of {
                    let step = Decimal::from_str(step).unwrap_or(Decimal::ONE);
                    match Decimal::from_str(&n.to_string()) {
                        Ok(d) if !step.is_zero() && (d % step).is_zero() => {}
                        _ => {
                            return Err(Violation::new(
                                K::MultipleOf,
                                format!("{n} is not a multiple of {step}"),
                            ));
                        }
                    }
                }
                Ok(())
            }
            Schema::String { max_len } => {
                let Value::String(s) = value else {
                    return Err(type_error("a string", value));
                };
                match max_len {
                    Some(max) if s.chars().count() > *max as usize => Err(Violation::new(
                        K::MaxLength,
                        format!("longer than {max} characters"),
                    )),
                    _ => Ok(()),
                }
            }
            Schema::DateTime => {
                let Value::String(s) = value else {
                    return Err(type_error("a date-time string", value));
                };
                match crate::datetime::parse(s) {
                    Some(_) => Ok(()),
                    None => Err(Violation::new(
                        K::DateTime,
                        format!("{s:?} is not an RFC 3339 date-time"),
                    )),
                }
            }
            Schema::Enum(values) => {
                let Value::String(s) = value else {
                    return Err(type_error("a string", value));
                };
                if values.contains(&s.as_str()) {
                    Ok(())
                } else {
                    Err(Violation::new(
                        K::Enum,
                        format!("{s:?} is not one of {}", values.join(", ")),
                    ))
                }
            }
            Schema::Array {
                items,
                min_items,
                max_items,
            } => {
                let Value::Array(list) = value else {
                    return Err(type_error("an array", value));
                };
                if let Some(min) = min_items
                    && list.len() < *min as usize
                {
                    return Err(Violation::new(
                        K::MinItems,
                        format!("needs at least {min} item(s)"),
                    ));
                }
                if let Some(max) = max_items
                    && list.len() > *max as usize
                {
                    return Err(Violation::new(
                        K::MaxItems,
                        format!("allows at most {max} item(s)"),
                    ));
                }
                for (i, item) in list.iter_mut().enumerate() {
                    let mark = self.quirk_count();
                    self.walk(item, items, place)
                        .map_err(|v| v.under(&i.to_string()))?;
                    self.prefix_quirks(mark, &i.to_string());
                }
                Ok(())
            }
            Schema::Object(obj) => self.object(value, obj),
        }
    }

    fn quirk_count(&self) -> usize {
        self.quirks.as_ref().map_or(0, |q| q.len())
    }

    fn prefix_quirks(&mut self, from: usize, segment: &str) {
        if let Some(q) = self.quirks.as_deref_mut() {
            for quirk in &mut q[from..] {
                quirk.path = format!("/{segment}{}", quirk.path);
            }
        }
    }

    fn object(&mut self, value: &mut Value, obj: &Object) -> Result<(), Violation> {
        let Value::Object(map) = value else {
            return Err(type_error("an object", value));
        };
        if !obj.additional
            && let Some(extra) = map
                .keys()
                .find(|k| !obj.props.iter().any(|p| p.name == k.as_str()))
        {
            return Err(Violation::new(
                ViolationKind::AdditionalProperty,
                format!("{} does not define property {extra:?}", obj.name),
            ));
        }
        for prop in obj.props {
            match map.get_mut(prop.name) {
                Some(v) => {
                    let mark = self.quirk_count();
                    let place = Place {
                        object: obj.name,
                        property: prop.name,
                    };
                    self.walk(v, prop.schema, place)
                        .map_err(|e| e.under(prop.name))?;
                    self.prefix_quirks(mark, prop.name);
                }
                None if prop.required => {
                    return Err(Violation::new(
                        ViolationKind::Required,
                        format!("required property {:?} is missing", prop.name),
                    ));
                }
                None => {}
            }
        }
        Ok(())
    }
}

fn check_bounds(f: f64, min: Option<f64>, max: Option<f64>) -> Result<(), Violation> {
    if let Some(min) = min
        && f < min
    {
        return Err(Violation::new(
            ViolationKind::Minimum,
            format!("{f} is below the minimum {min}"),
        ));
    }
    if let Some(max) = max
        && f > max
    {
        return Err(Violation::new(
            ViolationKind::Maximum,
            format!("{f} is above the maximum {max}"),
        ));
    }
    Ok(())
}

fn type_error(expected: &str, found: &Value) -> Violation {
    let found = match found {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    };
    Violation::new(
        ViolationKind::Type,
        format!("expected {expected}, found {found}"),
    )
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::{OcppVersion, schema};

    fn check(action: &str, mut payload: Value) -> Result<(), Violation> {
        validate(
            &mut payload,
            schema(OcppVersion::V16, action, false).unwrap(),
        )
    }

    #[test]
    fn a_valid_payload_passes() {
        let ok = json!({"connectorId": 1, "idTag": "ABC", "meterStart": 0,
                        "timestamp": "2024-01-01T00:00:00Z"});
        assert_eq!(check("StartTransaction", ok), Ok(()));
    }

    #[test]
    fn each_violation_gets_its_code_and_path() {
        let cases = [
            (
                json!({"connectorId": "1", "idTag": "A", "meterStart": 0, "timestamp": "2024-01-01T00:00:00Z"}),
                ErrorCode::TypeConstraintViolation,
                "/connectorId",
            ),
            (
                json!({"connectorId": 1, "meterStart": 0, "timestamp": "2024-01-01T00:00:00Z"}),
                ErrorCode::OccurrenceConstraintViolation,
                "",
            ),
            (
                json!({"connectorId": 1, "idTag": "A".repeat(21), "meterStart": 0, "timestamp": "2024-01-01T00:00:00Z"}),
                ErrorCode::PropertyConstraintViolation,
                "/idTag",
            ),
            (
                json!({"connectorId": 1, "idTag": "A", "meterStart": 0, "timestamp": "2024-01-01T00:00:00Z", "x": 1}),
                ErrorCode::FormatViolation,
                "",
            ),
            (
                json!({"connectorId": 1, "idTag": "A", "meterStart": 0, "timestamp": "yesterday"}),
                ErrorCode::PropertyConstraintViolation,
                "/timestamp",
            ),
        ];
        for (payload, code, path) in cases {
            let v = check("StartTransaction", payload.clone()).unwrap_err();
            assert_eq!((v.error_code(), v.path.as_str()), (code, path), "{payload}");
        }
    }

    #[test]
    fn nested_paths_and_enums() {
        let bad = json!({"connectorId": 1, "meterValue": [{"timestamp": "2024-01-01T00:00:00Z",
            "sampledValue": [{"value": "1", "unit": "Watts"}]}]});
        let v = check("MeterValues", bad).unwrap_err();
        assert_eq!(v.path, "/meterValue/0/sampledValue/0/unit");
        assert_eq!(v.error_code(), ErrorCode::PropertyConstraintViolation);
        let empty = json!({"connectorId": 1, "meterValue": []});
        assert_eq!(
            check("MeterValues", empty).unwrap_err().kind,
            ViolationKind::MinItems
        );
    }

    #[test]
    fn integral_floats_become_integers_and_fractions_are_type_errors() {
        let mut p = json!({"connectorId": 1.0, "idTag": "A", "meterStart": 5,
                           "timestamp": "2024-01-01T00:00:00Z"});
        let s = schema(OcppVersion::V16, "StartTransaction", false).unwrap();
        validate(&mut p, s).unwrap();
        assert!(p["connectorId"].is_i64());
        p["connectorId"] = json!(1.5);
        assert_eq!(validate(&mut p, s).unwrap_err().kind, ViolationKind::Type);
        p["connectorId"] = json!(1e300);
        assert_eq!(validate(&mut p, s).unwrap_err().kind, ViolationKind::Range);
    }

    #[test]
    fn multiple_of_is_exact_for_decimals() {
        let s = schema(OcppVersion::V16, "SetChargingProfile", false).unwrap();
        let mut p = json!({"connectorId": 0, "csChargingProfiles": {"chargingProfileId": 1,
            "stackLevel": 0, "chargingProfilePurpose": "TxDefaultProfile",
            "chargingProfileKind": "Absolute", "chargingSchedule": {"chargingRateUnit": "A",
            "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 21.4}]}}});
        assert_eq!(validate(&mut p, s), Ok(()));
        p["csChargingProfiles"]["chargingSchedule"]["chargingSchedulePeriod"][0]["limit"] =
            json!(4.11);
        assert_eq!(
            validate(&mut p, s).unwrap_err().kind,
            ViolationKind::MultipleOf
        );
    }
}
