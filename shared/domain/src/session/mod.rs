//! Charging sessions: one model for OCPP 1.6 (StartTransaction / MeterValues / StopTransaction) and 2.0.1
//! (TransactionEvent Started / Updated / Ended with seqNo). Both versions' messages become
//! [`SessionEvent`]s; [`Session::apply`] folds them in any order, any number of times.

mod apply;
#[cfg(test)]
mod tests;

use chrono::{DateTime, Utc};
use cpms_ocpp::OcppVersion;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

pub use apply::{Applied, sane_time};

use crate::charger::RegisterReading;
use crate::meter::MeterSample;
use crate::token::AuthDecision;
use crate::{SessionId, TenantId};

/// Where a session stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SessionStatus {
    /// Charging or about to; not ended yet.
    Active,
    /// Started and ended as reported by the charger.
    Completed,
    /// Put together from incomplete data (end without a known start, superseded by a newer session on
    /// the same connector): the record is kept, its numbers are best effort.
    Reconciled,
    /// The token was refused at start.
    Failed,
}

impl SessionStatus {
    /// Parses `active`, `completed`, `reconciled`, `failed`.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "active" => SessionStatus::Active,
            "completed" => SessionStatus::Completed,
            "reconciled" => SessionStatus::Reconciled,
            "failed" => SessionStatus::Failed,
            _ => return None,
        })
    }

    /// The name used in the API.
    pub fn as_str(self) -> &'static str {
        match self {
            SessionStatus::Active => "active",
            SessionStatus::Completed => "completed",
            SessionStatus::Reconciled => "reconciled",
            SessionStatus::Failed => "failed",
        }
    }
}

/// The token a session runs under.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdToken {
    /// Id tag / id token value as sent.
    pub value: String,
    /// 2.0.1 IdTokenEnumType; `None` for 1.6.
    #[serde(default)]
    pub kind: Option<String>,
}

/// The phase of a session a message reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum EventKind {
    /// 1.6 StartTransaction, 2.0.1 Started.
    Started,
    /// 1.6 MeterValues with a transaction id, 2.0.1 Updated.
    Updated,
    /// 1.6 StopTransaction, 2.0.1 Ended.
    Ended,
}

/// One session message, normalized.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionEvent {
    /// Which phase.
    pub kind: EventKind,
    /// 2.0.1 seqNo.
    pub seq_no: Option<u64>,
    /// When the charger says it happened.
    pub timestamp: DateTime<Utc>,
    /// EVSE and connector, when the message says.
    pub evse: Option<(u32, u32)>,
    /// Token, when the message carries one.
    pub id_token: Option<IdToken>,
    /// The authorization decision for `id_token`, made by the caller.
    pub auth: Option<AuthDecision>,
    /// 1.6 meterStart (Started) or meterStop (Ended), in Wh.
    pub meter_wh: Option<Decimal>,
    /// Sampled values, normalized.
    pub samples: Vec<MeterSample>,
    /// Why it stopped (Ended).
    pub stop_reason: Option<String>,
    /// 2.0.1 chargingState.
    pub charging_state: Option<String>,
    /// 2.0.1 triggerReason.
    pub trigger_reason: Option<String>,
    /// 2.0.1 offline flag: the charger queued the message while offline.
    pub offline: bool,
    /// 2.0.1 remoteStartId.
    pub remote_start_id: Option<i64>,
    /// Reservation it consumes.
    pub reservation_id: Option<i64>,
    /// Hash of the message content: the same message applied twice is recognized.
    pub fingerprint: u64,
    /// Quirks forgiven while reading the message (recorded as anomalies).
    pub quirks: Vec<String>,
}

impl SessionEvent {
    /// An event of `kind` at `timestamp` with nothing else known yet.
    pub fn new(kind: EventKind, timestamp: DateTime<Utc>, fingerprint: u64) -> Self {
        SessionEvent {
            kind,
            seq_no: None,
            timestamp,
            evse: None,
            id_token: None,
            auth: None,
            meter_wh: None,
            samples: Vec::new(),
            stop_reason: None,
            charging_state: None,
            trigger_reason: None,
            offline: false,
            remote_start_id: None,
            reservation_id: None,
            fingerprint,
            quirks: Vec::new(),
        }
    }
}

/// Latest overall readings during a session.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct LatestMeter {
    /// Active power drawn (W).
    #[serde(
        default,
        with = "cpms_ocpp::number::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub power_w: Option<Decimal>,
    /// Current drawn (A; the highest phase when only per-phase values are sent).
    #[serde(
        default,
        with = "cpms_ocpp::number::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub current_a: Option<Decimal>,
    /// Voltage (V).
    #[serde(
        default,
        with = "cpms_ocpp::number::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub voltage_v: Option<Decimal>,
    /// Battery state of charge (%).
    #[serde(
        default,
        with = "cpms_ocpp::number::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub soc_percent: Option<Decimal>,
    /// When these were sampled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<DateTime<Utc>>,
    /// The phases (bit 0 = L1, 1 = L2, 2 = L3) that carried at least 1 A in the latest per-phase
    /// current readings (smart charging counts the phases a car draws on).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub current_phases: u8,
    /// When `current_a` was sampled (its phases are of one reading).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_at: Option<DateTime<Utc>>,
}

fn is_zero(v: &u8) -> bool {
    *v == 0
}

impl LatestMeter {
    /// How many phases the car draws on, when per-phase currents were reported.
    pub fn phases_drawing(&self) -> Option<u8> {
        (self.current_phases != 0).then(|| self.current_phases.count_ones() as u8)
    }
}

/// Something odd about a session's data, kept for support and billing review.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Anomaly {
    /// What (`clock_not_set`, `unit_mislabelled`, `register_reset`, `unknown_transaction`, ...).
    pub kind: String,
    /// Details of the first occurrence.
    pub detail: String,
    /// How often it occurred.
    pub count: u32,
    /// When it was first seen.
    pub first_at: DateTime<Utc>,
}

/// A charging session.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Session {
    /// Owner.
    pub tenant: TenantId,
    /// Charger and transaction id.
    pub id: SessionId,
    /// Version of the messages that built it.
    pub ocpp_version: OcppVersion,
    /// Where / how it stands.
    pub status: SessionStatus,
    /// EVSE (1.6: connector id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evse_id: Option<u32>,
    /// Connector on the EVSE.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connector_id: Option<u32>,
    /// The token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_token: Option<IdToken>,
    /// The authorization decision given at start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<AuthDecision>,
    /// The authorization decision given for the token presented at stop (1.6).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_auth: Option<AuthDecision>,
    /// Start time (the charger's, or when the CSMS learned of it if the charger's clock was wrong).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<DateTime<Utc>>,
    /// Whether the start message itself was received (false: the start is inferred).
    #[serde(default, skip_serializing_if = "is_false")]
    pub start_reported: bool,
    /// End time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_at: Option<DateTime<Utc>>,
    /// Register at start (Wh).
    #[serde(
        default,
        with = "cpms_ocpp::number::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub meter_start_wh: Option<Decimal>,
    /// Register at stop (Wh).
    #[serde(
        default,
        with = "cpms_ocpp::number::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub meter_stop_wh: Option<Decimal>,
    /// Energy delivered so far (Wh).
    #[serde(
        default,
        with = "cpms_ocpp::number::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub energy_wh: Option<Decimal>,
    /// Why it stopped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_reason: Option<String>,
    /// 2.0.1 charging state (`Charging`, `SuspendedEV`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub charging_state: Option<String>,
    /// Latest readings.
    #[serde(default)]
    pub latest: LatestMeter,
    /// First energy register reading of the session.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_register: Option<RegisterReading>,
    /// Last energy register reading of the session.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_register: Option<RegisterReading>,
    /// Number of stored samples.
    #[serde(default)]
    pub sample_count: u32,
    /// Per sample series, the newest sample time stored: a sample not newer than that may be one the
    /// session already holds (see [`Session::may_repeat_samples`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sample_marks: Vec<SeriesMark>,
    /// Whether any of its messages were queued offline.
    #[serde(default, skip_serializing_if = "is_false")]
    pub offline: bool,
    /// 2.0.1 remoteStartId.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote_start_id: Option<i64>,
    /// Reservation it consumed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reservation_id: Option<i64>,
    /// Closed by reconciliation rather than by the charger.
    #[serde(default, skip_serializing_if = "is_false")]
    pub closed_by_reconciliation: bool,
    /// Fingerprint of the 1.6 StartTransaction (a resent start is recognized).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_fingerprint: Option<u64>,
    /// 2.0.1 seqNos received, as inclusive ranges.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub seq_seen: Vec<(u64, u64)>,
    /// Highest seqNo applied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seq_max: Option<u64>,
    /// Fingerprints of the last messages applied.
    #[serde(default, skip_serializing_if = "Vec::is_empty", with = "fingerprints")]
    pub applied: Vec<u64>,
    /// Data anomalies.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub anomalies: Vec<Anomaly>,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// Message fingerprints stored as one base64 text of their 8-byte big-endian values (a third of the
/// decimal array's size: the session record is written on every message); an array of numbers is read
/// too (records written before).
mod fingerprints {
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD_NO_PAD;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &[u64], s: S) -> Result<S::Ok, S::Error> {
        let bytes: Vec<u8> = v.iter().flat_map(|f| f.to_be_bytes()).collect();
        s.serialize_str(&STANDARD_NO_PAD.encode(bytes))
    }

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Stored {
        Text(String),
        Numbers(Vec<u64>),
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u64>, D::Error> {
        match Stored::deserialize(d)? {
            Stored::Numbers(v) => Ok(v),
            Stored::Text(t) => {
                let bytes = STANDARD_NO_PAD
                    .decode(t.as_bytes())
                    .map_err(serde::de::Error::custom)?;
                Ok(bytes
                    .chunks_exact(8)
                    .map(|c| u64::from_be_bytes(c.try_into().unwrap_or_default()))
                    .collect())
            }
        }
    }
}

/// The newest sample time of one series of a session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeriesMark {
    /// `measurand|phase|location|context`.
    pub series: String,
    /// Newest sample time stored in it.
    pub latest: DateTime<Utc>,
}

impl Session {
    /// An empty session, before any message is applied.
    pub fn new(tenant: TenantId, id: SessionId, version: OcppVersion, now: DateTime<Utc>) -> Self {
        Session {
            tenant,
            id,
            ocpp_version: version,
            status: SessionStatus::Active,
            evse_id: None,
            connector_id: None,
            id_token: None,
            auth: None,
            stop_auth: None,
            started_at: None,
            start_reported: false,
            ended_at: None,
            meter_start_wh: None,
            meter_stop_wh: None,
            energy_wh: None,
            stop_reason: None,
            charging_state: None,
            latest: LatestMeter::default(),
            first_register: None,
            last_register: None,
            sample_count: 0,
            sample_marks: Vec::new(),
            offline: false,
            remote_start_id: None,
            reservation_id: None,
            closed_by_reconciliation: false,
            start_fingerprint: None,
            seq_seen: Vec::new(),
            seq_max: None,
            applied: Vec::new(),
            anomalies: Vec::new(),
            created_at: now,
            updated_at: now,
        }
    }

    /// Whether a 1.6 StartTransaction with this session's start fingerprint may be a resend of its start
    /// (the charger never got the answer): only while the session is open and nothing has used its
    /// transaction id since. Otherwise an identical start is a new transaction (a charger whose clock is
    /// not set sends the same start, 1970 timestamp and all, for every session of a connector).
    pub fn may_be_resent_start(&self) -> bool {
        self.ended_at.is_none() && self.applied.len() <= 1 && self.sample_count == 0
    }

    /// Whether the session has an anomaly of `kind`.
    pub fn has_anomaly(&self, kind: &str) -> bool {
        self.anomalies.iter().any(|a| a.kind == kind)
    }
}
