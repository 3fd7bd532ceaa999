//! The worked examples of the OCPI 2.2.1 tariffs and CDRs chapters, with the spec's numbers, and the
//! engine's own rules (DST, kWh bounds, rounding, validation).

use chrono::{DateTime, Duration, TimeZone, Utc};
use chrono_tz::Tz;
use rust_decimal::Decimal;
use serde_json::json;

use super::*;

fn terms(v: serde_json::Value) -> TariffTerms {
    let t: TariffTerms = serde_json::from_value(v).expect("valid terms");
    assert_eq!(check(&t).errors, Vec::<String>::new());
    t
}

fn d(s: &str) -> Decimal {
    s.parse().unwrap()
}

fn at(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

const UTC: Tz = chrono_tz::UTC;

/// Charging `kwh` over `charging_min` minutes from `start`, then `parking_min` parked.
fn session(start: &str, charging_min: i64, kwh: &str, parking_min: i64) -> Usage {
    Usage::planned(
        at(start),
        Duration::minutes(charging_min),
        d(kwh) * Decimal::ONE_THOUSAND,
        Duration::minutes(parking_min),
        None,
        None,
    )
}

fn total(p: &Priced) -> (Decimal, Decimal) {
    (p.total_cost.excl_vat, p.total_cost.incl())
}

fn energy(price: &str, vat: &str, step: u32) -> serde_json::Value {
    let n = |s: &str| serde_json::from_str::<serde_json::Value>(s).unwrap();
    json!({"type": "ENERGY", "price": n(price), "vat": n(vat), "step_size": step})
}

#[test]
fn simple_025_per_kwh_20_kwh_costs_5_00_and_5_50() {
    let t = terms(
        json!({"currency": "EUR", "elements": [{"price_components": [energy("0.25", "10", 1)]}]}),
    );
    let p = price(&t, UTC, &session("2026-01-05T10:00:00Z", 60, "20", 0));
    assert_eq!(total(&p), (d("5.00"), d("5.50")));
}

#[test]
fn start_fee_and_energy_20_kwh_costs_5_50_and_6_10() {
    let t = terms(json!({"currency": "EUR", "elements": [
        {"price_components": [{"type": "FLAT", "price": 0.50, "vat": 20.0, "step_size": 1}]},
        {"price_components": [energy("0.25", "10", 1)]}]}));
    let p = price(&t, UTC, &session("2026-01-05T10:00:00Z", 60, "20", 0));
    assert_eq!(total(&p), (d("5.50"), d("6.10")));
    assert_eq!(p.total_fixed_cost.excl_vat, d("0.50"));
}

#[test]
fn minimum_price_applies_below_2_kwh() {
    let t = terms(
        json!({"currency": "EUR", "min_price": {"excl_vat": 0.50, "incl_vat": 0.55},
        "elements": [{"price_components": [energy("0.25", "10", 1)]}]}),
    );
    let p = price(&t, UTC, &session("2026-01-05T10:00:00Z", 60, "20", 0));
    assert_eq!(total(&p), (d("5.00"), d("5.50")));
    assert_eq!(p.clamped_by, None);
    let p = price(&t, UTC, &session("2026-01-05T10:00:00Z", 10, "1", 0));
    assert_eq!(total(&p), (d("0.50"), d("0.55")));
    assert_eq!(p.clamped_by.as_deref(), Some("min_price"));
}

#[test]
fn start_fee_energy_and_parking_per_15_minutes() {
    let t = terms(json!({"currency": "EUR", "elements": [
        {"price_components": [{"type": "FLAT", "price": 0.50, "vat": 20.0, "step_size": 1}]},
        {"price_components": [energy("0.25", "10", 1)]},
        {"price_components": [{"type": "PARKING_TIME", "price": 2.00, "vat": 20.0, "step_size": 900}]}]}));
    // 40 minutes parked are billed as 45.
    let p = price(&t, UTC, &session("2026-01-05T10:00:00Z", 120, "20", 40));
    assert_eq!(total(&p), (d("7.00"), d("7.90")));
}

#[test]
fn maximum_price_caps_50_kwh_but_not_30() {
    let t = terms(
        json!({"currency": "EUR", "max_price": {"excl_vat": 10.00, "incl_vat": 11.00},
        "elements": [
        {"price_components": [{"type": "FLAT", "price": 0.50, "vat": 20.0, "step_size": 1}]},
        {"price_components": [energy("0.25", "10", 1)]}]}),
    );
    let p = price(&t, UTC, &session("2026-01-05T10:00:00Z", 120, "50", 0));
    assert_eq!(total(&p), (d("10.00"), d("11.00")));
    assert_eq!(p.clamped_by.as_deref(), Some("max_price"));
    let p = price(&t, UTC, &session("2026-01-05T10:00:00Z", 120, "30", 0));
    assert_eq!(total(&p), (d("8.00"), d("8.85")));
}

#[test]
fn two_euro_per_hour_charging_two_and_a_half_hours() {
    let t = terms(
        json!({"currency": "EUR", "elements": [{"price_components": [
        {"type": "TIME", "price": 2.00, "vat": 10.0, "step_size": 60}]}]}),
    );
    let p = price(&t, UTC, &session("2026-01-05T10:00:00Z", 150, "20", 0));
    assert_eq!(total(&p), (d("5.00"), d("5.50")));
}

#[test]
fn three_per_hour_charging_five_per_hour_parking_billed_per_5_minutes() {
    let t = terms(
        json!({"currency": "EUR", "elements": [{"price_components": [
        {"type": "TIME", "price": 3.00, "vat": 10.0, "step_size": 60},
        {"type": "PARKING_TIME", "price": 5.00, "vat": 20.0, "step_size": 300}]}]}),
    );
    let p = price(&t, UTC, &session("2026-01-05T10:00:00Z", 150, "20", 42));
    assert_eq!(total(&p), (d("11.25"), d("12.75")));
    // OCPI CDR totals: total_time is the whole session, total_parking_time the part not charging.
    assert_eq!((p.total_time, p.total_parking_time), (d("3.2"), d("0.7")));
}

#[test]
fn ad_hoc_1_90_per_hour_billed_per_5_minutes() {
    let t = terms(
        json!({"currency": "EUR", "elements": [{"price_components": [
        {"type": "TIME", "price": 1.90, "vat": 5.2, "step_size": 300}]}]}),
    );
    let p = price(&t, UTC, &session("2026-01-05T10:00:00Z", 150, "20", 0));
    assert_eq!(total(&p), (d("4.75"), d("5.00")));
}

#[test]
fn energy_billed_per_100_wh_rounds_20_45_kwh_up_to_20_5() {
    let t = terms(
        json!({"currency": "EUR", "elements": [{"price_components": [energy("0.25", "10", 100)]}]}),
    );
    let p = price(&t, UTC, &session("2026-01-05T10:00:00Z", 120, "20.45", 0));
    assert_eq!(total(&p), (d("5.13"), d("5.64")));
    // 20.5 kWh x 0.25 = 5.125 -> 5.13 (the spec's "5.50" for this example is a typo: 22 kWh would
    // be needed); its price at 0.22/kWh, 20.5 x 0.22 = 4.51 and 4.96 incl., checks the step:
    let t = terms(
        json!({"currency": "EUR", "elements": [{"price_components": [energy("0.22", "10", 100)]}]}),
    );
    let p = price(&t, UTC, &session("2026-01-05T10:00:00Z", 120, "20.45", 0));
    assert_eq!(total(&p), (d("4.51"), d("4.96")));
}

#[test]
fn step_size_of_energy_115_2_wh() {
    // 115.2 Wh at 0.25/kWh: step 1 -> 116 Wh = 0.029; step 25 -> 125 Wh = 0.03125; step 500 -> 0.125.
    for (step, exact) in [(1, "0.029"), (25, "0.03125"), (500, "0.125")] {
        let t = terms(
            json!({"currency": "EUR", "elements": [{"price_components": [energy("0.25", "0", step)]}]}),
        );
        let p = price(&t, UTC, &session("2026-01-05T10:00:00Z", 5, "0.1152", 0));
        assert_eq!(
            p.total_energy_cost.excl_vat,
            round_money(d(exact), "EUR"),
            "step {step}"
        );
    }
}

fn complex() -> TariffTerms {
    terms(json!({"currency": "EUR", "elements": [
        {"price_components": [{"type": "FLAT", "price": 2.50, "vat": 15.0, "step_size": 1}]},
        {"price_components": [{"type": "TIME", "price": 1.00, "vat": 20.0, "step_size": 900}],
         "restrictions": {"max_current": 32.00}},
        {"price_components": [{"type": "TIME", "price": 2.00, "vat": 20.0, "step_size": 600}],
         "restrictions": {"min_current": 32.00, "day_of_week": ["MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY"]}},
        {"price_components": [{"type": "TIME", "price": 1.25, "vat": 20.0, "step_size": 600}],
         "restrictions": {"min_current": 32.00, "day_of_week": ["SATURDAY", "SUNDAY"]}},
        {"price_components": [{"type": "PARKING_TIME", "price": 5.00, "vat": 10.0, "step_size": 300}],
         "restrictions": {"start_time": "09:00", "end_time": "18:00", "day_of_week": ["MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY"]}},
        {"price_components": [{"type": "PARKING_TIME", "price": 6.00, "vat": 10.0, "step_size": 300}],
         "restrictions": {"start_time": "10:00", "end_time": "17:00", "day_of_week": ["SATURDAY"]}}]}))
}

#[test]
fn complex_tariff_monday_morning_16_a() {
    // Monday 09:30, 147 minutes charging at 16 A (billed 150), 42 minutes parking (billed 45).
    let u = Usage::planned(
        at("2026-01-05T09:30:00Z"),
        Duration::minutes(147),
        d("20000"),
        Duration::minutes(42),
        None,
        Some(d("16")),
    );
    let p = price(&complex(), UTC, &u);
    assert_eq!(total(&p), (d("8.75"), d("10.00")));
}

#[test]
fn complex_tariff_saturday_afternoon_43_a() {
    // Saturday 13:30, 114 minutes at 43 A (billed 120), 71 minutes parking (billed 75); 14.125 -> 14.13.
    let u = Usage::planned(
        at("2026-01-10T13:30:00Z"),
        Duration::minutes(114),
        d("30000"),
        Duration::minutes(71),
        None,
        Some(d("43")),
    );
    let p = price(&complex(), UTC, &u);
    assert_eq!(total(&p), (d("12.50"), d("14.13")));
    let lines: Vec<(Option<Decimal>, Decimal, Decimal)> = p
        .vat_lines
        .iter()
        .map(|l| (l.rate, l.excl_vat, l.vat))
        .collect();
    let sum_excl: Decimal = lines.iter().map(|l| l.1).sum();
    let sum_vat: Decimal = lines.iter().map(|l| l.2).sum();
    assert_eq!(
        (sum_excl, sum_excl + sum_vat),
        (d("12.50"), d("14.13")),
        "{lines:?}"
    );
}

fn step_switch() -> TariffTerms {
    terms(json!({"currency": "EUR", "elements": [
        {"price_components": [{"type": "TIME", "price": 1.20, "step_size": 1800},
                              {"type": "PARKING_TIME", "price": 1.00, "step_size": 900}],
         "restrictions": {"start_time": "00:00", "end_time": "17:00"}},
        {"price_components": [{"type": "TIME", "price": 2.40, "step_size": 900},
                              {"type": "PARKING_TIME", "price": 1.00, "step_size": 900}],
         "restrictions": {"start_time": "17:00", "end_time": "20:00"}},
        {"price_components": [{"type": "TIME", "price": 2.40, "step_size": 900}],
         "restrictions": {"start_time": "20:00", "end_time": "23:59"}}]}))
}

#[test]
fn step_size_switching_elements_example_2() {
    // 16:35, 35 minutes charging: 25 min before 17:00 (0.50), the total rounded to 45 min by the
    // last element's 15-minute step, so 20 min after 17:00 (0.80): 1.30.
    let p = price(
        &step_switch(),
        UTC,
        &session("2026-01-05T16:35:00Z", 35, "10", 0),
    );
    assert_eq!(p.total_cost.excl_vat, d("1.30"));
    assert_eq!(p.periods.len(), 2);
}

#[test]
fn step_size_switching_to_a_free_parking_element() {
    // 19:55, 10 min charging, 2 min parking after 20:00 (free there): 0.20 + 0.40 = 0.60.
    let p = price(
        &step_switch(),
        UTC,
        &session("2026-01-05T19:55:00Z", 10, "3", 2),
    );
    assert_eq!(p.total_cost.excl_vat, d("0.60"));
}

#[test]
fn step_size_switching_elements_example_1() {
    // 16:55, 10 min charging then 2 min parking. The spec's charging part: 5 min before 17:00 (0.10)
    // and 10 after (0.40). It then calls the 2 parked minutes free "within the extra charging minutes";
    // no rule of the chapter says so, and its complex example bills parking right after rounded-up
    // charging, so here the parking is billed by its own 15-minute step (0.25).
    let p = price(
        &step_switch(),
        UTC,
        &session("2026-01-05T16:55:00Z", 10, "3", 2),
    );
    assert_eq!(p.total_time_cost.excl_vat, d("0.50"));
    assert_eq!(p.total_parking_cost.excl_vat, d("0.25"));
}

#[test]
fn max_power_restrictions_price_each_kwh_by_its_power() {
    let t = terms(json!({"currency": "EUR", "elements": [
        {"price_components": [energy("0.20", "0", 1)], "restrictions": {"max_power": 16.00}},
        {"price_components": [energy("0.35", "0", 1)], "restrictions": {"min_power": 16.00, "max_power": 32.00}},
        {"price_components": [energy("0.50", "0", 1)]}]}));
    let start = at("2026-01-05T10:00:00Z");
    // 1 kWh at 6 kW (10 min), 40 kWh at 48 kW (50 min), 0.5 kWh at 4 kW (7.5 min).
    let u = Usage {
        start,
        slices: vec![
            Slice {
                end: start + Duration::minutes(10),
                energy_wh: d("1000"),
                charging: true,
                power_kw: None,
                current_a: None,
            },
            Slice {
                end: start + Duration::minutes(60),
                energy_wh: d("40000"),
                charging: true,
                power_kw: None,
                current_a: None,
            },
            Slice {
                end: start + Duration::seconds(4050),
                energy_wh: d("500"),
                charging: true,
                power_kw: None,
                current_a: None,
            },
        ],
    };
    let p = price(&t, UTC, &u);
    assert_eq!(p.total_cost.excl_vat, d("20.30"));
    assert_eq!(p.periods.len(), 3);
}

#[test]
fn max_duration_restrictions_first_30_minutes_free() {
    let t = terms(json!({"currency": "EUR", "elements": [
        {"price_components": [energy("0.00", "20", 1)], "restrictions": {"max_duration": 1800}},
        {"price_components": [energy("0.25", "20", 1)], "restrictions": {"max_duration": 3600}},
        {"price_components": [energy("0.40", "20", 1)]}]}));
    let start = at("2026-01-05T10:00:00Z");
    let u = Usage {
        start,
        slices: vec![
            Slice {
                end: start + Duration::minutes(30),
                energy_wh: d("5000"),
                charging: true,
                power_kw: None,
                current_a: None,
            },
            Slice {
                end: start + Duration::minutes(40),
                energy_wh: d("1200"),
                charging: true,
                power_kw: None,
                current_a: None,
            },
        ],
    };
    assert_eq!(price(&t, UTC, &u).total_cost.excl_vat, d("0.30"));
}

#[test]
fn cdr_example_two_euro_per_hour_billed_per_5_minutes() {
    // The CDR chapter's example: 21:39:09 to 23:37:32 (1.973 h) at 2.00/h, step 300 s: 4.00 / 4.40.
    let t = terms(
        json!({"currency": "EUR", "elements": [{"price_components": [
        {"type": "TIME", "price": 2.00, "vat": 10.0, "step_size": 300}]}]}),
    );
    let start = at("2015-06-29T21:39:09Z");
    let u = Usage {
        start,
        slices: vec![Slice {
            end: at("2015-06-29T23:37:32Z"),
            energy_wh: d("15342"),
            charging: true,
            power_kw: None,
            current_a: None,
        }],
    };
    let p = price(&t, UTC, &u);
    assert_eq!(total(&p), (d("4.00"), d("4.40")));
    assert_eq!(p.total_time.round_dp(3), d("1.973"));
    assert_eq!(p.total_energy, d("15.342"));
}

#[test]
fn a_session_across_18_00_is_split_into_peak_and_off_peak_in_the_site_time_zone() {
    let tz: Tz = "Europe/Amsterdam".parse().unwrap();
    let t = terms(json!({"currency": "EUR", "elements": [
        {"price_components": [energy("0.40", "21", 1)], "restrictions": {"start_time": "07:00", "end_time": "18:00"}},
        {"price_components": [energy("0.20", "21", 1)]}]}));
    // 16:00-20:00 local (15:00-19:00 UTC in winter), 40 kWh evenly: 20 at peak, 20 off-peak.
    let p = price(&t, tz, &session("2026-01-05T15:00:00Z", 240, "40", 0));
    assert_eq!(p.total_cost.excl_vat, d("12.00"));
    assert_eq!(p.periods.len(), 2);
    assert_eq!(p.periods[1].start_date_time, at("2026-01-05T17:00:00Z"));
}

#[test]
fn the_boundary_follows_the_clock_across_a_dst_change() {
    let tz: Tz = "Europe/Amsterdam".parse().unwrap();
    let t = terms(json!({"currency": "EUR", "elements": [
        {"price_components": [{"type": "TIME", "price": 1.00, "step_size": 1}], "restrictions": {"start_time": "00:00", "end_time": "06:00"}},
        {"price_components": [{"type": "TIME", "price": 4.00, "step_size": 1}]}]}));
    // 2026-10-25: clocks go back 03:00 CEST -> 02:00 CET. 22:00 UTC (00:00 CEST) to 06:00 UTC
    // (07:00 CET) is 8 hours; local 00:00-06:00 lasts 7 hours that night.
    let p = price(&t, tz, &session("2026-10-24T22:00:00Z", 480, "10", 0));
    assert_eq!(p.total_cost.excl_vat, d("11.00"));
    assert_eq!(p.periods[1].start_date_time, at("2026-10-25T05:00:00Z"));
    // 2026-03-29: 02:00 CET -> 03:00 CEST. 23:00 UTC (00:00 CET) to 05:00 UTC (07:00 CEST): the cheap
    // window 00:00-06:00 local lasts 5 hours, the remaining hour is dear.
    let p = price(&t, tz, &session("2026-03-28T23:00:00Z", 360, "10", 0));
    assert_eq!(p.total_cost.excl_vat, d("9.00"));
}

#[test]
fn kwh_bounds_split_a_slice_exactly_where_the_energy_crosses_them() {
    let t = terms(json!({"currency": "EUR", "elements": [
        {"price_components": [energy("0.00", "0", 1)], "restrictions": {"max_kwh": 1.0}},
        {"price_components": [energy("0.20", "0", 1)]}]}));
    let p = price(&t, UTC, &session("2026-01-05T10:00:00Z", 60, "20", 0));
    assert_eq!(p.total_cost.excl_vat, d("3.80"));
}

#[test]
fn rounding_is_once_per_total_half_away_from_zero() {
    assert_eq!(round_money(d("0.125"), "EUR"), d("0.13"));
    assert_eq!(round_money(d("-0.125"), "EUR"), d("-0.13"));
    assert_eq!(round_money(d("12.5"), "JPY"), d("13"));
    assert_eq!(round_money(d("1.2345"), "KWD"), d("1.235"));
}

#[test]
fn invalid_tariffs_are_refused_with_the_field_and_the_reason() {
    let t: TariffTerms = serde_json::from_value(json!({"currency": "euro", "elements": [
        {"price_components": [{"type": "TIME", "price": -1, "vat": 120, "step_size": 0},
                              {"type": "TIME", "price": 1, "step_size": 1}],
         "restrictions": {"min_kwh": 5, "max_kwh": 2, "start_time": "10:00", "end_time": "10:00"}}],
        "min_price": {"excl_vat": 5}, "max_price": {"excl_vat": 2}}))
    .unwrap();
    let c = check(&t);
    let all = c.errors.join("\n");
    for needle in [
        "currency",
        "price: must not be negative",
        "vat",
        "step_size",
        "second TIME",
        "min_kwh (5) must be below max_kwh (2)",
        "start_time and end_time",
        "min_price",
    ] {
        assert!(all.contains(needle), "{needle} missing in:\n{all}");
    }
    assert!(serde_json::from_value::<Restrictions>(json!({"start_time": "7:00"})).is_err());
    assert!(serde_json::from_value::<Restrictions>(json!({"start_time": "24:00"})).is_err());
    assert!(serde_json::from_value::<Restrictions>(json!({"start_hour": "07:00"})).is_err());
}

#[test]
fn gaps_and_overlaps_of_time_of_day_elements_are_explained() {
    let t = terms(json!({"currency": "EUR", "elements": [
        {"price_components": [energy("0.40", "21", 1)], "restrictions": {"start_time": "07:00", "end_time": "18:00"}},
        {"price_components": [energy("0.20", "21", 1)], "restrictions": {"start_time": "17:00", "end_time": "06:00"}}]}));
    let w = check(&t).warnings.join("\n");
    assert!(
        w.contains("ENERGY: no element covers every day 06:00-07:00"),
        "{w}"
    );
    assert!(
        w.contains("elements 0 and 1 overlap on every day 17:00-18:00; element 0 applies"),
        "{w}"
    );
    let t = terms(json!({"currency": "EUR", "elements": [
        {"price_components": [energy("0.40", "21", 1)]},
        {"price_components": [energy("0.20", "21", 1)], "restrictions": {"start_time": "17:00", "end_time": "06:00"}}]}));
    assert!(
        check(&t)
            .warnings
            .join("\n")
            .contains("elements 1 after it never apply")
    );
}

#[test]
fn a_hypothetical_session_is_priced_for_any_time_zone_offset() {
    let tz: Tz = "America/New_York".parse().unwrap();
    let t = terms(json!({"currency": "USD", "elements": [
        {"price_components": [energy("0.50", "0", 1)], "restrictions": {"start_time": "16:00", "end_time": "21:00"}},
        {"price_components": [energy("0.30", "0", 1)]}]}));
    // 15:00-17:00 EST = 20:00-22:00 UTC: 5 kWh before 16:00 local, 5 after.
    let p = price(&t, tz, &session("2026-01-05T20:00:00Z", 120, "10", 0));
    assert_eq!(p.total_cost.excl_vat, d("4.00"));
    let _ = Utc.timestamp_opt(0, 0);
}

mod usage_rules {
    use chrono::{DateTime, Duration, Utc};
    use rust_decimal::Decimal;

    use crate::meter::MeterSample;
    use crate::session::{EventKind, Session, SessionEvent, SessionStatus};
    use crate::tariff::Usage;
    use crate::{ChargerId, OcppVersion, SessionId, TenantId};

    fn t(min: i64) -> DateTime<Utc> {
        "2026-06-01T08:00:00Z".parse::<DateTime<Utc>>().unwrap() + Duration::minutes(min)
    }

    fn reading(min: i64, wh: i64) -> MeterSample {
        MeterSample::register_wh(t(min), Decimal::from(wh))
    }

    /// A session from `start` to `end` (minutes) with the given start and stop meter values.
    fn session(end: Option<i64>, start_wh: Option<i64>, stop_wh: Option<i64>) -> Session {
        let id = SessionId::new(ChargerId::new("CP1").unwrap(), "1");
        let mut s = Session::new(TenantId::default_tenant(), id, OcppVersion::V16, t(0));
        let mut ev = SessionEvent::new(EventKind::Started, t(0), 1);
        ev.meter_wh = start_wh.map(Decimal::from);
        s.apply(&ev, t(0));
        if let Some(end) = end {
            let mut ev = SessionEvent::new(EventKind::Ended, t(end), 2);
            ev.meter_wh = stop_wh.map(Decimal::from);
            s.apply(&ev, t(end));
        }
        s
    }

    fn kinds(flags: &[super::super::usage::Flag]) -> Vec<&str> {
        flags.iter().map(|f| f.kind.as_str()).collect()
    }

    #[test]
    fn energy_flows_between_readings_and_idle_time_is_parking() {
        let s = session(Some(120), Some(1000), Some(11000));
        let (u, flags) =
            Usage::of_session(&s, &[reading(30, 6000), reading(60, 11000)], t(200), None);
        assert!(flags.is_empty(), "{flags:?}");
        let shape: Vec<(i64, Decimal, bool)> = u
            .slices
            .iter()
            .map(|x| ((x.end - t(0)).num_minutes(), x.energy_wh, x.charging))
            .collect();
        assert_eq!(
            shape,
            [
                (30, Decimal::from(5000), true),
                (60, Decimal::from(5000), true),
                (120, Decimal::ZERO, false)
            ]
        );
    }

    #[test]
    fn a_missing_stop_value_uses_the_last_reading_and_is_flagged() {
        let mut s = session(Some(120), Some(1000), None);
        s.status = SessionStatus::Reconciled;
        let (u, flags) = Usage::of_session(&s, &[reading(60, 4000)], t(200), None);
        assert_eq!(kinds(&flags), ["no_stop_meter"]);
        assert_eq!(u.energy_wh(), Decimal::from(3000));
        assert_eq!(u.end(), t(120));
    }

    #[test]
    fn a_meter_reset_counts_again_from_the_new_value() {
        let s = session(Some(120), Some(50_000), Some(3000));
        let (u, flags) =
            Usage::of_session(&s, &[reading(30, 52_000), reading(60, 1000)], t(200), None);
        assert_eq!(kinds(&flags), ["meter_reset"]);
        // 2,000 Wh before the reset, 2,000 Wh after it (1,000 -> 3,000).
        assert_eq!(u.energy_wh(), Decimal::from(4000));
    }

    #[test]
    fn implausible_energy_is_capped_at_what_the_evse_can_deliver() {
        let s = session(Some(60), Some(0), Some(500_000));
        let (u, flags) = Usage::of_session(&s, &[], t(100), Some(Decimal::from(22)));
        assert_eq!(kinds(&flags), ["implausible_energy"]);
        assert_eq!(u.energy_wh(), Decimal::from(22_000));
    }

    #[test]
    fn a_session_under_a_second_is_judged_by_its_exact_duration() {
        // 50 Wh in 900 ms is 200 kW: plausible under the default 400 kW cap.
        let id = SessionId::new(ChargerId::new("CP1").unwrap(), "1");
        let mut s = Session::new(TenantId::default_tenant(), id, OcppVersion::V16, t(0));
        let mut ev = SessionEvent::new(EventKind::Started, t(0), 1);
        ev.meter_wh = Some(Decimal::from(1000));
        s.apply(&ev, t(0));
        let end = t(0) + Duration::milliseconds(900);
        let mut ev = SessionEvent::new(EventKind::Ended, end, 2);
        ev.meter_wh = Some(Decimal::from(1050));
        s.apply(&ev, end);
        let (u, flags) = Usage::of_session(&s, &[], t(1), None);
        assert!(!kinds(&flags).contains(&"implausible_energy"), "{flags:?}");
        assert_eq!(u.energy_wh(), Decimal::from(50));
    }

    #[test]
    fn no_meter_values_at_all_is_priced_on_time_only() {
        let s = session(Some(60), None, None);
        let (u, flags) = Usage::of_session(&s, &[], t(100), None);
        assert_eq!(kinds(&flags), ["no_meter_values"]);
        assert_eq!((u.energy_wh(), u.end()), (Decimal::ZERO, t(60)));
    }

    #[test]
    fn a_running_session_is_measured_up_to_now() {
        let s = session(None, Some(0), None);
        let (u, flags) = Usage::of_session(&s, &[reading(30, 7000)], t(45), None);
        assert!(flags.is_empty(), "{flags:?}");
        assert_eq!((u.energy_wh(), u.end()), (Decimal::from(7000), t(45)));
    }
}

#[test]
fn garbage_registers_and_absurd_prices_are_refused_not_overflowed() {
    use crate::meter::MeterSample;
    use crate::session::{EventKind, Session, SessionEvent};
    let t0 = at("2026-06-01T08:00:00Z");
    let id = crate::SessionId::new(crate::ChargerId::new("CP1").unwrap(), "1");
    let mut s = Session::new(
        crate::TenantId::default_tenant(),
        id,
        crate::OcppVersion::V16,
        t0,
    );
    let mut ev = SessionEvent::new(EventKind::Started, t0, 1);
    ev.meter_wh = Some(d("0"));
    s.apply(&ev, t0);
    let mut ev = SessionEvent::new(EventKind::Ended, t0 + Duration::hours(1), 2);
    ev.meter_wh = Some(d("79000000000000000000000000000"));
    s.apply(&ev, t0 + Duration::hours(1));
    let huge = MeterSample {
        timestamp: t0 + Duration::minutes(30),
        measurand: "Energy.Active.Import.Register".into(),
        value: Some(d("50000000000000000000000000000")),
        unit: "Wh".into(),
        phase: None,
        location: None,
        context: None,
        signed_data: None,
    };
    let (u, flags) = Usage::of_session(&s, &[huge], t0, None);
    assert!(
        flags.iter().any(|f| f.kind == "implausible_register"),
        "{flags:?}"
    );
    let t = terms(
        json!({"currency": "EUR", "elements": [{"price_components": [energy("1000000", "100", 1)]}]}),
    );
    let p = price(&t, UTC, &u);
    assert!(p.total_cost.excl_vat >= Decimal::ZERO);
    let absurd: TariffTerms = serde_json::from_value(json!({"currency": "EUR", "max_price": {"excl_vat": 1e12},
        "elements": [{"price_components": [{"type": "ENERGY", "price": 1e20, "step_size": 4294967295u32}]}]})).unwrap();
    let all = check(&absurd).errors.join("\n");
    for needle in ["price: at most", "step_size: at most", "max_price: at most"] {
        assert!(all.contains(needle), "{needle}: {all}");
    }
}

#[test]
fn energy_of_a_slice_without_duration_is_not_lost() {
    let t = terms(
        json!({"currency": "EUR", "elements": [{"price_components": [energy("0.50", "0", 1)]}]}),
    );
    let start = at("2026-01-05T10:00:00Z");
    let slice = |min: i64, wh: &str| Slice {
        end: start + Duration::minutes(min),
        energy_wh: d(wh),
        charging: true,
        power_kw: None,
        current_a: None,
    };
    // Two readings at the start, then one at the same instant mid-way, then the end.
    let u = Usage {
        start,
        slices: vec![
            slice(0, "1000"),
            slice(30, "2000"),
            slice(30, "500"),
            slice(60, "1500"),
        ],
    };
    let p = price(&t, UTC, &u);
    assert_eq!((p.total_energy, p.total_cost.excl_vat), (d("5"), d("2.50")));
    // Nothing but an instant.
    let u = Usage {
        start,
        slices: vec![slice(0, "2000")],
    };
    assert_eq!(price(&t, UTC, &u).total_cost.excl_vat, d("1.00"));
}
