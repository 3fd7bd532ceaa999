//! Pricing throughput: sessions under a four-element time-of-day tariff (peak, shoulder, night and a
//! default; ENERGY, TIME and PARKING_TIME with step sizes, FLAT fee, max price) in a time zone with DST.
//! Each iteration prices 10,000 different sessions (one to three meter slices, 10 minutes to 14 hours,
//! a tenth crossing a DST change); the target is 1,000,000 sessions in under 10 s on one core.

use chrono::{DateTime, Duration, Utc};
use cpms_domain::tariff::{Slice, TariffTerms, Usage, price};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rust_decimal::Decimal;

fn tariff() -> TariffTerms {
    serde_json::from_value(serde_json::json!({"currency": "EUR", "max_price": {"excl_vat": 150},
        "elements": [
        {"price_components": [{"type": "FLAT", "price": 0.35, "vat": 21, "step_size": 1},
                              {"type": "ENERGY", "price": 0.49, "vat": 21, "step_size": 1},
                              {"type": "PARKING_TIME", "price": 6.0, "vat": 21, "step_size": 300}],
         "restrictions": {"start_time": "17:00", "end_time": "21:00", "day_of_week": ["MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY"]}},
        {"price_components": [{"type": "ENERGY", "price": 0.39, "vat": 21, "step_size": 1},
                              {"type": "PARKING_TIME", "price": 3.0, "vat": 21, "step_size": 300}],
         "restrictions": {"start_time": "07:00", "end_time": "17:00"}},
        {"price_components": [{"type": "ENERGY", "price": 0.25, "vat": 21, "step_size": 1}],
         "restrictions": {"start_time": "23:00", "end_time": "06:00"}},
        {"price_components": [{"type": "ENERGY", "price": 0.33, "vat": 21, "step_size": 1},
                              {"type": "TIME", "price": 0.60, "vat": 21, "step_size": 60},
                              {"type": "FLAT", "price": 0.35, "vat": 21, "step_size": 1}]}]}))
    .expect("tariff")
}

fn sessions(n: usize) -> Vec<Usage> {
    let base: DateTime<Utc> = "2026-03-20T00:00:00Z".parse().unwrap();
    (0..n)
        .map(|i| {
            let i = i as i64;
            // Spread over 14 days around the March DST change, every minute of the day.
            let start = base + Duration::minutes((i * 7919) % (14 * 24 * 60));
            let slices = 1 + (i % 3);
            let mut at = start;
            let parts = (0..slices)
                .map(|k| {
                    at += Duration::minutes(10 + (i * 31 + k * 17) % 280);
                    let wh = if k == slices - 1 && i % 2 == 0 {
                        0
                    } else {
                        1_000 + (i * 977 + k) % 40_000
                    };
                    Slice {
                        end: at,
                        energy_wh: Decimal::from(wh),
                        charging: wh > 0,
                        power_kw: None,
                        current_a: None,
                    }
                })
                .collect();
            Usage {
                start,
                slices: parts,
            }
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let t = tariff();
    let tz = chrono_tz::Europe::Amsterdam;
    let batch = sessions(10_000);
    let mut g = c.benchmark_group("tariff");
    g.throughput(Throughput::Elements(batch.len() as u64));
    g.sample_size(10);
    g.bench_function("price_10k_sessions_4_element_tod", |b| {
        b.iter(|| {
            let mut sum = Decimal::ZERO;
            for u in &batch {
                sum += price(&t, tz, u).total_cost.excl_vat;
            }
            sum
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
