//! Properties of the tariff engine over generated tariffs and sessions: prices never fall when a session
//! grows, cutting a session into more slices changes nothing, and rounded amounts never drift.

use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;
use cpms_domain::tariff::{Slice, TariffTerms, Usage, check, price};
use proptest::prelude::*;
use rust_decimal::Decimal;
use serde_json::{Value, json};

fn cents(c: u32) -> Value {
    serde_json::from_str(&Decimal::new(i64::from(c), 2).to_string()).unwrap()
}

/// A positive time-of-day tariff: up to four restricted elements and an unrestricted default. Elements
/// of one dimension share a step size (OCPI bills a run by the step of its last element, so a cheaper
/// element with a finer step taking over could lower a price; the property holds within one step).
fn tariff() -> impl Strategy<Value = TariffTerms> {
    let element = (
        0u32..24,
        1u32..24,
        1u32..80,
        1u32..500,
        1u32..500,
        proptest::bool::ANY,
    );
    (
        proptest::collection::vec(element, 0..4),
        (1u32..80, 1u32..500, 1u32..500, 0u32..300),
        (1u32..1000, 1u32..1800, 1u32..1800),
    )
        .prop_map(|(restricted, (e, t, p, flat), (es, ts, ps))| {
            let comps = |e: u32, t: u32, p: u32| {
                json!([
                    {"type": "ENERGY", "price": cents(e), "vat": 21, "step_size": es},
                    {"type": "TIME", "price": cents(t), "vat": 9, "step_size": ts},
                    {"type": "PARKING_TIME", "price": cents(p), "step_size": ps}])
            };
            let mut elements: Vec<Value> = restricted
                .into_iter()
                .map(|(from, len, e, t, p, weekend)| {
                    let to = (from + len) % 24;
                    let mut r = json!({"start_time": format!("{from:02}:00"), "end_time": format!("{to:02}:30")});
                    if weekend {
                        r["day_of_week"] = json!(["SATURDAY", "SUNDAY"]);
                    }
                    json!({"price_components": comps(e, t, p), "restrictions": r})
                })
                .collect();
            elements.push(json!({"price_components": comps(e, t, p)}));
            elements.insert(0, json!({"price_components": [{"type": "FLAT", "price": cents(flat), "vat": 21, "step_size": 1}]}));
            let t: TariffTerms = serde_json::from_value(json!({"currency": "EUR", "elements": elements})).unwrap();
            assert!(check(&t).errors.is_empty());
            t
        })
}

fn usage() -> impl Strategy<Value = Usage> {
    (
        0i64..(365 * 24 * 60),
        proptest::collection::vec((1i64..240, 0u32..60_000), 1..6),
    )
        .prop_map(|(start_min, slices)| {
            let start: DateTime<Utc> = "2026-01-01T00:00:00Z".parse::<DateTime<Utc>>().unwrap()
                + Duration::minutes(start_min);
            let mut at = start;
            let slices = slices
                .into_iter()
                .map(|(min, wh)| {
                    at += Duration::minutes(min);
                    Slice {
                        end: at,
                        energy_wh: Decimal::from(wh),
                        charging: wh > 0,
                        power_kw: None,
                        current_a: None,
                    }
                })
                .collect();
            Usage { start, slices }
        })
}

const TZ: Tz = chrono_tz::Europe::Berlin;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn the_price_never_falls_when_energy_or_time_is_added(
        t in tariff(), u in usage(), extra_min in 1i64..300, extra_wh in 0u32..40_000,
    ) {
        let before = price(&t, TZ, &u).total_cost;
        let mut longer = u.clone();
        let end = u.end();
        longer.slices.push(Slice { end: end + Duration::minutes(extra_min), energy_wh: Decimal::from(extra_wh),
            charging: extra_wh > 0, power_kw: None, current_a: None });
        let after = price(&t, TZ, &longer).total_cost;
        prop_assert!(after.excl_vat >= before.excl_vat, "{before:?} -> {after:?}");
        prop_assert!(after.incl() >= before.incl());
    }

    #[test]
    fn cutting_a_session_into_more_slices_prices_it_the_same(
        t in tariff(), u in usage(), which in 0usize..6, at_permille in 1i64..1000,
    ) {
        let whole = price(&t, TZ, &u);
        let i = which % u.slices.len();
        let begin = if i == 0 { u.start } else { u.slices[i - 1].end };
        let s = u.slices[i].clone();
        let ms = (s.end - begin).num_milliseconds();
        let cut = begin + Duration::milliseconds(ms * at_permille / 1000);
        prop_assume!(cut > begin && cut < s.end);
        let first_wh = s.energy_wh * Decimal::from((cut - begin).num_milliseconds()) / Decimal::from(ms);
        let mut split = u.clone();
        split.slices[i] = Slice { end: cut, energy_wh: first_wh, ..s.clone() };
        split.slices.insert(i + 1, Slice { energy_wh: s.energy_wh - first_wh, ..s });
        // The average power of each half is that of the whole slice, so the restrictions see the same.
        let parts = price(&t, TZ, &split);
        prop_assert_eq!(parts.total_cost, whole.total_cost);
        let sum = |p: &cpms_domain::tariff::Priced, k: &str| p.periods.iter().flat_map(|x| &x.dimensions)
            .filter(|d| d.kind == k).map(|d| d.volume).sum::<Decimal>();
        prop_assert_eq!(sum(&parts, "ENERGY").round_dp(3), whole.total_energy.round_dp(3));
        let hours = sum(&whole, "TIME") + sum(&whole, "PARKING_TIME");
        prop_assert_eq!(hours.round_dp(3), whole.total_time.round_dp(3));
    }
}

#[test]
fn no_rounding_drift_across_10000_sessions() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let t = tariff().new_tree(&mut runner).unwrap().current();
    let (mut total_excl, mut total_incl, mut lines_excl, mut lines_incl) =
        (Decimal::ZERO, Decimal::ZERO, Decimal::ZERO, Decimal::ZERO);
    for _ in 0..10_000 {
        let u = usage().new_tree(&mut runner).unwrap().current();
        let p = price(&t, TZ, &u);
        assert!(p.total_cost.excl_vat.scale() <= 2);
        let le: Decimal = p.vat_lines.iter().map(|l| l.excl_vat).sum();
        let lv: Decimal = p.vat_lines.iter().map(|l| l.vat).sum();
        assert_eq!(
            (le, le + lv),
            (p.total_cost.excl_vat, p.total_cost.incl()),
            "{p:?}"
        );
        for l in &p.vat_lines {
            assert!(l.excl_vat.scale() <= 2 && l.vat.scale() <= 2);
        }
        total_excl += p.total_cost.excl_vat;
        total_incl += p.total_cost.incl();
        lines_excl += le;
        lines_incl += le + lv;
    }
    // Every cent of 10,000 totals is in the VAT lines an invoice adds up.
    assert_eq!((lines_excl, lines_incl), (total_excl, total_incl));
}
