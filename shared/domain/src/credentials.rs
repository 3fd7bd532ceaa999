//! A charger's Basic-auth credentials and their rotation (security profiles 1 and 2).
//!
//! The CSMS keeps up to three password hashes per charger:
//! - `current`: what the charger was registered with, or last confirmed;
//! - `pending`: a new password sent to the charger (1.6 ChangeConfiguration `AuthorizationKey`, 2.0.1
//!   SetVariables `SecurityCtrlr.BasicAuthPassword`) whose answer has not arrived. A charger that applies
//!   it and reconnects before its answer reaches the CSMS is let in with it (and that confirms it);
//! - `previous`: the password replaced by an accepted change, still let in until the charger has
//!   connected once with the new one (it may reconnect at any time, with either).
//!
//! This module finds password changes in the calls the CSMS sends and judges the charger's answers; it
//! keeps no secret: calls are redacted once they end.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{DomainError, OcppVersion};

/// A new password sent to a charger, waiting for its answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingPassword {
    /// Argon2 PHC hash of the new password.
    pub hash: String,
    /// The command that carries it.
    pub command_id: String,
    /// When it was sent.
    pub since: DateTime<Utc>,
}

/// How long a sent password is let in without the charger's answer.
pub fn pending_lifetime() -> Duration {
    Duration::hours(24)
}

impl PendingPassword {
    /// Whether a connection may still use it.
    pub fn usable(&self, now: DateTime<Utc>) -> bool {
        now - self.since < pending_lifetime()
    }
}

/// Which of a charger's passwords a connection presented.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasswordMatch {
    /// The current one.
    Current,
    /// The one sent but not yet confirmed: the charger applied it.
    Pending,
    /// The one an accepted change replaced: the charger has not switched yet.
    Previous,
}

/// The 2.0.1 component and variable of the Basic-auth password.
pub const BASIC_AUTH_COMPONENT: &str = "SecurityCtrlr";
/// The 2.0.1 variable of the Basic-auth password.
pub const BASIC_AUTH_VARIABLE: &str = "BasicAuthPassword";
/// The 1.6 configuration key of the Basic-auth password.
pub const AUTHORIZATION_KEY: &str = "AuthorizationKey";

/// What stands in for a password in stored calls.
pub const REDACTED: &str = "********";

/// The new Basic-auth password a CSMS-to-charger call sets, if it sets one.
pub fn password_set_by(version: OcppVersion, action: &str, payload: &Value) -> Option<String> {
    match (version, action) {
        (OcppVersion::V16, "ChangeConfiguration") => payload
            .get("key")
            .and_then(Value::as_str)
            .filter(|k| k.eq_ignore_ascii_case(AUTHORIZATION_KEY))
            .and(payload.get("value").and_then(Value::as_str))
            .map(str::to_string),
        (OcppVersion::V201, "SetVariables") => {
            let i = password_entry(payload)?;
            payload["setVariableData"][i]["attributeValue"]
                .as_str()
                .map(str::to_string)
        }
        _ => None,
    }
}

/// The index of the SetVariables entry that sets the Basic-auth password (its Actual value).
fn password_entry(payload: &Value) -> Option<usize> {
    payload
        .get("setVariableData")?
        .as_array()?
        .iter()
        .position(is_password_variable)
}

fn is_password_variable(d: &Value) -> bool {
    d["component"]["name"].as_str() == Some(BASIC_AUTH_COMPONENT)
        && d["variable"]["name"].as_str() == Some(BASIC_AUTH_VARIABLE)
        && d.get("component")
            .and_then(|c| c.get("evse"))
            .is_none_or(Value::is_null)
        && d["attributeType"].as_str().is_none_or(|t| t == "Actual")
}

/// Whether the charger's CALLRESULT to a password-setting call says it took the new password
/// (`Accepted`, or `RebootRequired`: it takes effect after a reboot, and the charger reconnects then).
pub fn password_change_accepted(version: OcppVersion, result: &Value) -> bool {
    let ok = |s: Option<&str>| matches!(s, Some("Accepted" | "RebootRequired"));
    match version {
        OcppVersion::V16 => ok(result.get("status").and_then(Value::as_str)),
        OcppVersion::V201 => result
            .get("setVariableResult")
            .and_then(Value::as_array)
            .and_then(|rs| rs.iter().find(|r| is_password_variable(r)))
            .is_some_and(|r| ok(r["attributeStatus"].as_str())),
    }
}

/// Replaces the password in a password-setting call with [`REDACTED`]; returns whether it did.
pub fn redact_password(version: OcppVersion, action: &str, payload: &mut Value) -> bool {
    if password_set_by(version, action, payload).is_none() {
        return false;
    }
    match version {
        OcppVersion::V16 => payload["value"] = Value::from(REDACTED),
        OcppVersion::V201 => {
            if let Some(i) = password_entry(payload) {
                payload["setVariableData"][i]["attributeValue"] = Value::from(REDACTED);
            }
        }
    }
    true
}

/// Checks a password the CSMS is to give a charger of `version`: 1.6 AuthorizationKey is 16 to 40 hex
/// characters (the security whitepaper's form), 2.0.1 BasicAuthPassword 16 to 40 characters.
pub fn validate_password(version: Option<OcppVersion>, password: &str) -> Result<(), DomainError> {
    let n = password.chars().count();
    let refuse = |reason: &str| DomainError::Invalid {
        field: "password",
        reason: reason.into(),
    };
    if !(16..=40).contains(&n) || password.chars().any(|c| c.is_control() || c == ' ') {
        return Err(refuse(
            "must be 16 to 40 printable characters without spaces (OCPP)",
        ));
    }
    if version == Some(OcppVersion::V16) && !password.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(refuse(
            "an OCPP 1.6 AuthorizationKey is written in hexadecimal (0-9, A-F)",
        ));
    }
    Ok(())
}

/// A new password fit for both versions: 40 hexadecimal characters (160 random bits).
pub fn generate_password(random: [u8; 20]) -> String {
    random.iter().map(|b| format!("{b:02X}")).collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn password_changes_are_found_in_both_versions() {
        let v16 = json!({"key": "authorizationkey", "value": "00AA00AA00AA00AA"});
        assert_eq!(
            password_set_by(OcppVersion::V16, "ChangeConfiguration", &v16).as_deref(),
            Some("00AA00AA00AA00AA")
        );
        let other = json!({"key": "HeartbeatInterval", "value": "60"});
        assert_eq!(
            password_set_by(OcppVersion::V16, "ChangeConfiguration", &other),
            None
        );
        let v201 = json!({"setVariableData": [
            {"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "HeartbeatInterval"}, "attributeValue": "60"},
            {"component": {"name": "SecurityCtrlr"}, "variable": {"name": "BasicAuthPassword"}, "attributeValue": "s3cret-s3cret-s3cret"}]});
        assert_eq!(
            password_set_by(OcppVersion::V201, "SetVariables", &v201).as_deref(),
            Some("s3cret-s3cret-s3cret")
        );
        let target = json!({"setVariableData": [
            {"component": {"name": "SecurityCtrlr"}, "variable": {"name": "BasicAuthPassword"},
             "attributeType": "Target", "attributeValue": "x"}]});
        assert_eq!(
            password_set_by(OcppVersion::V201, "SetVariables", &target),
            None
        );
    }

    #[test]
    fn answers_are_judged_per_version() {
        assert!(password_change_accepted(
            OcppVersion::V16,
            &json!({"status": "Accepted"})
        ));
        assert!(password_change_accepted(
            OcppVersion::V16,
            &json!({"status": "RebootRequired"})
        ));
        assert!(!password_change_accepted(
            OcppVersion::V16,
            &json!({"status": "Rejected"})
        ));
        let r = |s: &str| {
            json!({"setVariableResult": [
            {"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "HeartbeatInterval"}, "attributeStatus": "Accepted"},
            {"component": {"name": "SecurityCtrlr"}, "variable": {"name": "BasicAuthPassword"}, "attributeStatus": s}]})
        };
        assert!(password_change_accepted(OcppVersion::V201, &r("Accepted")));
        assert!(!password_change_accepted(OcppVersion::V201, &r("Rejected")));
        assert!(!password_change_accepted(
            OcppVersion::V201,
            &json!({"setVariableResult": []})
        ));
    }

    #[test]
    fn redaction_hides_only_the_password() {
        let mut p = json!({"setVariableData": [
            {"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "HeartbeatInterval"}, "attributeValue": "60"},
            {"component": {"name": "SecurityCtrlr"}, "variable": {"name": "BasicAuthPassword"}, "attributeValue": "s3cret-s3cret-s3cret"}]});
        assert!(redact_password(OcppVersion::V201, "SetVariables", &mut p));
        assert_eq!(p["setVariableData"][0]["attributeValue"], "60");
        assert_eq!(p["setVariableData"][1]["attributeValue"], REDACTED);
        let mut q = json!({"key": "HeartbeatInterval", "value": "60"});
        assert!(!redact_password(
            OcppVersion::V16,
            "ChangeConfiguration",
            &mut q
        ));
        assert_eq!(q["value"], "60");
    }

    #[test]
    fn passwords_are_checked_per_version_and_generated_for_both() {
        let g = generate_password([0xab; 20]);
        assert_eq!(g.len(), 40);
        assert!(validate_password(Some(OcppVersion::V16), &g).is_ok());
        assert!(validate_password(Some(OcppVersion::V201), &g).is_ok());
        assert!(validate_password(Some(OcppVersion::V16), "not-hex-not-hex-not-hex").is_err());
        assert!(validate_password(Some(OcppVersion::V201), "not-hex-not-hex-not-hex").is_ok());
        assert!(validate_password(None, "short").is_err());
        assert!(validate_password(None, &"x".repeat(41)).is_err());
    }

    #[test]
    fn a_pending_password_lapses() {
        let t0 = Utc::now();
        let p = PendingPassword {
            hash: "h".into(),
            command_id: "c".into(),
            since: t0,
        };
        assert!(p.usable(t0 + Duration::hours(23)));
        assert!(!p.usable(t0 + Duration::hours(25)));
    }
}
