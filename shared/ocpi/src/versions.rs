//! The versions module: which OCPI versions a party speaks and, per version, its module endpoints.

use serde::{Deserialize, Serialize};

/// An OCPI version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum VersionNumber {
    /// 2.0.
    #[serde(rename = "2.0")]
    V2_0,
    /// 2.1 (deprecated: read as 2.1.1).
    #[serde(rename = "2.1")]
    V2_1,
    /// 2.1.1.
    #[serde(rename = "2.1.1")]
    V2_1_1,
    /// 2.2 (deprecated: read as 2.2.1).
    #[serde(rename = "2.2")]
    V2_2,
    /// 2.2.1.
    #[serde(rename = "2.2.1")]
    V2_2_1,
}

impl VersionNumber {
    /// As written (`2.2.1`).
    pub fn as_str(self) -> &'static str {
        match self {
            VersionNumber::V2_0 => "2.0",
            VersionNumber::V2_1 => "2.1",
            VersionNumber::V2_1_1 => "2.1.1",
            VersionNumber::V2_2 => "2.2",
            VersionNumber::V2_2_1 => "2.2.1",
        }
    }

    /// The version of a written one.
    pub fn parse(s: &str) -> Option<Self> {
        [
            VersionNumber::V2_0,
            VersionNumber::V2_1,
            VersionNumber::V2_1_1,
            VersionNumber::V2_2,
            VersionNumber::V2_2_1,
        ]
        .into_iter()
        .find(|v| v.as_str() == s)
    }

    /// Whether the `Authorization` token is Base64-encoded (from 2.2 on).
    pub fn encodes_tokens(self) -> bool {
        self >= VersionNumber::V2_2
    }
}

/// One version a party speaks, and where its details are.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Version {
    /// The version.
    pub version: VersionNumber,
    /// Its details endpoint.
    pub url: String,
}

/// A module.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ModuleId {
    /// CDRs.
    Cdrs,
    /// Charging profiles.
    #[serde(rename = "chargingprofiles")]
    ChargingProfiles,
    /// Commands.
    Commands,
    /// Credentials and registration.
    Credentials,
    /// Hub client info.
    #[serde(rename = "hubclientinfo")]
    HubClientInfo,
    /// Locations.
    Locations,
    /// Sessions.
    Sessions,
    /// Tariffs.
    Tariffs,
    /// Tokens.
    Tokens,
}

impl ModuleId {
    /// As written in URLs and version details (`chargingprofiles`).
    pub fn as_str(self) -> &'static str {
        match self {
            ModuleId::Cdrs => "cdrs",
            ModuleId::ChargingProfiles => "chargingprofiles",
            ModuleId::Commands => "commands",
            ModuleId::Credentials => "credentials",
            ModuleId::HubClientInfo => "hubclientinfo",
            ModuleId::Locations => "locations",
            ModuleId::Sessions => "sessions",
            ModuleId::Tariffs => "tariffs",
            ModuleId::Tokens => "tokens",
        }
    }
}

/// Which side of a module an endpoint is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum InterfaceRole {
    /// It owns the data and serves it.
    Sender,
    /// It takes the data pushed to it.
    Receiver,
}

/// One module endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Endpoint {
    /// The module.
    pub identifier: ModuleId,
    /// Its side (2.2.1; absent in 2.1.1, where it is implied).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<InterfaceRole>,
    /// Its URL.
    pub url: String,
}

/// A version's details.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionDetails {
    /// The version.
    pub version: VersionNumber,
    /// Its module endpoints.
    pub endpoints: Vec<Endpoint>,
}

impl VersionDetails {
    /// The URL of `module` on side `role` (a 2.1.1 endpoint without a role matches either).
    pub fn endpoint(&self, module: ModuleId, role: InterfaceRole) -> Option<&str> {
        self.endpoints
            .iter()
            .find(|e| e.identifier == module && e.role.is_none_or(|r| r == role))
            .map(|e| e.url.as_str())
    }
}

/// The best version both sides speak: 2.2.1 where the partner has it, else 2.1.1 (2.2 and 2.1 count
/// as their patch releases).
pub fn best_common(theirs: &[Version]) -> Option<&Version> {
    [
        [VersionNumber::V2_2_1, VersionNumber::V2_2],
        [VersionNumber::V2_1_1, VersionNumber::V2_1],
    ]
    .iter()
    .find_map(|pref| {
        pref.iter()
            .find_map(|p| theirs.iter().find(|v| v.version == *p))
    })
}
