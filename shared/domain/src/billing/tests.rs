//! Billing runs on hand-made CDRs: invoices add up, subscriptions act as stated, shares add up.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde_json::json;

use super::*;
use crate::tariff::{Price, TariffTerms, Usage, price};
use crate::{ChargerId, SessionId, TenantId};

fn d(s: &str) -> Decimal {
    s.parse().unwrap()
}

fn at(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

/// A CDR of `kwh` at 0.40/kWh (21 % VAT) plus a 1.00 session fee (9 % VAT), billed to `party`.
fn cdr(n: u32, party: &str, kwh: &str, site: Option<&str>) -> Cdr {
    let terms: TariffTerms = serde_json::from_value(
        json!({"currency": "EUR", "elements": [{"price_components": [
        {"type": "FLAT", "price": 1.00, "vat": 9, "step_size": 1},
        {"type": "ENERGY", "price": 0.40, "vat": 21, "step_size": 1}]}]}),
    )
    .unwrap();
    let start = at("2026-10-10T10:00:00Z");
    let u = Usage::planned(
        start,
        chrono::Duration::hours(1),
        d(kwh) * Decimal::ONE_THOUSAND,
        chrono::Duration::zero(),
        None,
        None,
    );
    let (kind, id) = party.split_once(':').unwrap();
    Cdr {
        tenant: TenantId::default_tenant(),
        id: format!("c{n}"),
        kind: CdrKind::Regular,
        credits: None,
        session_id: SessionId::new(ChargerId::new("CP1").unwrap(), n.to_string()),
        revision: 1,
        charger_id: ChargerId::new("CP1").unwrap(),
        evse_id: None,
        connector_id: None,
        site_id: site.map(String::from),
        token: None,
        token_group: None,
        partner: None,
        billed_party: Party {
            kind: kind.into(),
            id: id.into(),
        },
        tariff_id: Some("t".into()),
        tariff: Some(terms.clone()),
        time_zone: "UTC".into(),
        start_date_time: start,
        end_date_time: u.end(),
        pricing: price(&terms, chrono_tz::UTC, &u),
        flags: Vec::new(),
        review: false,
        created_at: start,
    }
}

fn sub(party: &str, fee: &str, kwh: &str, discount: &str, from: &str) -> Subscription {
    let (kind, id) = party.split_once(':').unwrap();
    Subscription {
        tenant: TenantId::default_tenant(),
        id: format!("s-{id}"),
        party: Party {
            kind: kind.into(),
            id: id.into(),
        },
        plan: "Plus".into(),
        currency: "EUR".into(),
        monthly_fee: d(fee),
        fee_vat: Some(d("21")),
        included_kwh: d(kwh),
        discount_percent: d(discount),
        valid_from: at(from),
        valid_to: None,
        created_at: at(from),
        updated_at: at(from),
    }
}

fn lines(i: &Invoice) -> Vec<(&str, Option<Decimal>, Decimal, Decimal)> {
    i.lines
        .iter()
        .map(|l| (l.kind.as_str(), l.rate, l.excl_vat, l.vat))
        .collect()
}

#[test]
fn invoices_add_up_the_cdrs_and_apply_subscriptions_as_stated() {
    let period = Period::month("2026-10").unwrap();
    let mut t = RunTotals::default();
    // fleet: 10 + 30 kWh; driver: 5 kWh; a partner with no subscription: 1 kWh.
    for c in [
        cdr(1, "fleet:F", "10", Some("s1")),
        cdr(2, "fleet:F", "30", Some("s1")),
        cdr(3, "driver:D", "5", Some("s1")),
        cdr(4, "partner:P", "1", None),
    ] {
        t.add(&c);
    }
    let subs = [
        // Full month: 9.99 fee, 20 kWh included, 10 % off.
        sub("fleet:F", "9.99", "20", "10", "2026-01-01T00:00:00Z"),
        // From the 17th: 15 of 31 days.
        sub("driver:D", "3.10", "0", "0", "2026-10-17T00:00:00Z"),
        // No sessions this month: the fee alone.
        sub("driver:IDLE", "5.00", "0", "0", "2026-09-01T00:00:00Z"),
    ];
    let (invoices, statements, run) = t.finish(
        &TenantId::default_tenant(),
        &period,
        |_| None,
        &subs,
        "test",
        at("2026-11-01T02:00:00Z"),
    );
    assert_eq!(run.invoice_count, 4);
    let by = |k: &str| invoices.iter().find(|i| i.party.key() == k).unwrap();

    // Fleet: sessions 2 x 1.00 + 40 kWh x 0.40 = 18.00 excl.; VAT 0.18 + 3.36 = 3.54.
    let f = by("fleet:F");
    assert_eq!(f.sessions_total, Price::new(d("18.00"), d("21.54")));
    // Included 20 of 40 kWh: half the energy cost (16.00 / 19.36) is credited; the 10 % discount acts
    // on what remains of the sessions (18.00 - 8.00 = 10.00 of 18.00), per VAT rate.
    assert_eq!(
        lines(f),
        [
            ("sessions", Some(d("9")), d("2.00"), d("0.18")),
            ("sessions", Some(d("21")), d("16.00"), d("3.36")),
            ("subscription_fee", Some(d("21")), d("9.99"), d("2.10")),
            ("included_energy", Some(d("21")), d("-8.00"), d("-1.68")),
            ("discount", Some(d("9")), d("-0.11"), d("-0.01")),
            ("discount", Some(d("21")), d("-0.89"), d("-0.19")),
        ]
    );
    let sum_excl: Decimal = f.lines.iter().map(|l| l.excl_vat).sum();
    let sum_vat: Decimal = f.lines.iter().map(|l| l.vat).sum();
    assert_eq!(f.total, Price::new(sum_excl, sum_excl + sum_vat));
    let summary: Decimal = f.vat_summary.iter().map(|l| l.excl_vat + l.vat).sum();
    assert_eq!(summary, f.total.incl());

    // Driver from the 17th: 15/31 of 3.10 = 1.50 (+ 21 %: 1.815 -> 1.82).
    let dr = by("driver:D");
    assert_eq!(
        lines(dr)[2],
        ("subscription_fee", Some(d("21")), d("1.50"), d("0.32"))
    );
    // The idle subscriber is invoiced the fee alone; the partner pays its CDR, nothing else.
    assert_eq!(
        lines(by("driver:IDLE")),
        [("subscription_fee", Some(d("21")), d("5.00"), d("1.05"))]
    );
    let p = by("partner:P");
    assert_eq!(p.total, p.sessions_total);
    // 1.00 + 9 % and 0.40 + 21 %: 1.09 + 0.484 = 1.574 -> 1.57.
    assert_eq!(p.total, Price::new(d("1.40"), d("1.57")));

    // Revenue split: no shares, the operator keeps everything (per site and the site-less CDRs).
    assert_eq!(statements.len(), 1);
    assert_eq!(statements[0].partner, OPERATOR);
    assert_eq!(statements[0].total, d("18.00") + d("3.00") + d("1.40"));
}

#[test]
fn shares_are_rounded_per_site_and_the_operator_keeps_the_exact_rest() {
    let period = Period::month("2026-10").unwrap();
    let mut t = RunTotals::default();
    for n in 0..7 {
        t.add(&cdr(n, "driver:D", "3.333", Some("s1")));
    }
    let split = RevenueSplit {
        tenant: TenantId::default_tenant(),
        site_id: "s1".into(),
        shares: vec![
            Share {
                partner: "host".into(),
                role: None,
                percent: d("33.3333"),
            },
            Share {
                partner: "investor".into(),
                role: None,
                percent: d("12.5"),
            },
        ],
        updated_at: at("2026-10-01T00:00:00Z"),
    };
    split.validate().unwrap();
    let (_, statements, _) = t.finish(
        &TenantId::default_tenant(),
        &period,
        |_| Some(split.clone()),
        &[],
        "test",
        at("2026-11-02T00:00:00Z"),
    );
    let revenue: Decimal = (0..7)
        .map(|n| {
            cdr(n, "driver:D", "3.333", None)
                .pricing
                .total_cost
                .excl_vat
        })
        .sum();
    let total: Decimal = statements.iter().map(|s| s.total).sum();
    assert_eq!(total, revenue);
    for s in &statements {
        assert!(s.total.scale() <= 2, "{s:?}");
    }
}

#[test]
fn periods_and_splits_are_checked() {
    assert!(Period::month("2026-13").is_err());
    assert!(Period::month("26-01").is_err());
    assert!(Period::month("2026-1").is_err());
    let p = Period::month("2026-02").unwrap();
    assert_eq!(
        (p.from, p.to),
        (at("2026-02-01T00:00:00Z"), at("2026-03-01T00:00:00Z"))
    );
    assert_eq!(
        Period::previous_month(at("2026-01-15T00:00:00Z")).label,
        "2025-12"
    );
    let mut s = RevenueSplit {
        tenant: TenantId::default_tenant(),
        site_id: "s1".into(),
        shares: vec![
            Share {
                partner: "a".into(),
                role: None,
                percent: d("60"),
            },
            Share {
                partner: "b".into(),
                role: None,
                percent: d("50"),
            },
        ],
        updated_at: at("2026-10-01T00:00:00Z"),
    };
    assert!(s.validate().is_err(), "110 %");
    s.shares[1].partner = "a".into();
    s.shares[1].percent = d("10");
    assert!(s.validate().is_err(), "twice");
    s.shares[1].partner = OPERATOR.into();
    assert!(s.validate().is_err(), "the operator's is the rest");
}
