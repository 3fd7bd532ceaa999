//! Identifiers: tenants, chargers (the OCPP identity) and sessions.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::DomainError;

/// A tenant: every record belongs to exactly one.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TenantId(String);

impl TenantId {
    /// The tenant of a single-operator installation.
    pub fn default_tenant() -> Self {
        TenantId("default".into())
    }

    /// 1 to 64 characters of `A-Z a-z 0-9 - _`.
    pub fn new(s: impl Into<String>) -> Result<Self, DomainError> {
        let s = s.into();
        let ok = (1..=64).contains(&s.len())
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if ok {
            Ok(TenantId(s))
        } else {
            Err(DomainError::InvalidId {
                what: "tenant id",
                reason: "use 1 to 64 letters, digits, '-' or '_'".into(),
            })
        }
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The identity a charger connects with (`/ocpp/{id}`), unique across the installation.
///
/// 1 to 48 characters of the OCPP 2.0.1 identifierString set `A-Z a-z 0-9 * - _ = + | @ .`; `:` is
/// excluded because HTTP Basic auth cannot carry it in a username.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ChargerId(String);

impl ChargerId {
    /// Checks the format.
    pub fn new(s: impl Into<String>) -> Result<Self, DomainError> {
        let s = s.into();
        if s.is_empty() || s.chars().count() > 48 {
            return Err(DomainError::InvalidId {
                what: "charger id",
                reason: "must be 1 to 48 characters".into(),
            });
        }
        if let Some(c) = s.chars().find(|c| !is_identifier_char(*c)) {
            return Err(DomainError::InvalidId {
                what: "charger id",
                reason: format!("character {c:?} is not allowed (use A-Z a-z 0-9 * - _ = + | @ .)"),
            });
        }
        Ok(ChargerId(s))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn is_identifier_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "*-_=+|@.".contains(c)
}

/// An id that sorts by creation time: milliseconds since 1970 and a random part, 20 hex characters.
/// Lists by id are then in time order, and a time range is an id range ([`time_ordered_prefix`]).
pub fn time_ordered_id(at: chrono::DateTime<chrono::Utc>, random: u32) -> String {
    format!("{:012x}{random:08x}", at.timestamp_millis().max(0))
}

/// The smallest id [`time_ordered_id`] gives at `at` or later.
pub fn time_ordered_prefix(at: chrono::DateTime<chrono::Utc>) -> String {
    format!("{:012x}", at.timestamp_millis().max(0))
}

/// A session: the charger and the OCPP transaction id, written `CHARGER~TRANSACTION`.
///
/// 1.6 transaction ids are integers the CSMS assigns; 2.0.1 ids are strings the charger chooses. `~`
/// cannot occur in a charger id, so the first `~` separates the two.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SessionId {
    /// The charger.
    pub charger: ChargerId,
    /// The OCPP transaction id as text.
    pub transaction: String,
}

impl SessionId {
    /// The session of `transaction` on `charger`.
    pub fn new(charger: ChargerId, transaction: impl Into<String>) -> Self {
        SessionId {
            charger,
            transaction: transaction.into(),
        }
    }

    /// Reads `CHARGER~TRANSACTION`.
    pub fn parse(s: &str) -> Result<Self, DomainError> {
        let (c, t) = s.split_once('~').ok_or_else(|| DomainError::InvalidId {
            what: "session id",
            reason: "expected CHARGER~TRANSACTION".into(),
        })?;
        if t.is_empty() || t.chars().count() > 36 {
            return Err(DomainError::InvalidId {
                what: "session id",
                reason: "the transaction part must be 1 to 36 characters".into(),
            });
        }
        Ok(SessionId::new(ChargerId::new(c)?, t))
    }
}

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}~{}", self.charger, self.transaction)
    }
}

impl Serialize for SessionId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for SessionId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        SessionId::parse(&s).map_err(serde::de::Error::custom)
    }
}

macro_rules! string_id {
    ($t:ident) => {
        impl TryFrom<String> for $t {
            type Error = DomainError;
            fn try_from(s: String) -> Result<Self, DomainError> {
                $t::new(s)
            }
        }
        impl From<$t> for String {
            fn from(id: $t) -> String {
                id.0
            }
        }
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}
string_id!(TenantId);
string_id!(ChargerId);

macro_rules! string_schema {
    ($t:ident) => {
        impl schemars::JsonSchema for $t {
            fn schema_name() -> std::borrow::Cow<'static, str> {
                stringify!($t).into()
            }
            fn inline_schema() -> bool {
                true
            }
            fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
                schemars::json_schema!({"type": "string"})
            }
        }
    };
}
string_schema!(TenantId);
string_schema!(ChargerId);
string_schema!(SessionId);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charger_ids_follow_the_identifier_string_rules() {
        assert!(ChargerId::new("CP-001.a_b*c=d+e|f@g").is_ok());
        for bad in ["", "a:b", "a/b", "a b", "é", &"x".repeat(49), "a~b"] {
            assert!(ChargerId::new(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn session_ids_round_trip() {
        let id = SessionId::new(ChargerId::new("CP1").unwrap(), "a~b");
        assert_eq!(id.to_string(), "CP1~a~b");
        assert_eq!(SessionId::parse("CP1~a~b").unwrap(), id);
        assert!(SessionId::parse("CP1").is_err());
        assert!(SessionId::parse("CP1~").is_err());
        assert!(SessionId::parse("C:P~1").is_err());
    }
}
