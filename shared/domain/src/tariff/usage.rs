//! What a session used, as the tariff engine reads it: consecutive slices of time, each with the energy
//! charged in it and whether the vehicle was charging. Built from a stored session and its meter
//! samples by stated rules; whatever the rules had to assume is returned as a flag for review.

use chrono::{DateTime, Duration, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::meter::{CURRENT_IMPORT, ENERGY_IMPORT_REGISTER, MeterSample, POWER_IMPORT};
use crate::session::Session;

/// A stretch of a session with constant inputs.
#[derive(Debug, Clone, PartialEq)]
pub struct Slice {
    /// Where it ends (it starts where the previous one ended, or at the session start).
    pub end: DateTime<Utc>,
    /// Energy charged in it, Wh.
    pub energy_wh: Decimal,
    /// Charging (TIME) or only connected (PARKING_TIME).
    pub charging: bool,
    /// Measured power, kW (otherwise the average of the slice is used).
    pub power_kw: Option<Decimal>,
    /// Measured current, sum over phases, A.
    pub current_a: Option<Decimal>,
}

/// A session's usage.
#[derive(Debug, Clone, PartialEq)]
pub struct Usage {
    /// Session start.
    pub start: DateTime<Utc>,
    /// Consecutive slices up to the session end.
    pub slices: Vec<Slice>,
}

/// Something the usage rules had to assume; the CDR carries it and is marked for review.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Flag {
    /// `no_start_meter`, `no_stop_meter`, `no_meter_values`, `meter_reset`, `implausible_energy`,
    /// `no_end`.
    pub kind: String,
    /// What was found and the rule applied.
    pub detail: String,
}

/// No energy register reads more than this (1 TWh); larger values are garbage and ignored.
pub const MAX_REGISTER_WH: u64 = 1_000_000_000_000;

/// The power no charger exceeds, when the EVSE's own maximum is unknown (kW).
pub const DEFAULT_MAX_POWER_KW: u32 = 400;

impl Usage {
    /// Where the last slice ends.
    pub fn end(&self) -> DateTime<Utc> {
        self.slices.last().map_or(self.start, |s| s.end)
    }

    /// All energy, Wh.
    pub fn energy_wh(&self) -> Decimal {
        self.slices.iter().map(|s| s.energy_wh).sum()
    }

    /// A planned session (price previews): `energy_wh` charged evenly over `charging`, then `parking`
    /// connected without charging.
    pub fn planned(
        start: DateTime<Utc>,
        charging: Duration,
        energy_wh: Decimal,
        parking: Duration,
        power_kw: Option<Decimal>,
        current_a: Option<Decimal>,
    ) -> Usage {
        let mut slices = vec![Slice {
            end: start + charging,
            energy_wh,
            charging: true,
            power_kw,
            current_a,
        }];
        if parking > Duration::zero() {
            slices.push(Slice {
                end: start + charging + parking,
                energy_wh: Decimal::ZERO,
                charging: false,
                power_kw: Some(Decimal::ZERO),
                current_a: Some(Decimal::ZERO),
            });
        }
        Usage { start, slices }
    }

    /// The usage of a stored session up to its end (or up to `until` while it runs).
    ///
    /// Rules: energy comes from the `Energy.Active.Import.Register` readings between the start and stop
    /// meter values; a slice in which energy flowed is charging, one without is parking. A missing
    /// start (stop) meter value is replaced by the first (last) reading; a register that goes back was
    /// reset, and counting restarts from its new value; energy beyond what `max_power_kw` (or
    /// `DEFAULT_MAX_POWER_KW`) could deliver in the session is implausible, and the session is priced
    /// on that maximum. Each rule that applies adds a flag.
    pub fn of_session(
        s: &Session,
        samples: &[MeterSample],
        until: DateTime<Utc>,
        max_power_kw: Option<Decimal>,
    ) -> (Usage, Vec<Flag>) {
        let mut flags = Vec::new();
        let mut flag = |kind: &str, detail: String| {
            flags.push(Flag {
                kind: kind.into(),
                detail,
            })
        };
        let start = s.started_at.unwrap_or(s.created_at);
        let end = match s.ended_at {
            Some(e) => e.max(start),
            None if s.status == crate::session::SessionStatus::Active => until.max(start),
            None => {
                flag(
                    "no_end",
                    "the session has no end time; priced up to its last meter reading".into(),
                );
                samples
                    .iter()
                    .map(|m| m.timestamp)
                    .max()
                    .unwrap_or(start)
                    .max(start)
            }
        };
        let sane = |v: Decimal| v >= Decimal::ZERO && v <= Decimal::from(MAX_REGISTER_WH);
        let mut readings: Vec<(DateTime<Utc>, Decimal)> = samples
            .iter()
            .filter(|m| m.is_total(ENERGY_IMPORT_REGISTER) && m.unit == "Wh")
            .filter(|m| m.timestamp >= start && m.timestamp <= end)
            .filter_map(|m| Some((m.timestamp, m.value?)))
            .collect();
        let before = readings.len();
        readings.retain(|r| sane(r.1));
        let (meter_start, meter_stop) = (
            s.meter_start_wh.filter(|v| sane(*v)),
            s.meter_stop_wh.filter(|v| sane(*v)),
        );
        if readings.len() < before
            || meter_start != s.meter_start_wh
            || meter_stop != s.meter_stop_wh
        {
            flag(
                "implausible_register",
                format!("register values below 0 or above {MAX_REGISTER_WH} Wh were ignored"),
            );
        }
        readings.sort_by_key(|r| r.0);
        match meter_start {
            Some(v) => readings.insert(0, (start, v)),
            None => {
                if let Some(f) = readings.first().copied() {
                    flag(
                        "no_start_meter",
                        format!(
                            "no start meter value; counted from the first reading ({} Wh at {})",
                            f.1, f.0
                        ),
                    );
                    readings.insert(0, (start, f.1));
                }
            }
        }
        match meter_stop {
            Some(v) if s.ended_at.is_some() => readings.push((end, v)),
            _ if s.status == crate::session::SessionStatus::Active => {
                if let Some(last) = readings.last().copied() {
                    readings.push((end, last.1));
                }
            }
            _ => {
                if let Some(last) = readings.last().copied() {
                    flag(
                        "no_stop_meter",
                        format!(
                            "no stop meter value; counted up to the last reading ({} Wh at {})",
                            last.1, last.0
                        ),
                    );
                    readings.push((end, last.1));
                }
            }
        }
        if readings.is_empty() {
            flag(
                "no_meter_values",
                "no meter values at all; priced with no energy, the whole session as connected time (PARKING_TIME)".into(),
            );
            readings = vec![(start, Decimal::ZERO), (end, Decimal::ZERO)];
        } else if readings.len() == 1 {
            readings.push((end, readings[0].1));
        }
        let powers = series(samples, POWER_IMPORT, "W");
        let currents = series(samples, CURRENT_IMPORT, "A");
        let mut slices = Vec::with_capacity(readings.len());
        let mut reset_seen = false;
        for w in readings.windows(2) {
            let ((t0, e0), (t1, e1)) = (w[0], w[1]);
            if t1 <= t0 && !slices.is_empty() {
                // A second reading at the same instant: only its value counts.
                if e1 < e0 {
                    reset_seen = true;
                }
                continue;
            }
            let delta = if e1 >= e0 {
                e1 - e0
            } else {
                reset_seen = true;
                Decimal::ZERO
            };
            let in_slice = |v: &Vec<(DateTime<Utc>, Decimal)>| {
                v.iter()
                    .rev()
                    .find(|(t, _)| *t > t0 && *t <= t1)
                    .map(|(_, x)| *x)
            };
            slices.push(Slice {
                end: t1.max(t0),
                energy_wh: delta,
                charging: delta > Decimal::ZERO,
                power_kw: in_slice(&powers).map(|w| w / Decimal::ONE_THOUSAND),
                current_a: in_slice(&currents),
            });
        }
        if reset_seen {
            flag("meter_reset", "the energy register went back (meter reset or replaced); energy before and after counted separately".into());
        }
        let mut usage = Usage { start, slices };
        let cap_kw = max_power_kw.unwrap_or(Decimal::from(DEFAULT_MAX_POWER_KW));
        // The exact duration (a session under a second is not zero hours long).
        let micros = (end - start).num_microseconds().unwrap_or(i64::MAX).max(0);
        let hours = Decimal::from(micros) / Decimal::from(3_600_000_000i64);
        let plausible = cap_kw * hours * Decimal::ONE_THOUSAND;
        let energy = usage.energy_wh();
        if energy > plausible {
            flag(
                "implausible_energy",
                format!(
                    "{energy} Wh in {hours:.3} h is more than {cap_kw} kW can deliver; priced as {plausible:.0} Wh"
                ),
            );
            let f = plausible / energy;
            for s in &mut usage.slices {
                s.energy_wh *= f;
            }
        }
        (usage, flags)
    }
}

/// Total (phase-less) readings of `measurand` in `unit`, by time; per-phase readings taken at one
/// instant are added up when there is no total.
fn series(samples: &[MeterSample], measurand: &str, unit: &str) -> Vec<(DateTime<Utc>, Decimal)> {
    let mut total: Vec<(DateTime<Utc>, Decimal)> = samples
        .iter()
        .filter(|m| m.is_total(measurand) && m.unit == unit)
        .filter_map(|m| Some((m.timestamp, m.value?)))
        .collect();
    if total.is_empty() {
        for m in samples.iter().filter(|m| {
            m.measurand == measurand
                && m.unit == unit
                && m.phase
                    .as_deref()
                    .is_some_and(|p| matches!(p, "L1" | "L2" | "L3"))
        }) {
            let Some(v) = m.value else { continue };
            match total.iter_mut().find(|(t, _)| *t == m.timestamp) {
                Some((_, sum)) => *sum += v,
                None => total.push((m.timestamp, v)),
            }
        }
    }
    total.sort_by_key(|r| r.0);
    total
}
