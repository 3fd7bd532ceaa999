//! OCPP date-times: read leniently (RFC 3339, or without a zone as chargers with an unset zone send it),
//! written as RFC 3339 UTC with milliseconds (`2024-01-01T12:00:00.000Z`).

use chrono::{DateTime, NaiveDateTime, SecondsFormat, Utc};
use serde::{Deserialize, Deserializer, Serializer};

/// Reads an RFC 3339 date-time; one without an offset (`2024-01-01T12:00:00`, or with a space for `T`)
/// is taken as UTC. `None` when unreadable.
pub fn parse(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if let Ok(dt) = DateTime::parse_from_rfc3339(s) {
        return Some(dt.with_timezone(&Utc));
    }
    for fmt in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"] {
        if let Ok(naive) = NaiveDateTime::parse_from_str(s, fmt) {
            return Some(naive.and_utc());
        }
    }
    None
}

/// Writes a date-time the way the CSMS sends them.
pub fn format(dt: &DateTime<Utc>) -> String {
    dt.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Serde: writes with [`format`].
pub fn serialize<S: Serializer>(dt: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format(dt))
}

/// Serde: reads with [`parse`].
pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
    let s = std::borrow::Cow::<str>::deserialize(d)?;
    parse(&s).ok_or_else(|| serde::de::Error::custom(format!("{s:?} is not a date-time")))
}

/// The same for optional date-times.
pub mod option {
    use chrono::{DateTime, Utc};
    use serde::{Deserialize, Deserializer, Serializer};

    /// Serde: writes `Some` with [`super::format`].
    pub fn serialize<S: Serializer>(dt: &Option<DateTime<Utc>>, s: S) -> Result<S::Ok, S::Error> {
        match dt {
            Some(dt) => super::serialize(dt, s),
            None => s.serialize_none(),
        }
    }

    /// Serde: reads a date-time or null.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<DateTime<Utc>>, D::Error> {
        #[derive(Deserialize)]
        struct W(#[serde(with = "super")] DateTime<Utc>);
        Ok(Option::<W>::deserialize(d)?.map(|w| w.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_forms_chargers_send() {
        let z = parse("2024-03-01T10:00:00Z").unwrap();
        assert_eq!(parse("2024-03-01T11:00:00+01:00"), Some(z));
        assert_eq!(parse("2024-03-01T10:00:00"), Some(z));
        assert_eq!(parse("2024-03-01 10:00:00.000"), Some(z));
        assert_eq!(parse("2024-03-01T10:00:00.000Z"), Some(z));
        assert_eq!(parse("yesterday"), None);
        assert_eq!(parse(""), None);
    }

    #[test]
    fn writes_utc_with_milliseconds() {
        let dt = parse("2024-03-01T11:00:00.5+01:00").unwrap();
        assert_eq!(format(&dt), "2024-03-01T10:00:00.500Z");
    }
}
