//! The OCPP versions the CSMS speaks and their WebSocket subprotocol names.

use serde::{Deserialize, Serialize};

/// An OCPP-J version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
pub enum OcppVersion {
    /// OCPP 1.6J (with the security extension).
    #[serde(rename = "1.6")]
    V16,
    /// OCPP 2.0.1.
    #[serde(rename = "2.0.1")]
    V201,
}

impl OcppVersion {
    /// Newest first: the order in which the CSMS prefers them.
    pub const ALL: [OcppVersion; 2] = [OcppVersion::V201, OcppVersion::V16];

    /// The WebSocket subprotocol token (`ocpp1.6`, `ocpp2.0.1`).
    pub fn subprotocol(self) -> &'static str {
        match self {
            OcppVersion::V16 => "ocpp1.6",
            OcppVersion::V201 => "ocpp2.0.1",
        }
    }

    /// The version a subprotocol token names, ignoring case and surrounding blanks.
    pub fn from_subprotocol(token: &str) -> Option<Self> {
        let t = token.trim();
        Self::ALL
            .into_iter()
            .find(|v| v.subprotocol().eq_ignore_ascii_case(t))
    }

    /// The version number as written in documents (`1.6`, `2.0.1`).
    pub fn label(self) -> &'static str {
        match self {
            OcppVersion::V16 => "1.6",
            OcppVersion::V201 => "2.0.1",
        }
    }

    /// Parses `1.6`, `16`, `ocpp1.6`, `2.0.1`, `201`, `ocpp2.0.1`.
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().trim_start_matches("ocpp") {
            "1.6" | "16" | "1.6J" | "1.6j" => Some(OcppVersion::V16),
            "2.0.1" | "201" => Some(OcppVersion::V201),
            _ => None,
        }
    }
}

impl std::fmt::Display for OcppVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.label())
    }
}
