//! The tokens module (the CPO is its receiver): the eMSP's tokens, pushed or pulled, and real-time
//! authorization of a token the CPO does not know.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::check::Check;
use crate::types::DisplayText;

/// What kind of token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TokenType {
    /// One-time, e.g. a payment.
    AdHocUser,
    /// An app.
    AppUser,
    /// Other.
    Other,
    /// An RFID card.
    Rfid,
}

/// How the CPO may check a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum WhitelistType {
    /// Always valid from the list: never ask.
    Always,
    /// Valid from the list; asking is allowed.
    Allowed,
    /// Ask; from the list only when the eMSP cannot be reached.
    AllowedOffline,
    /// Always ask.
    Never,
}

/// A token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Token {
    /// The eMSP's country.
    pub country_code: String,
    /// The eMSP's party id.
    pub party_id: String,
    /// Its uid (`CiString(36)`: an RFID's UID, hex).
    pub uid: String,
    /// Its type.
    #[serde(rename = "type")]
    pub kind: TokenType,
    /// The contract (eMAID).
    pub contract_id: String,
    /// Printed on it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub visual_number: Option<String>,
    /// Who issued it.
    pub issuer: String,
    /// Tokens of one group (a fleet).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_id: Option<String>,
    /// Whether it may charge.
    pub valid: bool,
    /// How the CPO may check it.
    pub whitelist: WhitelistType,
    /// ISO 639-1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    /// `CHEAP`, `FAST`, `GREEN`, `REGULAR`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_profile_type: Option<String>,
    /// Last changed.
    #[serde(with = "cpms_ocpp::datetime")]
    pub last_updated: DateTime<Utc>,
}

impl Token {
    /// Checks what a partner sent (the field lengths of 2.2.1).
    pub fn check(&self) -> Result<(), String> {
        Check::new()
            .party(&self.country_code, &self.party_id)
            .ci("uid", &self.uid, 36)
            .ci("contract_id", &self.contract_id, 36)
            .len_opt("visual_number", self.visual_number.as_deref(), 64)
            .len("issuer", &self.issuer, 64)
            .ci("issuer", &self.issuer, 64)
            .len_opt("group_id", self.group_id.as_deref(), 36)
            .len_opt("language", self.language.as_deref(), 2)
            .done()
    }
}

/// The answer to an authorization request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AllowedType {
    /// It may charge.
    Allowed,
    /// Blocked.
    Blocked,
    /// Expired.
    Expired,
    /// No credit left.
    NoCredit,
    /// Not here (this location or EVSE).
    NotAllowed,
}

/// Where a token asks to charge (the body of a real-time authorization).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LocationReferences {
    /// The location.
    pub location_id: String,
    /// Its EVSEs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub evse_uids: Vec<String>,
}

/// The eMSP's answer to a real-time authorization.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthorizationInfo {
    /// Whether it may charge.
    pub allowed: AllowedType,
    /// The token (as the eMSP knows it).
    pub token: Token,
    /// Where it may.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<LocationReferences>,
    /// The eMSP's reference, to quote in the session and CDR.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization_reference: Option<String>,
    /// A message for the driver.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub info: Option<DisplayText>,
}
