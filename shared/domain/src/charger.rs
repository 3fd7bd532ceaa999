//! Chargers: registration, what they said at boot, their connection, and the live state of their
//! connectors. Connector addressing is 2.0.1's (EVSE + connector); a 1.6 connector `n` is EVSE `n`
//! connector 1, and 1.6 connector 0 (the whole charger) is EVSE 0 connector 0.

use chrono::{DateTime, Utc};
use cpms_ocpp::OcppVersion;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::credentials::{PasswordMatch, PendingPassword};
use crate::{ChargerId, TenantId};

/// A registered charger.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Charger {
    /// Owner.
    pub tenant: TenantId,
    /// OCPP identity.
    pub id: ChargerId,
    /// Operator's label.
    #[serde(default)]
    pub name: Option<String>,
    /// Argon2 PHC hash of the Basic-auth password.
    #[serde(default)]
    pub password_hash: Option<String>,
    /// The password an accepted change replaced: let in until the charger connects with the new one.
    #[serde(default)]
    pub previous_password_hash: Option<String>,
    /// A new password sent to the charger and not yet confirmed (see [`crate::credentials`]).
    #[serde(default)]
    pub pending_password: Option<PendingPassword>,
    /// When the password last changed (rotated, confirmed or set by an admin).
    #[serde(default)]
    pub password_changed_at: Option<DateTime<Utc>>,
    /// A keyed check of the password last verified at connect (HMAC under the installation's credential
    /// key, bound to the hash it matched): a reconnect with the same password skips Argon2. A changed
    /// password never matches it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential_check: Option<String>,
    /// Let in a Basic-auth user name other than the identity (security profiles 1 and 2 forbid it; only
    /// for firmware that cannot be fixed). Off unless an admin turns it on.
    #[serde(default)]
    pub allow_username_mismatch: bool,
    /// Let sessions start without authorization (2.0.1 idToken type `NoAuthorization`): free charging.
    #[serde(default)]
    pub free_charging: bool,
    /// The OCPP version the charger must speak, when the operator pins one.
    #[serde(default)]
    pub expected_version: Option<OcppVersion>,
    /// False when the operator disabled it: its BootNotification is then rejected.
    pub enabled: bool,
    /// The answer to its last BootNotification.
    pub registration: Registration,
    /// What it reported at its last BootNotification.
    #[serde(default)]
    pub boot: Option<BootInfo>,
    /// Its current connection, if any.
    #[serde(default)]
    pub connection: Option<Connection>,
    /// The OCPP version of its latest connection (kept while it is offline).
    #[serde(default)]
    pub last_version: Option<OcppVersion>,
    /// Last time a message from it was recorded (written at most every few minutes).
    #[serde(default)]
    pub last_seen: Option<DateTime<Utc>>,
    /// The site it stands at.
    #[serde(default)]
    pub site_id: Option<String>,
    /// Its EVSEs and connectors as the operator declares them (the live state is in `connectors`).
    #[serde(default)]
    pub evses: Vec<EvseSpec>,
    /// Live state of each connector, sorted by EVSE and connector.
    #[serde(default)]
    pub connectors: Vec<ConnectorState>,
    /// Last firmware update status it reported.
    #[serde(default)]
    pub firmware: Option<StatusReport>,
    /// Last diagnostics / log upload status it reported.
    #[serde(default)]
    pub diagnostics: Option<StatusReport>,
    /// Registered.
    pub created_at: DateTime<Utc>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
}

/// The BootNotification answer a charger last got.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Registration {
    /// Registered, never booted.
    New,
    /// Accepted: may send anything.
    Accepted,
    /// Told to retry later (start-up storms are spread out this way).
    Pending,
    /// Rejected (disabled by the operator).
    Rejected,
}

/// What a charger says about itself at boot.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct BootInfo {
    /// Vendor.
    pub vendor: String,
    /// Model.
    pub model: String,
    /// Serial number.
    #[serde(default)]
    pub serial_number: Option<String>,
    /// Firmware version.
    #[serde(default)]
    pub firmware_version: Option<String>,
    /// Modem ICCID.
    #[serde(default)]
    pub iccid: Option<String>,
    /// Modem IMSI.
    #[serde(default)]
    pub imsi: Option<String>,
    /// Meter type.
    #[serde(default)]
    pub meter_type: Option<String>,
    /// Meter serial number.
    #[serde(default)]
    pub meter_serial_number: Option<String>,
    /// 2.0.1 boot reason (`PowerUp`, `FirmwareUpdate`, ...).
    #[serde(default)]
    pub reason: Option<String>,
    /// When it booted (as received).
    #[serde(default)]
    pub at: Option<DateTime<Utc>>,
}

/// A live WebSocket connection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Connection {
    /// Gateway connection id.
    pub id: String,
    /// Negotiated OCPP version.
    pub version: OcppVersion,
    /// When it connected.
    pub connected_at: DateTime<Utc>,
}

/// Normalized connector status (2.0.1's five; 1.6's nine map onto them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ConnectorStatus {
    /// Free.
    Available,
    /// In use (1.6 Preparing, Charging, SuspendedEV, SuspendedEVSE, Finishing).
    Occupied,
    /// Reserved.
    Reserved,
    /// Not available for charging.
    Unavailable,
    /// Broken.
    Faulted,
}

impl ConnectorStatus {
    /// Maps an OCPP status of either version; `None` for an unknown one.
    pub fn from_ocpp(status: &str) -> Option<Self> {
        use ConnectorStatus::*;
        Some(match status {
            "Available" => Available,
            "Occupied" | "Preparing" | "Charging" | "SuspendedEV" | "SuspendedEVSE"
            | "Finishing" => Occupied,
            "Reserved" => Reserved,
            "Unavailable" => Unavailable,
            "Faulted" => Faulted,
            _ => return None,
        })
    }
}

/// A connector's status as last reported.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConnectorState {
    /// EVSE (1.6: the connector id; 0 = the whole charger).
    pub evse_id: u32,
    /// Connector on the EVSE (1.6: 1, or 0 for the whole charger).
    pub connector_id: u32,
    /// Normalized status.
    pub status: ConnectorStatus,
    /// The status exactly as the charger sent it (`Charging`, `SuspendedEV`, ...).
    pub ocpp_status: String,
    /// 1.6 error code (`NoError`, `GroundFailure`, ...).
    #[serde(default)]
    pub error_code: Option<String>,
    /// Free-text info from the charger.
    #[serde(default)]
    pub info: Option<String>,
    /// Vendor error code.
    #[serde(default)]
    pub vendor_error_code: Option<String>,
    /// 1.6 vendorId: whose error codes those are.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vendor_id: Option<String>,
    /// When the charger says the status began.
    pub reported_at: DateTime<Utc>,
    /// When the CSMS received it.
    pub received_at: DateTime<Utc>,
    /// Last energy register reading outside a transaction (Wh), with its time.
    #[serde(default)]
    pub meter: Option<RegisterReading>,
}

/// An energy register reading.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RegisterReading {
    /// Register value in Wh.
    #[serde(with = "cpms_ocpp::number")]
    pub energy_wh: Decimal,
    /// When it was read.
    pub at: DateTime<Utc>,
}

/// A status report of a long-running charger operation (firmware update, diagnostics upload).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct StatusReport {
    /// Status as reported.
    pub status: String,
    /// Request it belongs to (2.0.1 / 1.6 security extension).
    #[serde(default)]
    pub request_id: Option<i64>,
    /// When it was received.
    pub at: DateTime<Utc>,
}

/// A status report for one connector, normalized from either version.
#[derive(Debug, Clone, PartialEq)]
pub struct StatusInput {
    /// EVSE.
    pub evse_id: u32,
    /// Connector.
    pub connector_id: u32,
    /// Status as sent.
    pub ocpp_status: String,
    /// 1.6 error code.
    pub error_code: Option<String>,
    /// Info.
    pub info: Option<String>,
    /// Vendor error code.
    pub vendor_error_code: Option<String>,
    /// 1.6 vendorId (whose error codes those are).
    pub vendor_id: Option<String>,
    /// When the charger says it happened (`None`: it did not say).
    pub timestamp: Option<DateTime<Utc>>,
}

impl Charger {
    /// A charger as registered by an operator.
    pub fn register(tenant: TenantId, id: ChargerId, now: DateTime<Utc>) -> Self {
        Charger {
            tenant,
            id,
            name: None,
            password_hash: None,
            previous_password_hash: None,
            pending_password: None,
            password_changed_at: None,
            credential_check: None,
            allow_username_mismatch: false,
            free_charging: false,
            expected_version: None,
            enabled: true,
            registration: Registration::New,
            boot: None,
            connection: None,
            last_version: None,
            last_seen: None,
            site_id: None,
            evses: Vec::new(),
            connectors: Vec::new(),
            firmware: None,
            diagnostics: None,
            created_at: now,
            updated_at: now,
        }
    }

    /// A password change was sent to the charger in `command_id`.
    pub fn password_sent(&mut self, hash: String, command_id: &str, now: DateTime<Utc>) {
        self.pending_password = Some(PendingPassword {
            hash,
            command_id: command_id.to_string(),
            since: now,
        });
    }

    /// The charger answered the password change of `command_id`: on acceptance the new password becomes
    /// the current one (the old one is let in until the charger connects with the new); otherwise it is
    /// forgotten. Returns whether anything changed.
    pub fn password_answered(
        &mut self,
        command_id: &str,
        accepted: bool,
        now: DateTime<Utc>,
    ) -> bool {
        let Some(p) = self
            .pending_password
            .take_if(|p| p.command_id == command_id)
        else {
            return false;
        };
        if accepted {
            self.previous_password_hash = self.password_hash.replace(p.hash);
            self.password_changed_at = Some(now);
        }
        true
    }

    /// A connection presented one of the charger's passwords: a pending one is confirmed by it, and a
    /// previous one is no longer needed once the current one was used. Returns whether anything changed.
    pub fn password_used(&mut self, which: PasswordMatch, now: DateTime<Utc>) -> bool {
        match which {
            PasswordMatch::Current => self.previous_password_hash.take().is_some(),
            PasswordMatch::Pending => {
                let Some(p) = self.pending_password.take() else {
                    return false;
                };
                self.password_hash = Some(p.hash);
                self.previous_password_hash = None;
                self.password_changed_at = Some(now);
                true
            }
            PasswordMatch::Previous => false,
        }
    }

    /// An admin set the password: it replaces every other one at once.
    pub fn password_set(&mut self, hash: String, now: DateTime<Utc>) {
        self.password_hash = Some(hash);
        self.previous_password_hash = None;
        self.pending_password = None;
        self.password_changed_at = Some(now);
    }

    /// The passwords a connection may present now, in the order they are tried.
    pub fn acceptable_passwords(&self, now: DateTime<Utc>) -> Vec<(PasswordMatch, &str)> {
        let mut out = Vec::with_capacity(3);
        if let Some(h) = &self.password_hash {
            out.push((PasswordMatch::Current, h.as_str()));
        }
        if let Some(p) = self.pending_password.as_ref().filter(|p| p.usable(now)) {
            out.push((PasswordMatch::Pending, p.hash.as_str()));
        }
        if let Some(h) = &self.previous_password_hash {
            out.push((PasswordMatch::Previous, h.as_str()));
        }
        out
    }

    /// Whether the charger was ever accepted (a charger need not boot again on reconnect).
    pub fn was_accepted(&self) -> bool {
        self.registration == Registration::Accepted
    }

    /// Records a status report. Reports older than the one held for that connector (late delivery) are
    /// ignored; returns whether anything changed.
    pub fn apply_status(&mut self, s: StatusInput, now: DateTime<Utc>) -> bool {
        let reported_at = crate::session::sane_time(s.timestamp, now).0;
        let Some(status) = ConnectorStatus::from_ocpp(&s.ocpp_status) else {
            return false;
        };
        let key = (s.evse_id, s.connector_id);
        let pos = self
            .connectors
            .binary_search_by_key(&key, |c| (c.evse_id, c.connector_id));
        let meter = match pos {
            Ok(i) => {
                let old = &self.connectors[i];
                if old.reported_at > reported_at {
                    return false;
                }
                old.meter.clone()
            }
            Err(_) => None,
        };
        let new = ConnectorState {
            evse_id: s.evse_id,
            connector_id: s.connector_id,
            status,
            ocpp_status: s.ocpp_status,
            error_code: s.error_code,
            info: s.info,
            vendor_error_code: s.vendor_error_code,
            vendor_id: s.vendor_id,
            reported_at,
            received_at: now,
            meter,
        };
        match pos {
            Ok(i) if same_status(&self.connectors[i], &new) => return false,
            Ok(i) => self.connectors[i] = new,
            Err(i) => self.connectors.insert(i, new),
        }
        self.updated_at = now;
        true
    }

    /// Records a register reading taken outside a transaction on a connector.
    pub fn apply_register(&mut self, evse_id: u32, reading: RegisterReading) -> bool {
        let Ok(i) = self
            .connectors
            .binary_search_by_key(&(evse_id, 1), |c| (c.evse_id, c.connector_id))
            .or_else(|_| {
                self.connectors
                    .binary_search_by_key(&(evse_id, 0), |c| (c.evse_id, c.connector_id))
            })
        else {
            return false;
        };
        let c = &mut self.connectors[i];
        if c.meter.as_ref().is_some_and(|m| m.at >= reading.at) {
            return false;
        }
        c.meter = Some(reading);
        true
    }
}

fn same_status(a: &ConnectorState, b: &ConnectorState) -> bool {
    a.ocpp_status == b.ocpp_status
        && a.error_code == b.error_code
        && a.info == b.info
        && a.vendor_error_code == b.vendor_error_code
        && a.reported_at == b.reported_at
}

#[cfg(test)]
mod tests {
    use chrono::{Duration, TimeZone};

    use super::*;

    fn t(min: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2024, 5, 1, 12, 0, 0).unwrap() + Duration::minutes(min)
    }

    fn status(s: &str, at: i64) -> StatusInput {
        StatusInput {
            evse_id: 1,
            connector_id: 1,
            ocpp_status: s.into(),
            error_code: Some("NoError".into()),
            info: None,
            vendor_error_code: None,
            vendor_id: None,
            timestamp: Some(t(at)),
        }
    }

    fn charger() -> Charger {
        Charger::register(
            TenantId::default_tenant(),
            ChargerId::new("CP1").unwrap(),
            t(0),
        )
    }

    #[test]
    fn a_rotated_password_replaces_the_old_one_once_the_charger_used_it() {
        use PasswordMatch::*;
        let mut c = charger();
        c.password_hash = Some("old".into());
        c.password_sent("new".into(), "cmd1", t(0));
        let kinds = |c: &Charger, at| {
            c.acceptable_passwords(at)
                .into_iter()
                .map(|(k, h)| (k, h.to_string()))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            kinds(&c, t(1)),
            [(Current, "old".into()), (Pending, "new".into())]
        );
        assert!(!c.password_answered("other", true, t(1)), "another command");
        assert!(c.password_answered("cmd1", true, t(1)));
        assert_eq!(
            kinds(&c, t(2)),
            [(Current, "new".into()), (Previous, "old".into())]
        );
        assert!(!c.password_used(Previous, t(3)), "the old one still works");
        assert!(c.password_used(Current, t(4)));
        assert_eq!(kinds(&c, t(5)), [(Current, "new".into())]);
    }

    #[test]
    fn a_refused_password_is_forgotten_and_an_applied_one_confirmed_by_use() {
        use PasswordMatch::*;
        let mut c = charger();
        c.password_hash = Some("old".into());
        c.password_sent("new".into(), "cmd1", t(0));
        assert!(c.password_answered("cmd1", false, t(1)));
        assert_eq!(c.password_hash.as_deref(), Some("old"));
        assert!(c.pending_password.is_none());
        // The charger applied it and reconnected before its answer arrived.
        c.password_sent("newer".into(), "cmd2", t(2));
        assert!(c.password_used(Pending, t(3)));
        assert_eq!(c.password_hash.as_deref(), Some("newer"));
        assert!(c.previous_password_hash.is_none() && c.pending_password.is_none());
        // A pending password lapses after a day.
        c.password_sent("late".into(), "cmd3", t(4));
        assert_eq!(c.acceptable_passwords(t(4 + 25 * 60)).len(), 1);
    }

    #[test]
    fn status_is_normalized_and_kept_as_sent() {
        let mut c = charger();
        assert!(c.apply_status(status("SuspendedEV", 1), t(1)));
        assert_eq!(c.connectors[0].status, ConnectorStatus::Occupied);
        assert_eq!(c.connectors[0].ocpp_status, "SuspendedEV");
    }

    #[test]
    fn late_reports_do_not_overwrite_newer_ones() {
        let mut c = charger();
        c.apply_status(status("Unavailable", 5), t(5));
        // GIVEN a flapping charger whose Available (minute 4) arrives after Unavailable (minute 5)
        assert!(!c.apply_status(status("Available", 4), t(6)));
        assert_eq!(c.connectors[0].status, ConnectorStatus::Unavailable);
        // a repeat of the same report changes nothing
        assert!(!c.apply_status(status("Unavailable", 5), t(7)));
    }

    #[test]
    fn connectors_stay_sorted() {
        let mut c = charger();
        for (evse, conn) in [(2, 1), (0, 0), (1, 1)] {
            let mut s = status("Available", 1);
            s.evse_id = evse;
            s.connector_id = conn;
            c.apply_status(s, t(1));
        }
        let keys: Vec<_> = c
            .connectors
            .iter()
            .map(|c| (c.evse_id, c.connector_id))
            .collect();
        assert_eq!(keys, [(0, 0), (1, 1), (2, 1)]);
    }

    #[test]
    fn unknown_statuses_are_ignored() {
        let mut c = charger();
        assert!(!c.apply_status(status("Exploded", 1), t(1)));
        assert!(c.connectors.is_empty());
    }
}

/// An EVSE as installed: what it can deliver.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EvseSpec {
    /// 2.0.1 EVSE id; the 1.6 connectorId.
    pub evse_id: u32,
    /// Its connectors.
    pub connectors: Vec<ConnectorSpec>,
}

/// A connector as installed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConnectorSpec {
    /// Connector id within the EVSE (1 for 1.6 chargers).
    pub connector_id: u32,
    /// Plug standard (OCPI ConnectorType).
    pub standard: ConnectorStandard,
    /// Socket or attached cable.
    pub format: ConnectorFormat,
    /// AC or DC.
    pub power_type: PowerType,
    /// Most power it delivers, in kW.
    #[schemars(with = "f64")]
    #[serde(with = "cpms_ocpp::number")]
    pub max_power_kw: rust_decimal::Decimal,
}

/// Plug standards (OCPI 2.2.1 ConnectorType names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub enum ConnectorStandard {
    /// Type 1 (SAE J1772).
    #[serde(rename = "IEC_62196_T1")]
    Type1,
    /// CCS 1.
    #[serde(rename = "IEC_62196_T1_COMBO")]
    Ccs1,
    /// Type 2 (Mennekes).
    #[serde(rename = "IEC_62196_T2")]
    Type2,
    /// CCS 2.
    #[serde(rename = "IEC_62196_T2_COMBO")]
    Ccs2,
    /// CHAdeMO.
    #[serde(rename = "CHADEMO")]
    Chademo,
    /// GB/T AC.
    #[serde(rename = "GBT_AC")]
    GbtAc,
    /// GB/T DC.
    #[serde(rename = "GBT_DC")]
    GbtDc,
    /// Tesla / NACS.
    #[serde(rename = "TESLA_S")]
    Tesla,
    /// Schuko household socket.
    #[serde(rename = "DOMESTIC_F")]
    DomesticF,
}

/// Socket or cable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ConnectorFormat {
    /// The driver brings the cable.
    Socket,
    /// The cable is attached.
    Cable,
}

/// Current type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PowerType {
    /// Single-phase AC.
    Ac1Phase,
    /// Three-phase AC.
    Ac3Phase,
    /// DC.
    Dc,
}

/// Checks a declared topology: EVSE ids from 1, unique; connector ids from 1, unique per EVSE; power
/// positive and at most 1000 kW.
pub fn validate_topology(evses: &[EvseSpec]) -> Result<(), crate::DomainError> {
    let bad = |reason: String| crate::DomainError::Invalid {
        field: "evses",
        reason,
    };
    let mut seen = std::collections::BTreeSet::new();
    for e in evses {
        if e.evse_id == 0 || !seen.insert(e.evse_id) {
            return Err(bad(format!("evse_id {} is 0 or repeated", e.evse_id)));
        }
        if e.connectors.is_empty() {
            return Err(bad(format!("EVSE {} has no connectors", e.evse_id)));
        }
        let mut ids = std::collections::BTreeSet::new();
        for c in &e.connectors {
            if c.connector_id == 0 || !ids.insert(c.connector_id) {
                return Err(bad(format!(
                    "connector_id {} of EVSE {} is 0 or repeated",
                    c.connector_id, e.evse_id
                )));
            }
            if c.max_power_kw <= rust_decimal::Decimal::ZERO
                || c.max_power_kw > rust_decimal::Decimal::from(1000)
            {
                return Err(bad(format!(
                    "max_power_kw of EVSE {} connector {} must be above 0 and at most 1000",
                    e.evse_id, c.connector_id
                )));
            }
        }
    }
    Ok(())
}
