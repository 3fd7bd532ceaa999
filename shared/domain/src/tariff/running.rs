//! The summary a running session's cost estimate is priced from (OCPP 2.0.1 `CostUpdated`): its energy
//! register readings thinned to what a tariff can tell apart, kept up to date one meter value at a time.
//! The work per update depends on the new readings only, never on the session's length.
//!
//! Per quarter hour (UTC, which is a quarter hour in every real time zone) the summary keeps the first
//! and the last reading, and every reading where the register went back (a reset), so the energy, the
//! time and the quarter hour it fell in are what the full readings give. What thinning loses (power
//! within a quarter hour, for power restrictions) only touches the estimate: the CDR is priced from every
//! sample.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::meter::{ENERGY_IMPORT_REGISTER, MeterSample};

/// Length of a bucket, ms.
const BUCKET_MS: i64 = 15 * 60 * 1000;

/// Register readings of a running session, thinned.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ReadingSummary {
    /// (time, register Wh), oldest first.
    #[serde(default)]
    pub readings: Vec<(DateTime<Utc>, Decimal)>,
}

fn bucket(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis().div_euclid(BUCKET_MS)
}

impl ReadingSummary {
    /// Takes the energy register readings among `samples` (any order; older than the newest kept are
    /// dropped: the estimate follows the charger's live data, late data reaches the CDR).
    pub fn add(&mut self, samples: &[MeterSample]) {
        let mut new: Vec<(DateTime<Utc>, Decimal)> = samples
            .iter()
            .filter(|m| m.is_total(ENERGY_IMPORT_REGISTER) && m.unit == "Wh")
            .filter_map(|m| Some((m.timestamp, m.value?)))
            .collect();
        new.sort_by_key(|r| r.0);
        for r in new {
            self.push(r);
        }
    }

    fn push(&mut self, r: (DateTime<Utc>, Decimal)) {
        let n = self.readings.len();
        if let Some(last) = self.readings.last()
            && r.0 < last.0
        {
            return;
        }
        // The last kept reading can be replaced when it is neither the first of its bucket nor a reset
        // and the register only went up: the slice it ended then just grows.
        if n >= 2 {
            let (prev, last) = (self.readings[n - 2], self.readings[n - 1]);
            if bucket(prev.0) == bucket(last.0)
                && bucket(last.0) == bucket(r.0)
                && prev.1 <= last.1
                && last.1 <= r.1
            {
                self.readings[n - 1] = r;
                return;
            }
        }
        self.readings.push(r);
    }

    /// The kept readings as samples, for [`crate::tariff::Usage::of_session`].
    pub fn samples(&self) -> Vec<MeterSample> {
        self.readings
            .iter()
            .map(|(t, wh)| MeterSample::register_wh(*t, *wh))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, TimeZone};

    fn reg(t: DateTime<Utc>, wh: i64) -> MeterSample {
        MeterSample::register_wh(t, Decimal::from(wh))
    }

    #[test]
    fn a_long_session_keeps_two_readings_per_quarter_hour() {
        // GIVEN a reading every minute for 3 hours
        let t0 = Utc.with_ymd_and_hms(2026, 1, 1, 8, 0, 0).unwrap();
        let mut s = ReadingSummary::default();
        for i in 0..180 {
            // WHEN they arrive one meter value at a time
            s.add(&[reg(t0 + Duration::minutes(i), i * 100)]);
        }
        // THEN at most two per quarter hour are kept, and the first and last are exact
        assert!(s.readings.len() <= 24, "{}", s.readings.len());
        assert_eq!(s.readings[0], (t0, Decimal::ZERO));
        assert_eq!(
            *s.readings.last().unwrap(),
            (t0 + Duration::minutes(179), Decimal::from(17_900))
        );
    }

    #[test]
    fn a_reset_is_kept_and_late_data_dropped() {
        let t0 = Utc.with_ymd_and_hms(2026, 1, 1, 8, 0, 0).unwrap();
        let mut s = ReadingSummary::default();
        for (m, wh) in [(0, 0), (1, 500), (2, 900), (3, 10), (4, 400)] {
            s.add(&[reg(t0 + Duration::minutes(m), wh)]);
        }
        s.add(&[reg(t0, 123)]);
        let values: Vec<i64> = s.readings.iter().map(|r| r.1.try_into().unwrap()).collect();
        assert_eq!(values, vec![0, 900, 10, 400]);
    }

    #[test]
    fn other_measurands_are_ignored() {
        let t0 = Utc.with_ymd_and_hms(2026, 1, 1, 8, 0, 0).unwrap();
        let mut power = reg(t0, 11_000);
        power.measurand = "Power.Active.Import".into();
        power.unit = "W".into();
        let mut s = ReadingSummary::default();
        s.add(&[power]);
        assert!(s.readings.is_empty());
    }
}
