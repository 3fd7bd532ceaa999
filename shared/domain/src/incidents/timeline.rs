//! A charger's status timeline: its connectors' status reports (with 1.6 error code, info, vendor id
//! and vendor error code), 2.0.1 device events (faults with `cleared`), connections and
//! disconnections, and silences found by the sweeper. Entries are kept in the order of the charger's own
//! timestamps (checked like a session's: a clock not set or far ahead counts as the time received), so
//! a late or out-of-order report lands in its place and is marked late. One record per charger and UTC
//! day, kept for the tenant's retention. A resent report is recorded once. A day holds at most
//! [`MAX_ENTRIES_PER_DAY`] entries: past that, a flapping connector's reports are folded into its
//! latest entry (counted in `repeats`), so junk cannot grow a record without bound.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::charger::ConnectorStatus;
use crate::{ChargerId, TenantId};

/// The most entries one charger's day keeps one by one.
pub const MAX_ENTRIES_PER_DAY: usize = 2_000;
/// How long a timeline is kept when the tenant has not chosen (days).
pub const DEFAULT_RETENTION_DAYS: u32 = 400;

/// What happened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Signal {
    /// A status report of a connector (EVSE 0, connector 0: the charger as a whole, in 1.6).
    Status {
        /// Normalized status.
        status: ConnectorStatus,
        /// As the charger sent it.
        ocpp_status: String,
        /// 1.6 errorCode (`NoError` when all is well).
        #[serde(default)]
        error_code: Option<String>,
        /// 1.6 info.
        #[serde(default)]
        info: Option<String>,
        /// 1.6 vendorId.
        #[serde(default)]
        vendor_id: Option<String>,
        /// 1.6 vendorErrorCode.
        #[serde(default)]
        vendor_error_code: Option<String>,
    },
    /// A 2.0.1 device-model event (NotifyEvent): a component's variable took a value; a problem
    /// event reports whether it `cleared`.
    Event {
        /// The charger's event id.
        event_id: i64,
        /// Component (e.g. `ConnectorPlugRetentionLock`).
        component: String,
        /// Variable (e.g. `Problem`).
        variable: String,
        /// Its value.
        actual_value: String,
        /// `Alerting`, `Delta` or `Periodic`.
        trigger: String,
        /// The problem it reported is gone.
        cleared: bool,
        /// Vendor code.
        #[serde(default)]
        tech_code: Option<String>,
        /// Vendor detail.
        #[serde(default)]
        tech_info: Option<String>,
    },
    /// The charger connected.
    Connected {
        /// OCPP version (`1.6`, `2.0.1`).
        version: String,
    },
    /// Its connection ended.
    Disconnected,
    /// Nothing was heard from it for longer than its heartbeat interval allows.
    Silent,
    /// A security event that calls for a look (see [`super::signals::security_severity`]; routine
    /// ones stay in the charger's log).
    Security {
        /// The event type as reported.
        event_type: String,
        /// Its severity.
        severity: super::rules::Severity,
        /// The charger's details.
        #[serde(default)]
        tech_info: Option<String>,
    },
    /// A problem began during a maintenance window: planned downtime, no incident.
    Planned {
        /// The window.
        window_id: String,
        /// The rule that was silenced.
        rule: String,
        /// What was reported.
        detail: String,
    },
}

/// One entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct TimelineEntry {
    /// When it happened, as the charger says (or when it was received, if the charger's clock cannot
    /// be trusted or it did not say).
    pub at: DateTime<Utc>,
    /// When the CSMS received it.
    pub received_at: DateTime<Utc>,
    /// EVSE (0: the charger).
    pub evse_id: u32,
    /// Connector (0: the EVSE, or the charger).
    pub connector_id: u32,
    /// What happened.
    #[serde(flatten)]
    pub signal: Signal,
    /// Reports folded into this one because the day was full.
    #[serde(default)]
    pub repeats: u32,
    /// It arrived after a newer report of the same place.
    #[serde(default)]
    pub late: bool,
    /// Why its time is the time received (`clock_not_set`, `clock_ahead`), if so.
    #[serde(default)]
    pub time_note: Option<String>,
}

impl TimelineEntry {
    /// An entry of `signal` at `(evse, connector)`, at the charger's `reported` time made sane against
    /// `now`.
    pub fn new(
        evse_id: u32,
        connector_id: u32,
        signal: Signal,
        reported: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Self {
        let (at, note) = crate::session::sane_time(reported, now);
        TimelineEntry {
            at,
            received_at: now,
            evse_id,
            connector_id,
            signal,
            repeats: 0,
            late: false,
            time_note: note.map(str::to_string),
        }
    }

    fn place(&self) -> (u32, u32) {
        (self.evse_id, self.connector_id)
    }

    /// Whether it concerns EVSE `evse` (and connector `connector`): the charger's own entries
    /// (connections, EVSE 0) concern every EVSE.
    pub fn concerns(&self, evse: Option<u32>, connector: Option<u32>) -> bool {
        let charger_wide = self.evse_id == 0;
        evse.is_none_or(|e| charger_wide || self.evse_id == e)
            && connector
                .is_none_or(|c| charger_wide || self.connector_id == 0 || self.connector_id == c)
    }
}

/// One charger's timeline for one UTC day.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct TimelineDay {
    /// Owner.
    pub tenant: TenantId,
    /// The charger.
    pub charger_id: ChargerId,
    /// The day (UTC).
    pub day: NaiveDate,
    /// Its entries, oldest first.
    pub entries: Vec<TimelineEntry>,
    /// Reports not kept because the day was full and nothing of their place could take them.
    #[serde(default)]
    pub dropped: u32,
    /// When it may be deleted (the tenant's retention after the day).
    pub expires_at: DateTime<Utc>,
}

impl TimelineDay {
    /// An empty day, kept for `retention_days`.
    pub fn new(
        tenant: TenantId,
        charger_id: ChargerId,
        day: NaiveDate,
        retention_days: u32,
    ) -> Self {
        let start = day
            .and_hms_opt(0, 0, 0)
            .map(|t| t.and_utc())
            .unwrap_or_default();
        TimelineDay {
            tenant,
            charger_id,
            day,
            entries: Vec::new(),
            dropped: 0,
            expires_at: start + Duration::days(i64::from(retention_days) + 1),
        }
    }

    /// The record id of a charger's day.
    pub fn key(charger: &str, day: NaiveDate) -> String {
        format!("{charger}~{day}")
    }

    /// Puts `e` in its place (after the entries of the same time already there). `false` when nothing
    /// changed: the same report again (a resend), or nothing of its place to fold it into on a full day.
    pub fn insert(&mut self, mut e: TimelineEntry) -> bool {
        let resent = self
            .entries
            .iter()
            .any(|x| x.at == e.at && x.place() == e.place() && x.signal == e.signal);
        if resent {
            return false;
        }
        let pos = self.entries.partition_point(|x| x.at <= e.at);
        e.late = self.entries[pos..].iter().any(|x| x.place() == e.place());
        if self.entries.len() >= MAX_ENTRIES_PER_DAY {
            // Full: the place's latest entry before it takes it as a repeat.
            return match self.entries[..pos]
                .iter_mut()
                .rev()
                .find(|x| x.place() == e.place())
            {
                Some(x) => {
                    x.repeats = x.repeats.saturating_add(1);
                    true
                }
                None => {
                    self.dropped = self.dropped.saturating_add(1);
                    true
                }
            };
        }
        self.entries.insert(pos, e);
        true
    }
}

/// A period of a timeline: the entries from `from` (inclusive) to `to` (exclusive), of one EVSE or
/// connector if asked, and per place the last status report before `from` (the state in force then).
pub fn period<'a>(
    days: impl IntoIterator<Item = &'a TimelineDay>,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    evse: Option<u32>,
    connector: Option<u32>,
) -> (Vec<TimelineEntry>, Vec<TimelineEntry>) {
    let mut all: Vec<&TimelineEntry> = days
        .into_iter()
        .flat_map(|d| &d.entries)
        .filter(|e| e.concerns(evse, connector))
        .collect();
    all.sort_by_key(|e| (e.at, e.received_at));
    let mut before: Vec<TimelineEntry> = Vec::new();
    for e in all.iter().filter(|e| e.at < from) {
        if matches!(e.signal, Signal::Status { .. }) {
            before.retain(|b| b.place() != e.place());
            before.push((*e).clone());
        }
    }
    before.sort_by_key(TimelineEntry::place);
    let within = all
        .into_iter()
        .filter(|e| e.at >= from && e.at < to)
        .cloned()
        .collect();
    (before, within)
}
