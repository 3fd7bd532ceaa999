//! Serde helpers that read and write `rust_decimal::Decimal` as a JSON number (OCPP's `number` type),
//! so decimals such as charging limits and meter values keep their exact written value.

use std::str::FromStr;

use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use serde::de::{self, Visitor};
use serde::{Deserializer, Serializer};

/// Writes a decimal as a JSON number: an integer when it has no fraction, else a float.
pub fn serialize<S: Serializer>(d: &Decimal, s: S) -> Result<S::Ok, S::Error> {
    if d.fract().is_zero()
        && let Some(i) = d.to_i64()
    {
        return s.serialize_i64(i);
    }
    s.serialize_f64(d.to_f64().unwrap_or_default())
}

/// Reads a JSON number into a decimal, keeping its shortest written form (`21.4` stays `21.4`).
pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Decimal, D::Error> {
    d.deserialize_any(DecimalVisitor)
}

struct DecimalVisitor;

impl Visitor<'_> for DecimalVisitor {
    type Value = Decimal;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a number")
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Decimal, E> {
        Ok(Decimal::from(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Decimal, E> {
        Ok(Decimal::from(v))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Decimal, E> {
        // Rust prints the shortest text that reads back as the same f64: the number as it was written.
        Decimal::from_str(&v.to_string())
            .or_else(|_| Decimal::from_scientific(&format!("{v:e}")))
            .map_err(|_| E::custom(format!("{v} is out of range for a decimal")))
    }
}

/// The same for `Option<Decimal>` (absent or null reads as `None`).
pub mod option {
    use rust_decimal::Decimal;
    use serde::{Deserialize, Deserializer, Serializer};

    /// Writes `Some` as a number (fields are skipped when `None`).
    pub fn serialize<S: Serializer>(d: &Option<Decimal>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => super::serialize(d, s),
            None => s.serialize_none(),
        }
    }

    /// Reads a number or null.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Decimal>, D::Error> {
        #[derive(Deserialize)]
        struct W(#[serde(with = "super")] Decimal);
        Ok(Option::<W>::deserialize(d)?.map(|w| w.0))
    }
}

/// The same for `Vec<Decimal>`.
pub mod vec {
    use rust_decimal::Decimal;
    use serde::ser::SerializeSeq;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    #[derive(Serialize, Deserialize)]
    struct W(#[serde(with = "super")] Decimal);

    /// Writes a list of numbers.
    pub fn serialize<S: Serializer>(v: &[Decimal], s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(v.len()))?;
        for d in v {
            seq.serialize_element(&W(*d))?;
        }
        seq.end()
    }

    /// Reads a list of numbers.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Decimal>, D::Error> {
        Ok(Vec::<W>::deserialize(d)?.into_iter().map(|w| w.0).collect())
    }
}

/// The same for `Option<Vec<Decimal>>`.
pub mod option_vec {
    use rust_decimal::Decimal;
    use serde::{Deserialize, Deserializer, Serializer};

    /// Writes `Some` as a list of numbers.
    pub fn serialize<S: Serializer>(v: &Option<Vec<Decimal>>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(v) => super::vec::serialize(v, s),
            None => s.serialize_none(),
        }
    }

    /// Reads a list of numbers or null.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<Decimal>>, D::Error> {
        #[derive(Deserialize)]
        struct W(#[serde(with = "super::vec")] Vec<Decimal>);
        Ok(Option::<W>::deserialize(d)?.map(|w| w.0))
    }
}

/// The same for `[Decimal; 3]` (a value per phase).
pub mod array3 {
    use rust_decimal::Decimal;
    use serde::{Deserializer, Serializer, de::Error};

    /// Writes three numbers.
    pub fn serialize<S: Serializer>(v: &[Decimal; 3], s: S) -> Result<S::Ok, S::Error> {
        super::vec::serialize(v, s)
    }

    /// Reads three numbers.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[Decimal; 3], D::Error> {
        let v = super::vec::deserialize(d)?;
        v.try_into()
            .map_err(|v: Vec<Decimal>| D::Error::invalid_length(v.len(), &"three numbers"))
    }
}

#[cfg(test)]
mod tests {
    use rust_decimal::Decimal;
    use serde::{Deserialize, Serialize};

    #[derive(Serialize, Deserialize, PartialEq, Debug)]
    struct T {
        #[serde(with = "super")]
        d: Decimal,
    }

    #[test]
    fn numbers_keep_their_written_value() {
        for (text, expect) in [
            ("21.4", "21.4"),
            ("5", "5"),
            ("0.1", "0.1"),
            ("-3.25", "-3.25"),
            ("1e-7", "0.0000001"),
        ] {
            let t: T = serde_json::from_str(&format!("{{\"d\": {text}}}")).unwrap();
            assert_eq!(t.d.to_string(), expect);
        }
    }

    #[test]
    fn whole_decimals_are_written_as_integers() {
        let t = T {
            d: Decimal::new(500, 2),
        };
        assert_eq!(serde_json::to_string(&t).unwrap(), r#"{"d":5}"#);
        let t = T {
            d: Decimal::new(2140, 2),
        };
        assert_eq!(serde_json::to_string(&t).unwrap(), r#"{"d":21.4}"#);
    }

    #[test]
    fn strings_and_huge_numbers_are_errors() {
        assert!(serde_json::from_str::<T>(r#"{"d": "1"}"#).is_err());
        assert!(serde_json::from_str::<T>(r#"{"d": 1e300}"#).is_err());
    }
}
