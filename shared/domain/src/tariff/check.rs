//! Checking a tariff before it is stored: what is wrong is refused with the field and the reason; what
//! is legal but probably not meant (times of day no element covers, elements that overlap or can never
//! apply) is explained as a warning.

use std::collections::BTreeMap;

use chrono::{NaiveTime, Timelike};
use rust_decimal::Decimal;
use serde::Serialize;

use super::money::is_currency;
use super::{DayOfWeek, Dimension, Restrictions, TariffTerms};

/// The largest price per unit (kWh, hour, session) a tariff may state.
pub const MAX_PRICE: u32 = 1_000_000;
/// The largest step size (Wh or seconds).
pub const MAX_STEP: u32 = 10_000_000;
/// The largest min/max price of a session.
pub const MAX_SESSION_PRICE: u32 = 100_000_000;

/// The outcome of `check`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct TariffCheck {
    /// Problems that make the tariff unusable (`elements[1].price_components[0].step_size: ...`).
    pub errors: Vec<String>,
    /// Legal but probably unintended.
    pub warnings: Vec<String>,
}

const DAYS: [DayOfWeek; 7] = [
    DayOfWeek::Monday,
    DayOfWeek::Tuesday,
    DayOfWeek::Wednesday,
    DayOfWeek::Thursday,
    DayOfWeek::Friday,
    DayOfWeek::Saturday,
    DayOfWeek::Sunday,
];

fn name(d: Dimension) -> &'static str {
    match d {
        Dimension::Energy => "ENERGY",
        Dimension::Flat => "FLAT",
        Dimension::Time => "TIME",
        Dimension::ParkingTime => "PARKING_TIME",
    }
}

/// Checks `terms`.
pub fn check(terms: &TariffTerms) -> TariffCheck {
    let mut out = TariffCheck::default();
    let mut err = |s: String| out.errors.push(s);
    if !is_currency(&terms.currency) {
        err(format!(
            "currency: {:?} is not an ISO 4217 code such as EUR",
            terms.currency
        ));
    }
    if terms.elements.is_empty() {
        err("elements: a tariff needs at least one element".into());
    }
    if terms.elements.len() > 100 {
        err("elements: at most 100".into());
    }
    for (i, e) in terms.elements.iter().enumerate() {
        if e.price_components.is_empty() {
            err(format!(
                "elements[{i}].price_components: at least one is needed"
            ));
        }
        for (j, c) in e.price_components.iter().enumerate() {
            let at = format!("elements[{i}].price_components[{j}]");
            if e.price_components[..j]
                .iter()
                .any(|o| o.dimension == c.dimension)
            {
                err(format!(
                    "{at}: a second {} component in one element (the first one would apply)",
                    name(c.dimension)
                ));
            }
            if c.price < Decimal::ZERO {
                err(format!("{at}.price: must not be negative"));
            }
            if c.price > Decimal::from(MAX_PRICE) {
                err(format!("{at}.price: at most {MAX_PRICE} per unit"));
            }
            if c.step_size > MAX_STEP {
                err(format!("{at}.step_size: at most {MAX_STEP}"));
            }
            if c.vat
                .is_some_and(|v| v < Decimal::ZERO || v > Decimal::ONE_HUNDRED)
            {
                err(format!("{at}.vat: a percentage from 0 to 100"));
            }
            if c.step_size == 0 {
                err(format!(
                    "{at}.step_size: at least 1 (Wh for ENERGY, seconds for TIME and PARKING_TIME)"
                ));
            }
        }
        if let Some(r) = &e.restrictions {
            restrictions(&format!("elements[{i}].restrictions"), r, e, &mut err);
        }
    }
    if let (Some(min), Some(max)) = (&terms.min_price, &terms.max_price)
        && min.excl_vat > max.excl_vat
    {
        err("min_price: more than max_price".into());
    }
    for (field, p) in [
        ("min_price", &terms.min_price),
        ("max_price", &terms.max_price),
    ] {
        if let Some(p) = p {
            if p.excl_vat < Decimal::ZERO {
                err(format!("{field}.excl_vat: must not be negative"));
            }
            if p.incl().max(p.excl_vat) > Decimal::from(MAX_SESSION_PRICE) {
                err(format!("{field}: at most {MAX_SESSION_PRICE}"));
            }
            if p.incl_vat.is_some_and(|i| i < p.excl_vat) {
                err(format!("{field}.incl_vat: less than excl_vat"));
            }
        }
    }
    if out.errors.is_empty() {
        for d in [
            Dimension::Energy,
            Dimension::Time,
            Dimension::ParkingTime,
            Dimension::Flat,
        ] {
            coverage(terms, d, &mut out.warnings);
        }
    }
    out
}

fn restrictions(
    at: &str,
    r: &Restrictions,
    e: &super::TariffElement,
    err: &mut impl FnMut(String),
) {
    let pairs = [
        ("kwh", r.min_kwh, r.max_kwh),
        ("current", r.min_current, r.max_current),
        ("power", r.min_power, r.max_power),
        (
            "duration",
            r.min_duration.map(Decimal::from),
            r.max_duration.map(Decimal::from),
        ),
    ];
    for (what, min, max) in pairs {
        if min.is_some_and(|v| v < Decimal::ZERO) || max.is_some_and(|v| v < Decimal::ZERO) {
            err(format!("{at}: min_{what}/max_{what} must not be negative"));
        }
        if let (Some(a), Some(b)) = (min, max)
            && a >= b
        {
            err(format!(
                "{at}: min_{what} ({a}) must be below max_{what} ({b}); the element could never apply"
            ));
        }
    }
    if let (Some(a), Some(b)) = (r.start_date, r.end_date)
        && a >= b
    {
        err(format!(
            "{at}: start_date must be before end_date (which is exclusive)"
        ));
    }
    if let (Some(a), Some(b)) = (r.start_time, r.end_time)
        && a == b
    {
        err(format!(
            "{at}: start_time and end_time are both {}; leave both out for all day",
            a.format("%H:%M")
        ));
    }
    let reservation_dims = e
        .price_components
        .iter()
        .all(|c| matches!(c.dimension, Dimension::Flat | Dimension::Time));
    match r.reservation.as_deref() {
        None => {}
        Some("RESERVATION" | "RESERVATION_EXPIRES") if !reservation_dims => err(format!(
            "{at}.reservation: a reservation element has only FLAT and TIME components"
        )),
        Some("RESERVATION" | "RESERVATION_EXPIRES") => {}
        Some(other) => err(format!(
            "{at}.reservation: {other:?} is not RESERVATION or RESERVATION_EXPIRES"
        )),
    }
}

/// Whether the restrictions depend only on the time of day and the weekday.
fn only_clock(r: &Restrictions) -> bool {
    r.start_date.is_none()
        && r.end_date.is_none()
        && r.min_kwh.is_none()
        && r.max_kwh.is_none()
        && r.min_current.is_none()
        && r.max_current.is_none()
        && r.min_power.is_none()
        && r.max_power.is_none()
        && r.min_duration.is_none()
        && r.max_duration.is_none()
        && r.reservation.is_none()
}

fn minute(t: NaiveTime) -> usize {
    (t.hour() * 60 + t.minute()) as usize
}

fn hhmm(m: usize) -> String {
    format!("{:02}:{:02}", m / 60, m % 60)
}

/// Warnings for dimension `d`: elements after an unrestricted one (never used), and, when there is no
/// unrestricted element, the times of the week no element covers and the times two elements overlap.
fn coverage(terms: &TariffTerms, d: Dimension, warnings: &mut Vec<String>) {
    let priced: Vec<(usize, Option<&Restrictions>)> = terms
        .elements
        .iter()
        .enumerate()
        .filter(|(_, e)| e.price_components.iter().any(|c| c.dimension == d))
        .map(|(i, e)| (i, e.restrictions.as_ref()))
        .filter(|(_, r)| r.is_none_or(|r| r.reservation.is_none()))
        .collect();
    if priced.is_empty() {
        return;
    }
    if let Some(pos) = priced
        .iter()
        .position(|(_, r)| r.is_none_or(|r| *r == Restrictions::default()))
    {
        let never: Vec<String> = priced[pos + 1..]
            .iter()
            .map(|(i, _)| i.to_string())
            .collect();
        if !never.is_empty() {
            warnings.push(format!(
                "{}: element {} has no restrictions, so elements {} after it never apply to {}",
                name(d),
                priced[pos].0,
                never.join(", "),
                name(d)
            ));
        }
        return;
    }
    if d == Dimension::Flat {
        warnings.push(
            "FLAT: every FLAT element is restricted; sessions none of them matches pay no fee"
                .into(),
        );
        return;
    }
    // Per weekday and minute: the first element (by clock restrictions only) that covers it.
    let mut owner = vec![[None::<usize>; 1440]; 7];
    let mut overlaps: BTreeMap<(usize, usize), Vec<Range>> = BTreeMap::new();
    for (i, r) in &priced {
        let Some(r) = r.filter(|r| only_clock(r)) else {
            continue;
        };
        let (s, e) = (
            r.start_time.map_or(0, minute),
            r.end_time.map_or(1440, minute),
        );
        for (day, slots) in owner.iter_mut().enumerate() {
            if !r.day_of_week.is_empty() && !r.day_of_week.contains(&DAYS[day]) {
                continue;
            }
            let mins: Vec<usize> = if s < e {
                (s..e).collect()
            } else {
                (s..1440).chain(0..e).collect()
            };
            for m in mins {
                match slots[m] {
                    None => slots[m] = Some(*i),
                    Some(first) => push_range(overlaps.entry((first, *i)).or_default(), day, m),
                }
            }
        }
    }
    let conditional: Vec<String> = priced
        .iter()
        .filter(|(_, r)| r.is_some_and(|r| !only_clock(r)))
        .map(|(i, _)| i.to_string())
        .collect();
    let mut gaps: Vec<(usize, usize, usize)> = Vec::new();
    for (day, slots) in owner.iter().enumerate() {
        for (m, o) in slots.iter().enumerate() {
            if o.is_none() {
                push_range(&mut gaps, day, m);
            }
        }
    }
    if !gaps.is_empty() {
        let extra = if conditional.is_empty() {
            String::new()
        } else {
            format!(
                " unless elements {} (restricted by energy, power, current, duration or date) apply",
                conditional.join(", ")
            )
        };
        warnings.push(format!(
            "{}: no element covers {}{extra}; {} is free then (add an element without restrictions last as the default)",
            name(d), describe(&gaps), name(d)
        ));
    }
    for ((first, later), ranges) in overlaps {
        warnings.push(format!(
            "{}: elements {first} and {later} overlap on {}; element {first} applies there",
            name(d),
            describe(&ranges)
        ));
    }
}

/// Minutes `from..to` of a weekday (0 = Monday).
type Range = (usize, usize, usize);

/// Adds minute `m` of `day` to a list of (day, from, to) ranges.
fn push_range(ranges: &mut Vec<(usize, usize, usize)>, day: usize, m: usize) {
    match ranges.last_mut() {
        Some((d, _, to)) if *d == day && *to == m => *to = m + 1,
        _ => ranges.push((day, m, m + 1)),
    }
}

/// `MONDAY, TUESDAY 06:00-07:00; SATURDAY 00:00-24:00`: days with the same ranges grouped.
fn describe(ranges: &[(usize, usize, usize)]) -> String {
    let mut by_day: BTreeMap<usize, Vec<String>> = BTreeMap::new();
    for (d, a, b) in ranges {
        by_day
            .entry(*d)
            .or_default()
            .push(format!("{}-{}", hhmm(*a), hhmm(*b)));
    }
    let mut groups: Vec<(Vec<usize>, Vec<String>)> = Vec::new();
    for (d, r) in by_day {
        match groups.iter_mut().find(|(_, x)| *x == r) {
            Some((days, _)) => days.push(d),
            None => groups.push((vec![d], r)),
        }
    }
    groups
        .iter()
        .map(|(days, r)| {
            let names: Vec<String> = days
                .iter()
                .map(|d| {
                    serde_json::to_value(DAYS[*d])
                        .ok()
                        .and_then(|v| v.as_str().map(String::from))
                        .unwrap_or_default()
                })
                .collect();
            let names = if names.len() == 7 {
                "every day".to_string()
            } else {
                names.join(", ")
            };
            format!("{names} {}", r.join(", "))
        })
        .collect::<Vec<_>>()
        .join("; ")
}
