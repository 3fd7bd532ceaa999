//! The engine: a session's usage and a tariff in, charging periods and exact costs out.
//!
//! 1. The session is cut wherever a restriction can change: slice ends (new meter data), local times of
//!    day and midnights, durations, and the instants the charged energy crosses a kWh bound.
//! 2. For each piece, per dimension the first element whose restrictions hold and that prices that
//!    dimension applies. Consecutive pieces with the same elements form one charging period.
//! 3. Per dimension, volume is billed at the price of the element it fell into. Step sizes (OCPI 2.2.1):
//!    the volume of a run of periods priced for that dimension is rounded up to the step size of the
//!    last component used, when the run ends (the session ends, or an element without that dimension
//!    takes over); the rounded-up rest is billed at that last component's price.
//! 4. FLAT is billed once, from the first period that has one. Amounts stay exact; the total is clamped
//!    to min/max price and rounded once (see `money`).

use chrono::{DateTime, Duration, TimeZone, Utc};
use chrono_tz::Tz;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::money::{Price, allocate, round_money, with_vat};
use super::restriction::{Moment, cuts};
use super::{Dimension, TariffTerms, Usage};

/// A volume of one dimension in a period, in OCPI units (kWh, hours).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CdrDimension {
    /// `ENERGY` (kWh), `TIME` (hours charging), `PARKING_TIME` (hours not charging).
    #[serde(rename = "type")]
    pub kind: String,
    /// The volume.
    #[schemars(with = "f64")]
    #[serde(with = "cpms_ocpp::number")]
    pub volume: Decimal,
}

/// A part of a session during which the same tariff elements applied.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ChargingPeriod {
    /// When it started.
    pub start_date_time: DateTime<Utc>,
    /// What was used in it.
    pub dimensions: Vec<CdrDimension>,
    /// Indexes of the tariff elements that priced it (energy, time, parking), for explanations.
    pub elements: Vec<usize>,
}

/// The amounts of one VAT rate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct VatLine {
    /// The rate in percent; absent: no VAT applies.
    #[schemars(with = "Option<f64>")]
    #[serde(default, with = "cpms_ocpp::number::option")]
    pub rate: Option<Decimal>,
    /// Amount excluding VAT (rounded; the lines add up to the total).
    #[schemars(with = "f64")]
    #[serde(with = "cpms_ocpp::number")]
    pub excl_vat: Decimal,
    /// The VAT (rounded; the lines add up to the total's VAT).
    #[schemars(with = "f64")]
    #[serde(with = "cpms_ocpp::number")]
    pub vat: Decimal,
}

/// A priced session.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Priced {
    /// Currency of every amount.
    pub currency: String,
    /// The charging periods.
    pub periods: Vec<ChargingPeriod>,
    /// Energy charged, kWh.
    #[schemars(with = "f64")]
    #[serde(with = "cpms_ocpp::number")]
    pub total_energy: Decimal,
    /// Hours of the whole session, charging or not (OCPI `total_time`).
    #[schemars(with = "f64")]
    #[serde(with = "cpms_ocpp::number")]
    pub total_time: Decimal,
    /// Hours connected, not charging.
    #[schemars(with = "f64")]
    #[serde(with = "cpms_ocpp::number")]
    pub total_parking_time: Decimal,
    /// FLAT fees.
    pub total_fixed_cost: Price,
    /// ENERGY.
    pub total_energy_cost: Price,
    /// TIME.
    pub total_time_cost: Price,
    /// PARKING_TIME.
    pub total_parking_cost: Price,
    /// What the session costs (after min/max price), rounded once.
    pub total_cost: Price,
    /// The total per VAT rate.
    pub vat_lines: Vec<VatLine>,
    /// `min_price` or `max_price` when one of them set the total.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clamped_by: Option<String>,
}

/// One piece of the session with constant inputs.
struct Piece {
    start: DateTime<Utc>,
    ms: i64,
    energy_wh: Decimal,
    charging: bool,
    /// Active (element, component) per dimension: energy, time, parking, flat.
    active: [Option<(usize, usize)>; 4],
}

const DIMS: [Dimension; 4] = [
    Dimension::Energy,
    Dimension::Time,
    Dimension::ParkingTime,
    Dimension::Flat,
];

/// Prices `usage` under `terms`, with local times in `tz`.
pub fn price(terms: &TariffTerms, tz: Tz, usage: &Usage) -> Priced {
    let end = usage.end();
    let cut_at = cuts(terms, tz, usage.start, end);
    let bounds = energy_bounds(terms);
    let mut pieces: Vec<Piece> = Vec::with_capacity(usage.slices.len() + cut_at.len() + 2);
    let (mut at, mut energy) = (usage.start, Decimal::ZERO);
    let mut next_cut = 0;
    for slice in timed(usage).iter() {
        let slice_start = at;
        let slice_ms = (slice.end - slice_start).num_milliseconds().max(0);
        let mut used = Decimal::ZERO;
        while at < slice.end {
            while next_cut < cut_at.len() && cut_at[next_cut] <= at {
                next_cut += 1;
            }
            let stop = cut_at
                .get(next_cut)
                .copied()
                .filter(|c| *c < slice.end)
                .unwrap_or(slice.end);
            // Energy up to `stop`, in proportion to time within the slice (the rest at the slice's end,
            // so that a slice's pieces add up to its energy exactly).
            let mut piece_wh = if stop == slice.end {
                slice.energy_wh - used
            } else {
                slice.energy_wh * Decimal::from((stop - slice_start).num_milliseconds())
                    / Decimal::from(slice_ms.max(1))
                    - used
            };
            let mut stop = stop;
            // Crossing a kWh bound inside the piece: stop where it is crossed.
            if piece_wh > Decimal::ZERO
                && let Some(b) = bounds
                    .iter()
                    .find(|b| **b > energy && **b < energy + piece_wh)
            {
                let ms = (stop - at).num_milliseconds();
                let part = ((*b - energy) / piece_wh * Decimal::from(ms))
                    .round()
                    .try_into()
                    .unwrap_or(0i64);
                if part > 0 && part < ms {
                    stop = at + Duration::milliseconds(part);
                    piece_wh = *b - energy;
                }
            }
            let m = Moment {
                local: tz.from_utc_datetime(&at.naive_utc()).naive_local(),
                energy_wh: energy,
                elapsed_s: (at - usage.start).num_seconds(),
                power_kw: slice
                    .power_kw
                    .or_else(|| average_kw(slice.energy_wh, slice_ms)),
                current_a: slice.current_a,
            };
            let mut active = [None; 4];
            for (d, slot) in DIMS.iter().zip(active.iter_mut()) {
                *slot = terms.elements.iter().enumerate().find_map(|(i, e)| {
                    let c = e.price_components.iter().position(|c| c.dimension == *d)?;
                    e.restrictions
                        .as_ref()
                        .is_none_or(|r| r.hold(&m))
                        .then_some((i, c))
                });
            }
            pieces.push(Piece {
                start: at,
                ms: (stop - at).num_milliseconds(),
                energy_wh: piece_wh,
                charging: slice.charging,
                active,
            });
            used += piece_wh;
            energy += piece_wh;
            at = stop;
        }
    }
    settle(terms, pieces)
}

/// The slices, each ending after the one before: energy reported in a slice without duration (two
/// readings at one instant) moves to the next slice (or the last one), so that none is lost. A session
/// without any duration (all that is known of it is one instant, e.g. a 2.0.1 `Ended` that arrived
/// before its `Started`) is still one session: it gets one slice of a millisecond, so its FLAT fee and
/// energy are priced now rather than by a correction later.
fn timed(usage: &Usage) -> std::borrow::Cow<'_, [super::Slice]> {
    let mut prev = usage.start;
    if !usage.slices.is_empty()
        && usage.slices.iter().all(|s| {
            let ok = s.end > prev;
            prev = s.end;
            ok
        })
    {
        return std::borrow::Cow::Borrowed(&usage.slices);
    }
    let (mut out, mut carry, mut prev) = (Vec::<super::Slice>::new(), Decimal::ZERO, usage.start);
    for s in &usage.slices {
        if s.end <= prev {
            carry += s.energy_wh;
            continue;
        }
        let mut s = s.clone();
        s.energy_wh += carry;
        s.charging |= !carry.is_zero();
        carry = Decimal::ZERO;
        prev = s.end;
        out.push(s);
    }
    match out.last_mut() {
        Some(last) => last.energy_wh += carry,
        None => out.push(super::Slice {
            end: usage.start + Duration::milliseconds(1),
            energy_wh: carry,
            charging: !carry.is_zero(),
            power_kw: None,
            current_a: None,
        }),
    }
    std::borrow::Cow::Owned(out)
}

/// Every kWh bound of the tariff, in Wh, sorted.
fn energy_bounds(terms: &TariffTerms) -> Vec<Decimal> {
    let mut b: Vec<Decimal> = terms
        .elements
        .iter()
        .filter_map(|e| e.restrictions.as_ref())
        .flat_map(|r| [r.min_kwh, r.max_kwh])
        .flatten()
        .map(|k| k * Decimal::ONE_THOUSAND)
        .collect();
    b.sort_unstable();
    b.dedup();
    b
}

fn average_kw(wh: Decimal, ms: i64) -> Option<Decimal> {
    (ms > 0).then(|| wh * Decimal::from(3600) / Decimal::from(ms))
}

/// Exact amounts per (dimension, VAT rate) while pricing.
#[derive(Default)]
struct Ledger {
    by_dim: [Decimal; 4],
    by_dim_incl: [Decimal; 4],
    by_rate: Vec<(Option<Decimal>, Decimal)>,
}

impl Ledger {
    fn bill(&mut self, dim: usize, amount: Decimal, vat: Option<Decimal>) {
        let incl = with_vat(amount, vat);
        self.by_dim[dim] += amount;
        self.by_dim_incl[dim] += incl;
        match self.by_rate.iter_mut().find(|(r, _)| *r == vat) {
            Some((_, a)) => *a += amount,
            None => self.by_rate.push((vat, amount)),
        }
    }
}

const MS_PER_HOUR: i64 = 3_600_000;

fn settle(terms: &TariffTerms, pieces: Vec<Piece>) -> Priced {
    let mut ledger = Ledger::default();
    let unit_cost =
        |dim: usize, (e, c): (usize, usize), volume: Decimal| -> (Decimal, Option<Decimal>) {
            let pc = &terms.elements[e].price_components[c];
            let per = match dim {
                0 => volume / Decimal::ONE_THOUSAND,
                _ => volume / Decimal::from(MS_PER_HOUR),
            };
            (per * pc.price, pc.vat)
        };
    // ENERGY (Wh), TIME (ms charging), PARKING_TIME (ms not charging), with runs and step sizes. The
    // volume of each (dimension, element, component) is summed exactly and priced once: pricing each
    // piece would cut every non-terminating fraction (ms per hour) at Decimal's 28 digits, and a price
    // would then depend on how finely the session was sliced.
    let mut volumes: std::collections::BTreeMap<(usize, usize, usize), Decimal> =
        std::collections::BTreeMap::new();
    for dim in 0..3 {
        let volume = |p: &Piece| match dim {
            0 => p.energy_wh,
            1 if p.charging => Decimal::from(p.ms),
            2 if !p.charging => Decimal::from(p.ms),
            _ => Decimal::ZERO,
        };
        let mut run = Decimal::ZERO;
        let mut last: Option<(usize, usize)> = None;
        let close =
            |run: &mut Decimal,
             last: &mut Option<(usize, usize)>,
             volumes: &mut std::collections::BTreeMap<(usize, usize, usize), Decimal>| {
                if let Some((e, c)) = last.take() {
                    let step =
                        Decimal::from(terms.elements[e].price_components[c].step_size.max(1))
                            * if dim == 0 {
                                Decimal::ONE
                            } else {
                                Decimal::ONE_THOUSAND
                            };
                    // Volumes are exact up to the interpolation of energy; 1 mWh is far below any step.
                    let v = run.round_dp(6);
                    let billed = (v / step).ceil() * step;
                    if billed > v {
                        *volumes.entry((dim, e, c)).or_default() += billed - v;
                    }
                }
                *run = Decimal::ZERO;
            };
        for p in &pieces {
            match p.active[dim] {
                Some((e, c)) => {
                    let v = volume(p);
                    if !v.is_zero() {
                        *volumes.entry((dim, e, c)).or_default() += v;
                        run += v;
                        last = Some((e, c));
                    }
                }
                None => close(&mut run, &mut last, &mut volumes),
            }
        }
        close(&mut run, &mut last, &mut volumes);
    }
    for ((dim, e, c), v) in volumes {
        let (amount, vat) = unit_cost(dim, (e, c), v);
        ledger.bill(dim, amount, vat);
    }
    if let Some((e, c)) = pieces.iter().find_map(|p| p.active[3]) {
        let pc = &terms.elements[e].price_components[c];
        ledger.bill(3, pc.price, pc.vat);
    }
    let periods = periods(&pieces);
    let total = |f: &dyn Fn(&Piece) -> Decimal| pieces.iter().map(f).sum::<Decimal>();
    let charging_ms = total(&|p| {
        if p.charging {
            Decimal::from(p.ms)
        } else {
            Decimal::ZERO
        }
    });
    let parking_ms = total(&|p| {
        if p.charging {
            Decimal::ZERO
        } else {
            Decimal::from(p.ms)
        }
    });
    let energy_wh = total(&|p| p.energy_wh);
    finish(terms, ledger, periods, energy_wh, charging_ms, parking_ms)
}

/// A period being built: the period, its active elements, energy (Wh), charging and parking (ms).
type OpenPeriod = (
    ChargingPeriod,
    [Option<(usize, usize)>; 4],
    Decimal,
    i64,
    i64,
);

fn periods(pieces: &[Piece]) -> Vec<ChargingPeriod> {
    let mut out: Vec<OpenPeriod> = Vec::new();
    for p in pieces {
        let same = out.last().is_some_and(|(_, a, ..)| *a == p.active);
        if !same {
            let mut elements: Vec<usize> =
                p.active[..3].iter().flatten().map(|(e, _)| *e).collect();
            elements.sort_unstable();
            elements.dedup();
            let period = ChargingPeriod {
                start_date_time: p.start,
                dimensions: Vec::new(),
                elements,
            };
            out.push((period, p.active, Decimal::ZERO, 0, 0));
        }
        let (_, _, wh, time, parking) = out.last_mut().expect("pushed above");
        *wh += p.energy_wh;
        if p.charging {
            *time += p.ms;
        } else {
            *parking += p.ms;
        }
    }
    out.into_iter()
        .map(|(mut period, _, wh, time, parking)| {
            let dim = |kind: &str, volume: Decimal| CdrDimension {
                kind: kind.into(),
                volume: volume.round_dp(6).normalize(),
            };
            if !wh.is_zero() {
                period
                    .dimensions
                    .push(dim("ENERGY", wh / Decimal::ONE_THOUSAND));
            }
            if time > 0 {
                period.dimensions.push(dim("TIME", hours(time)));
            }
            if parking > 0 {
                period.dimensions.push(dim("PARKING_TIME", hours(parking)));
            }
            period
        })
        .collect()
}

fn hours(ms: i64) -> Decimal {
    Decimal::from(ms) / Decimal::from(MS_PER_HOUR)
}

fn finish(
    terms: &TariffTerms,
    ledger: Ledger,
    periods: Vec<ChargingPeriod>,
    energy_wh: Decimal,
    charging_ms: Decimal,
    parking_ms: Decimal,
) -> Priced {
    let cur = terms.currency.as_str();
    let excl: Decimal = ledger.by_dim.iter().sum();
    let incl: Decimal = ledger.by_dim_incl.iter().sum();
    let mut rates = ledger.by_rate;
    // min/max price: excl. and incl. VAT are each clamped to their own bound (OCPI); a bound without an
    // incl. VAT amount scales the VAT with the excl. amount.
    let (mut new_excl, mut new_incl, mut clamped_by) = (excl, incl, None);
    let mut clamp = |bound: &Price, name: &str, below: bool| {
        let crosses = |v: Decimal, b: Decimal| if below { v < b } else { v > b };
        if crosses(new_excl, bound.excl_vat) {
            let factor = (!new_excl.is_zero()).then(|| bound.excl_vat / new_excl);
            new_incl = match (bound.incl_vat, factor) {
                (Some(b), _) if crosses(new_incl, b) => b,
                (Some(_), _) => new_incl,
                (None, Some(f)) => new_incl * f,
                (None, None) => bound.excl_vat,
            };
            new_excl = bound.excl_vat;
            clamped_by = Some(name.to_string());
        } else if let Some(b) = bound.incl_vat
            && crosses(new_incl, b)
        {
            new_incl = b;
            clamped_by = Some(name.to_string());
        }
    };
    if let Some(min) = &terms.min_price {
        clamp(min, "min_price", true);
    }
    if let Some(max) = &terms.max_price {
        clamp(max, "max_price", false);
    }
    if clamped_by.is_some() {
        if excl.is_zero() {
            // Nothing was billed but a minimum applies: its VAT is what its two amounts imply.
            let rate = (!new_excl.is_zero())
                .then(|| ((new_incl - new_excl) / new_excl * Decimal::ONE_HUNDRED).round_dp(4));
            rates = vec![(rate.filter(|r| !r.is_zero()), new_excl)];
        } else {
            let f = new_excl / excl;
            for r in &mut rates {
                r.1 *= f;
            }
        }
    }
    let total_cost = Price::new(round_money(new_excl, cur), round_money(new_incl, cur));
    // The exact incl. amount per rate, scaled so the rates add up to the (clamped) incl. total.
    let raw_incl: Vec<Decimal> = rates.iter().map(|(r, a)| with_vat(*a, *r)).collect();
    let raw_sum: Decimal = raw_incl.iter().sum();
    let scaled: Vec<Decimal> = if raw_sum.is_zero() {
        raw_incl
    } else {
        raw_incl.iter().map(|v| *v * new_incl / raw_sum).collect()
    };
    let excl_lines = allocate(
        &rates.iter().map(|r| r.1).collect::<Vec<_>>(),
        total_cost.excl_vat,
        cur,
    );
    let incl_lines = allocate(&scaled, total_cost.incl(), cur);
    let vat_lines = rates
        .iter()
        .zip(excl_lines.iter().zip(&incl_lines))
        .map(|((rate, _), (e, i))| VatLine {
            rate: *rate,
            excl_vat: *e,
            vat: *i - *e,
        })
        .collect();
    let dim_price = |i: usize| {
        Price::new(
            round_money(ledger.by_dim[i], cur),
            round_money(ledger.by_dim_incl[i], cur),
        )
    };
    Priced {
        currency: terms.currency.clone(),
        periods,
        total_energy: (energy_wh / Decimal::ONE_THOUSAND).round_dp(6).normalize(),
        total_time: ((charging_ms + parking_ms) / Decimal::from(MS_PER_HOUR))
            .round_dp(6)
            .normalize(),
        total_parking_time: (parking_ms / Decimal::from(MS_PER_HOUR))
            .round_dp(6)
            .normalize(),
        total_fixed_cost: dim_price(3),
        total_energy_cost: dim_price(0),
        total_time_cost: dim_price(1),
        total_parking_cost: dim_price(2),
        total_cost,
        vat_lines,
        clamped_by,
    }
}

impl Priced {
    /// Every volume and amount negated (credit CDRs).
    pub fn negated(&self) -> Priced {
        let neg = |p: &Price| p.negated();
        Priced {
            currency: self.currency.clone(),
            periods: self
                .periods
                .iter()
                .map(|p| ChargingPeriod {
                    dimensions: p
                        .dimensions
                        .iter()
                        .map(|d| CdrDimension {
                            kind: d.kind.clone(),
                            volume: -d.volume,
                        })
                        .collect(),
                    ..p.clone()
                })
                .collect(),
            total_energy: -self.total_energy,
            total_time: -self.total_time,
            total_parking_time: -self.total_parking_time,
            total_fixed_cost: neg(&self.total_fixed_cost),
            total_energy_cost: neg(&self.total_energy_cost),
            total_time_cost: neg(&self.total_time_cost),
            total_parking_cost: neg(&self.total_parking_cost),
            total_cost: neg(&self.total_cost),
            vat_lines: self
                .vat_lines
                .iter()
                .map(|l| VatLine {
                    rate: l.rate,
                    excl_vat: -l.excl_vat,
                    vat: -l.vat,
                })
                .collect(),
            clamped_by: self.clamped_by.clone(),
        }
    }
}

/// The component of each dimension (energy, time, parking, flat) that applies to a session starting at
/// `at` (nothing charged yet, power and current unknown): the price a driver sees before charging.
pub fn components_at(
    terms: &TariffTerms,
    tz: Tz,
    at: DateTime<Utc>,
) -> [Option<&super::PriceComponent>; 4] {
    let m = Moment {
        local: tz.from_utc_datetime(&at.naive_utc()).naive_local(),
        energy_wh: Decimal::ZERO,
        elapsed_s: 0,
        power_kw: None,
        current_a: None,
    };
    let mut out = [None; 4];
    for (d, slot) in DIMS.iter().zip(out.iter_mut()) {
        *slot = terms.elements.iter().find_map(|e| {
            let c = e.price_components.iter().find(|c| c.dimension == *d)?;
            e.restrictions
                .as_ref()
                .is_none_or(|r| r.hold(&m))
                .then_some(c)
        });
    }
    out
}
