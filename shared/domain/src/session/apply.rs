//! How a session message changes a session. Order-independent where OCPP allows reordering (2.0.1 seqNo,
//! late meter values), idempotent for resent messages, and tolerant of the data errors real chargers make.

use std::collections::HashSet;

use chrono::{DateTime, Duration, TimeZone, Utc};
use rust_decimal::Decimal;

use super::{Anomaly, EventKind, Session, SessionEvent, SessionStatus};
use crate::charger::RegisterReading;
use crate::meter::{self, MeterSample, SampleKey};

/// How many message fingerprints a session remembers for duplicate detection (a charger resends a
/// message right after the connection drops, so recent ones are what matters).
const REMEMBERED_MESSAGES: usize = 16;

/// What applying a message did.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Applied {
    /// The message had been applied before: nothing changed.
    pub duplicate: bool,
    /// Samples to store with the session.
    pub new_samples: Vec<MeterSample>,
}

/// A charger timestamp the CSMS can trust, or `now` with the reason it could not: clocks that were never
/// set (before 2010) and clocks running more than a day ahead. `None` means the charger gave no time.
pub fn sane_time(
    ts: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> (DateTime<Utc>, Option<&'static str>) {
    let earliest = Utc.with_ymd_and_hms(2010, 1, 1, 0, 0, 0).single();
    match ts {
        None => (now, None),
        Some(t) if earliest.is_some_and(|e| t < e) => (now, Some("clock_not_set")),
        Some(t) if t > now + Duration::days(1) => (now, Some("clock_ahead")),
        Some(t) => (t, None),
    }
}

impl Session {
    /// Applies one message. A message applied before (same fingerprint, or same 2.0.1 seqNo) changes
    /// nothing.
    pub fn apply(&mut self, ev: &SessionEvent, now: DateTime<Utc>) -> Applied {
        self.apply_knowing(ev, now, None)
    }

    /// Whether `ev` brings a sample that is not newer than what the session already holds in its series
    /// (a retransmission, or data sent late): then the caller reads the stored samples and passes their
    /// keys to [`Session::apply_knowing`], so that no reading is stored twice. Newer samples, the usual
    /// case, need no read.
    pub fn may_repeat_samples(&self, ev: &SessionEvent, now: DateTime<Utc>) -> bool {
        if self.applied.contains(&ev.fingerprint) {
            return false;
        }
        ev.samples.iter().any(|s| {
            let ts = sane_time(Some(s.timestamp), now).0;
            match self.sample_marks.iter().find(|m| m.series == s.series()) {
                Some(m) => ts <= m.latest,
                // A session stored before series were tracked.
                None => self.sample_count > 0 && self.sample_marks.is_empty(),
            }
        })
    }

    /// [`Session::apply`], skipping samples whose key is in `known` (the session's stored samples).
    pub fn apply_knowing(
        &mut self,
        ev: &SessionEvent,
        now: DateTime<Utc>,
        known: Option<&HashSet<SampleKey>>,
    ) -> Applied {
        if self.applied.contains(&ev.fingerprint) || ev.seq_no.is_some_and(|s| self.seq_known(s)) {
            return Applied {
                duplicate: true,
                new_samples: Vec::new(),
            };
        }
        self.remember(ev);
        for q in &ev.quirks {
            self.note(q, "forgiven while reading the message", now);
        }
        let (ts, clock) = sane_time(Some(ev.timestamp), now);
        if let Some(kind) = clock {
            self.note(kind, &format!("charger time {}", ev.timestamp), now);
        }
        let latest = ev
            .seq_no
            .is_none_or(|s| self.seq_max.is_none_or(|m| s >= m));
        if let Some(s) = ev.seq_no {
            self.seq_max = Some(self.seq_max.map_or(s, |m| m.max(s)));
        }
        self.offline |= ev.offline;
        if self.evse_id.is_none()
            && let Some((evse, conn)) = ev.evse
        {
            self.evse_id = Some(evse);
            self.connector_id = Some(conn);
        }
        if let Some(t) = &ev.id_token {
            match ev.kind {
                // A token shown at the end authorizes the stop, not the session.
                EventKind::Ended => {
                    self.stop_auth = ev.auth.clone();
                    if self.id_token.is_none() {
                        self.id_token = Some(t.clone());
                    }
                }
                _ if self.id_token.is_none()
                    || !self.start_reported && ev.kind == EventKind::Started =>
                {
                    self.id_token = Some(t.clone());
                    self.auth = ev.auth.clone();
                }
                _ => {}
            }
        }
        self.remote_start_id = self.remote_start_id.or(ev.remote_start_id);
        self.reservation_id = self.reservation_id.or(ev.reservation_id);
        if latest && ev.charging_state.is_some() {
            self.charging_state = ev.charging_state.clone();
        }
        match ev.kind {
            EventKind::Started => {
                self.started_at = Some(ts);
                self.start_reported = true;
                if ev.meter_wh.is_some() {
                    self.meter_start_wh = ev.meter_wh;
                }
                if ev.seq_no.is_none() {
                    self.start_fingerprint = Some(ev.fingerprint);
                }
            }
            EventKind::Updated => {}
            EventKind::Ended => {
                if self.closed_by_reconciliation {
                    // The charger's own stop, after reconciliation had closed the session: it is the
                    // session's real end.
                    self.closed_by_reconciliation = false;
                    self.anomalies
                        .retain(|a| a.kind != "closed_by_reconciliation");
                    self.note(
                        "stopped_after_reconciliation",
                        "the charger's stop arrived after reconciliation had closed the session",
                        now,
                    );
                }
                self.ended_at = Some(ts);
                if ev.meter_wh.is_some() {
                    self.meter_stop_wh = ev.meter_wh;
                }
                self.stop_reason = Some(ev.stop_reason.clone().unwrap_or_else(|| "Local".into()));
            }
        }
        if self.started_at.is_none_or(|s| ts < s) && !self.start_reported {
            self.started_at = Some(ts);
        }
        let new_samples = self.take_samples(&ev.samples, now, known);
        self.recompute(now);
        self.updated_at = now;
        Applied {
            duplicate: false,
            new_samples,
        }
    }

    /// Closes a session the charger will never end (a newer one started on its connector).
    pub fn close_by_reconciliation(&mut self, at: DateTime<Utc>, reason: &str, now: DateTime<Utc>) {
        if self.ended_at.is_some() {
            return;
        }
        self.ended_at = Some(at.max(self.started_at.unwrap_or(at)));
        self.stop_reason = Some(reason.to_string());
        self.closed_by_reconciliation = true;
        self.note("closed_by_reconciliation", reason, now);
        self.recompute(now);
        self.updated_at = now;
    }

    /// Records an anomaly (counted once per kind).
    pub fn note(&mut self, kind: &str, detail: &str, now: DateTime<Utc>) {
        match self.anomalies.iter_mut().find(|a| a.kind == kind) {
            Some(a) => a.count = a.count.saturating_add(1),
            None => self.anomalies.push(Anomaly {
                kind: kind.to_string(),
                detail: detail.to_string(),
                count: 1,
                first_at: now,
            }),
        }
    }

    fn seq_known(&self, s: u64) -> bool {
        self.seq_seen.iter().any(|(a, b)| (*a..=*b).contains(&s))
    }

    fn remember(&mut self, ev: &SessionEvent) {
        if self.applied.len() >= REMEMBERED_MESSAGES {
            self.applied.remove(0);
        }
        self.applied.push(ev.fingerprint);
        if let Some(s) = ev.seq_no {
            self.seq_seen.push((s, s));
            self.seq_seen.sort_unstable();
            let mut merged: Vec<(u64, u64)> = Vec::with_capacity(self.seq_seen.len());
            for (a, b) in self.seq_seen.drain(..) {
                match merged.last_mut() {
                    Some(last) if a <= last.1.saturating_add(1) => last.1 = last.1.max(b),
                    _ => merged.push((a, b)),
                }
            }
            self.seq_seen = merged;
        }
    }

    fn take_samples(
        &mut self,
        samples: &[MeterSample],
        now: DateTime<Utc>,
        known: Option<&HashSet<SampleKey>>,
    ) -> Vec<MeterSample> {
        let mut out = Vec::with_capacity(samples.len());
        let mut taken = HashSet::with_capacity(samples.len());
        let mut repeated = 0usize;
        for s in samples {
            let mut s = s.clone();
            let (ts, clock) = sane_time(Some(s.timestamp), now);
            if let Some(kind) = clock {
                self.note(kind, &format!("sample time {}", s.timestamp), now);
                s.timestamp = ts;
            }
            let key = s.key();
            if known.is_some_and(|k| k.contains(&key)) || !taken.insert(key.clone()) {
                repeated += 1;
                continue;
            }
            self.mark(key);
            if !self.start_reported && self.started_at.is_none_or(|st| s.timestamp < st) {
                // Without its start message, a session began no later than its first sample.
                self.started_at = Some(s.timestamp);
            }
            if s.value.is_none() && s.signed_data.is_none() {
                self.note(
                    "unreadable_value",
                    &format!("{} without a number", s.measurand),
                    now,
                );
            }
            if s.is_total(meter::ENERGY_IMPORT_REGISTER) {
                self.take_register(&mut s, now);
            }
            self.take_latest(&s);
            out.push(s);
        }
        if repeated > 0 {
            self.note(
                "repeated_samples",
                &format!("{repeated} readings received again were stored once"),
                now,
            );
        }
        self.sample_count = self.sample_count.saturating_add(out.len() as u32);
        out
    }

    fn mark(&mut self, key: SampleKey) {
        match self
            .sample_marks
            .iter_mut()
            .find(|m| m.series == key.series)
        {
            Some(m) => m.latest = m.latest.max(key.timestamp),
            None => self.sample_marks.push(super::SeriesMark {
                series: key.series,
                latest: key.timestamp,
            }),
        }
    }

    fn take_register(&mut self, s: &mut MeterSample, now: DateTime<Utc>) {
        let Some(mut v) = s.value else { return };
        if v.is_sign_negative() {
            self.note("negative_value", &format!("register {v} Wh"), now);
            return;
        }
        let reference = self
            .last_register
            .as_ref()
            .map(|r| r.energy_wh)
            .or(self.meter_start_wh);
        if let Some(r) = reference
            && looks_like_kwh(v, r)
        {
            self.note(
                "unit_mislabelled",
                &format!("register {v} labelled Wh read as kWh"),
                now,
            );
            v *= Decimal::from(1000);
            s.value = Some(v);
        }
        let reading = RegisterReading {
            energy_wh: v,
            at: s.timestamp,
        };
        match s.context.as_deref() {
            Some("Transaction.Begin") if self.meter_start_wh.is_none() => {
                self.meter_start_wh = Some(v)
            }
            Some("Transaction.End") if self.meter_stop_wh.is_none() => self.meter_stop_wh = Some(v),
            _ => {}
        }
        if self
            .first_register
            .as_ref()
            .is_none_or(|f| reading.at < f.at)
        {
            self.first_register = Some(reading.clone());
        }
        if self
            .last_register
            .as_ref()
            .is_none_or(|l| reading.at >= l.at)
        {
            self.last_register = Some(reading);
        }
    }

    fn take_latest(&mut self, s: &MeterSample) {
        if self.latest.at.is_some_and(|at| s.timestamp < at) {
            return;
        }
        let Some(v) = s.value else { return };
        let per_phase = s.phase.is_some();
        let l = &mut self.latest;
        let fresh = l.at != Some(s.timestamp);
        if s.measurand == meter::CURRENT_IMPORT {
            // The current of one reading: the highest phase, and the phases that carry 1 A or more.
            if l.current_at != Some(s.timestamp) {
                l.current_at = Some(s.timestamp);
                l.current_a = None;
                l.current_phases = 0;
            }
            l.current_a = Some(l.current_a.map_or(v, |c| c.max(v)));
            if v >= Decimal::ONE
                && let Some(bit) = s.phase.as_deref().and_then(phase_bit)
            {
                l.current_phases |= bit;
            }
            l.at = Some(s.timestamp);
            return;
        }
        match s.measurand.as_str() {
            meter::POWER_IMPORT if !per_phase => l.power_w = Some(v),
            meter::POWER_IMPORT if fresh || l.power_w.is_none() => l.power_w = Some(v),
            meter::POWER_IMPORT => l.power_w = l.power_w.map(|p| p + v),
            meter::VOLTAGE if !per_phase || l.voltage_v.is_none() || fresh => l.voltage_v = Some(v),
            meter::SOC => l.soc_percent = Some(v),
            _ => return,
        }
        l.at = Some(s.timestamp);
    }

    fn recompute(&mut self, now: DateTime<Utc>) {
        let start = self
            .meter_start_wh
            .or(self.first_register.as_ref().map(|r| r.energy_wh));
        let register = self.last_register.as_ref().map(|r| r.energy_wh);
        let end = match self.ended_at {
            Some(_) => self.meter_stop_wh.or(register),
            None => register,
        };
        self.energy_wh = match (start, end) {
            (Some(s), Some(e)) if e >= s => Some(e - s),
            (Some(s), Some(e)) => {
                // The register went backwards: the meter counts per session (restarted at 0).
                self.note("register_reset", &format!("start {s} Wh, end {e} Wh"), now);
                Some(e.max(Decimal::ZERO))
            }
            (Some(_), None) if self.ended_at.is_none() => Some(Decimal::ZERO),
            _ => None,
        };
        self.status = if self.auth.as_ref().is_some_and(|a| !a.accepted()) {
            SessionStatus::Failed
        } else if self.ended_at.is_none() {
            SessionStatus::Active
        } else if self.start_reported && !self.closed_by_reconciliation {
            SessionStatus::Completed
        } else {
            SessionStatus::Reconciled
        };
    }
}

/// The bit of a phase label (`L1`, `L2-N`, ...); line-to-line labels name no single phase.
fn phase_bit(p: &str) -> Option<u8> {
    match p {
        "L1" | "L1-N" => Some(1),
        "L2" | "L2-N" => Some(2),
        "L3" | "L3-N" => Some(4),
        _ => None,
    }
}

/// A register value labelled Wh that is really kWh: three orders of magnitude below the session's
/// reference register, and within range once multiplied by 1000.
fn looks_like_kwh(v: Decimal, reference_wh: Decimal) -> bool {
    let thousand = Decimal::from(1000);
    reference_wh >= thousand
        && v > Decimal::ZERO
        && v * Decimal::from(100) < reference_wh
        && v * thousand >= reference_wh / Decimal::TWO
        && v * thousand <= reference_wh * Decimal::TWO + Decimal::from(1_000_000)
}
