//! When a tariff element applies: its restrictions evaluated at one instant of a session, and the
//! instants within a session where the answer can change (local times of day, local midnights, session
//! durations) so that the engine can cut the session there.

use chrono::{DateTime, Datelike, Duration, NaiveDateTime, NaiveTime, Offset, TimeZone, Utc};
use chrono_tz::Tz;
use rust_decimal::Decimal;

use super::{Restrictions, TariffTerms};

/// A session at one instant, as restrictions see it.
pub(crate) struct Moment {
    /// Local wall-clock time at the site.
    pub local: NaiveDateTime,
    /// Energy charged so far, in Wh.
    pub energy_wh: Decimal,
    /// Time since the session started.
    pub elapsed_s: i64,
    /// Power at this moment, in kW, when known.
    pub power_kw: Option<Decimal>,
    /// Current (sum over phases) at this moment, in A, when known.
    pub current_a: Option<Decimal>,
}

const THOUSAND: Decimal = Decimal::ONE_THOUSAND;

impl Restrictions {
    /// Whether all restrictions hold at `m`. A restriction on power or current holds only when it is
    /// known; reservation elements never apply to a charging session.
    pub(crate) fn hold(&self, m: &Moment) -> bool {
        if self.reservation.is_some() {
            return false;
        }
        let t = m.local.time();
        let in_day = match (self.start_time, self.end_time) {
            (Some(s), Some(e)) if s <= e => s <= t && t < e,
            (Some(s), Some(e)) => t >= s || t < e,
            (Some(s), None) => t >= s,
            (None, Some(e)) => t < e,
            (None, None) => true,
        };
        let d = m.local.date();
        in_day
            && self.start_date.is_none_or(|s| d >= s)
            && self.end_date.is_none_or(|e| d < e)
            && (self.day_of_week.is_empty()
                || self.day_of_week.iter().any(|w| w.weekday() == d.weekday()))
            && self.min_kwh.is_none_or(|k| m.energy_wh >= k * THOUSAND)
            && self.max_kwh.is_none_or(|k| m.energy_wh < k * THOUSAND)
            && self
                .min_duration
                .is_none_or(|s| m.elapsed_s >= i64::from(s))
            && self.max_duration.is_none_or(|s| m.elapsed_s < i64::from(s))
            && self
                .min_power
                .is_none_or(|p| m.power_kw.is_some_and(|x| x >= p))
            && self
                .max_power
                .is_none_or(|p| m.power_kw.is_some_and(|x| x < p))
            && self
                .min_current
                .is_none_or(|c| m.current_a.is_some_and(|x| x >= c))
            && self
                .max_current
                .is_none_or(|c| m.current_a.is_some_and(|x| x < c))
    }
}

/// The instants strictly inside `(start, end)` where some element's time, date, weekday or duration
/// restriction can start or stop holding, sorted and without duplicates.
pub(crate) fn cuts(
    terms: &TariffTerms,
    tz: Tz,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> Vec<DateTime<Utc>> {
    let mut times: Vec<NaiveTime> = Vec::new();
    let mut out = Vec::new();
    for r in terms
        .elements
        .iter()
        .filter_map(|e| e.restrictions.as_ref())
    {
        times.extend(r.start_time);
        times.extend(r.end_time);
        if !r.day_of_week.is_empty() || r.start_date.is_some() || r.end_date.is_some() {
            times.push(NaiveTime::MIN);
        }
        for s in [r.min_duration, r.max_duration].into_iter().flatten() {
            out.push(start + Duration::seconds(i64::from(s)));
        }
    }
    if !times.is_empty() {
        times.sort_unstable();
        times.dedup();
        let off_start = tz.offset_from_utc_datetime(&start.naive_utc()).fix();
        let off_end = tz.offset_from_utc_datetime(&end.naive_utc()).fix();
        let first = (start.naive_utc() + off_start).date();
        let last = (end.naive_utc() + off_end).date();
        let mut day = first;
        while day <= last {
            for t in &times {
                let local = day.and_time(*t);
                // Across a clock change the wall-clock time is read with the offset of either side;
                // the instant read with the wrong offset is one more cut, which changes nothing (the
                // restrictions are evaluated afresh at every cut).
                out.push((local - off_start).and_utc());
                if off_end != off_start {
                    out.push((local - off_end).and_utc());
                }
            }
            match day.succ_opt() {
                Some(d) => day = d,
                None => break,
            }
        }
        if off_end != off_start {
            // The clock change itself: a local time that falls into the skipped hour takes effect there.
            out.push(transition(tz, start, end));
        }
    }
    out.retain(|c| *c > start && *c < end);
    out.sort_unstable();
    out.dedup();
    out
}

/// The instant in `(start, end]` where the site's UTC offset changes (the offsets at the two ends
/// differ), found by bisection to the second.
fn transition(tz: Tz, start: DateTime<Utc>, end: DateTime<Utc>) -> DateTime<Utc> {
    let off = |t: DateTime<Utc>| tz.offset_from_utc_datetime(&t.naive_utc()).fix();
    let before = off(start);
    let (mut lo, mut hi) = (start, end);
    while hi - lo > Duration::seconds(1) {
        let mid = lo + (hi - lo) / 2;
        if off(mid) == before {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    hi
}
