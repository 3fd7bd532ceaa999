//! A site's load over time, as smart charging sees it: each computation of the site records what its
//! chargers draw (the sum of their reported power, and the current per grid phase) when it changed, so
//! the load is a step function that changes only when a car's draw does. From it: power per minute or
//! per 15 minutes (time-weighted), the month's peak (the highest 15-minute average, which demand charges
//! bill), and the energy cost of the site's charging under a price curve beside the cost at the curve's
//! average price (what shifting load saved).

use chrono::{DateTime, Duration, NaiveDate, Utc};
use rust_decimal::Decimal;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::limits::PricePoint;
use crate::TenantId;

/// The load from an instant on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct LoadStep {
    /// From when.
    pub at: DateTime<Utc>,
    /// Power drawn, in kW.
    #[serde(with = "cpms_ocpp::number")]
    #[schemars(with = "f64")]
    pub kw: Decimal,
    /// Current per grid phase L1, L2, L3, in A.
    #[serde(with = "cpms_ocpp::number::array3")]
    #[schemars(with = "Vec<f64>")]
    pub current_a: [Decimal; 3],
}

/// One UTC day of a site's load.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SiteLoadDay {
    /// Tenant.
    pub tenant: TenantId,
    /// The site.
    pub site_id: String,
    /// The day (UTC).
    pub day: NaiveDate,
    /// The steps, in time order.
    pub steps: Vec<LoadStep>,
}

/// Steps kept per day (one every 15 s at most).
pub const MAX_STEPS: usize = 5760;
/// Steps closer than this are one (the later wins).
const COALESCE_S: i64 = 15;

impl SiteLoadDay {
    /// The record's id: `SITE:YYYY-MM-DD`.
    pub fn key(site: &str, day: NaiveDate) -> String {
        format!("{site}:{day}")
    }

    /// Records `step` when it differs from the current load (0.1 kW, 0.5 A); true when it changed.
    pub fn record(&mut self, step: LoadStep) -> bool {
        if let Some(last) = self.steps.last() {
            let same = (last.kw - step.kw).abs() < Decimal::new(1, 1)
                && last
                    .current_a
                    .iter()
                    .zip(&step.current_a)
                    .all(|(a, b)| (*a - *b).abs() < Decimal::new(5, 1));
            if same || step.at < last.at {
                return false;
            }
            if (step.at - last.at).num_seconds() < COALESCE_S || self.steps.len() >= MAX_STEPS {
                let n = self.steps.len();
                let at = self.steps[n - 1].at;
                self.steps[n - 1] = LoadStep { at, ..step };
                return true;
            }
        }
        self.steps.push(step);
        true
    }
}

/// Power over one interval.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct LoadBucket {
    /// Start.
    pub start: DateTime<Utc>,
    /// Time-weighted average power, in kW.
    #[serde(with = "cpms_ocpp::number")]
    #[schemars(with = "f64")]
    pub avg_kw: Decimal,
    /// Highest power, in kW.
    #[serde(with = "cpms_ocpp::number")]
    #[schemars(with = "f64")]
    pub max_kw: Decimal,
    /// Highest current per grid phase, in A.
    #[serde(with = "cpms_ocpp::number::array3")]
    #[schemars(with = "Vec<f64>")]
    pub max_a: [Decimal; 3],
}

/// The load between `from` and `to` in buckets of `width`, from `steps` in time order (the step in
/// force at `from`, if any, first).
pub fn buckets(
    steps: &[LoadStep],
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    width: Duration,
) -> Vec<LoadBucket> {
    let mut out = Vec::new();
    let w_s = width.num_seconds().max(1);
    let mut start = from;
    // Index of the step in force at `start`.
    let mut i = steps.iter().rposition(|s| s.at <= from);
    while start < to {
        let end = (start + width).min(to);
        let mut energy = Decimal::ZERO; // kW x s
        let mut max_kw = Decimal::ZERO;
        let mut max_a = [Decimal::ZERO; 3];
        let mut t = start;
        loop {
            let current = i.map(|k| &steps[k]);
            let next_at = steps
                .get(i.map_or(0, |k| k + 1))
                .map(|s| s.at)
                .filter(|&a| a < end);
            let until = next_at.unwrap_or(end);
            if let Some(c) = current {
                let secs = Decimal::from((until - t).num_seconds().max(0));
                energy += c.kw * secs;
                max_kw = max_kw.max(c.kw);
                for (m, a) in max_a.iter_mut().zip(&c.current_a) {
                    *m = (*m).max(*a);
                }
            }
            match next_at {
                Some(a) => {
                    t = a;
                    i = Some(i.map_or(0, |k| k + 1));
                }
                None => break,
            }
        }
        let secs = Decimal::from((end - start).num_seconds().clamp(1, w_s));
        out.push(LoadBucket {
            start,
            avg_kw: (energy / secs).round_dp(3),
            max_kw,
            max_a,
        });
        start = end;
    }
    out
}

/// The highest 15-minute average of `steps` between `from` and `to`.
pub fn peak(steps: &[LoadStep], from: DateTime<Utc>, to: DateTime<Utc>) -> Option<LoadBucket> {
    buckets(steps, from, to, Duration::minutes(15))
        .into_iter()
        .max_by(|a, b| a.avg_kw.cmp(&b.avg_kw).then(b.start.cmp(&a.start)))
        .filter(|b| b.avg_kw > Decimal::ZERO)
}

/// What the site's charging cost under a price curve.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct EnergyCost {
    /// Energy drawn, in kWh.
    #[serde(with = "cpms_ocpp::number")]
    #[schemars(with = "f64")]
    pub energy_kwh: Decimal,
    /// Energy drawn in intervals the curve prices, in kWh.
    #[serde(with = "cpms_ocpp::number")]
    #[schemars(with = "f64")]
    pub priced_kwh: Decimal,
    /// Its cost at the curve's prices.
    #[serde(with = "cpms_ocpp::number")]
    #[schemars(with = "f64")]
    pub cost: Decimal,
    /// The curve's average price per kWh over the period (time-weighted).
    #[serde(with = "cpms_ocpp::number::option")]
    #[schemars(with = "Option<f64>")]
    pub average_price: Option<Decimal>,
    /// The same energy at the average price: what it would have cost drawn evenly priced.
    #[serde(with = "cpms_ocpp::number::option")]
    #[schemars(with = "Option<f64>")]
    pub cost_at_average_price: Option<Decimal>,
    /// `cost_at_average_price - cost`: what drawing at cheaper hours saved.
    #[serde(with = "cpms_ocpp::number::option")]
    #[schemars(with = "Option<f64>")]
    pub saved: Option<Decimal>,
}

/// The cost of `steps` between `from` and `to` under `curve` (money rounded to 4 decimals).
pub fn energy_cost(
    steps: &[LoadStep],
    curve: &[PricePoint],
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> EnergyCost {
    let minutes = buckets(steps, from, to, Duration::minutes(1));
    let hour = Decimal::from(60);
    let (mut energy, mut priced, mut cost) = (Decimal::ZERO, Decimal::ZERO, Decimal::ZERO);
    let (mut price_time, mut price_sum) = (Decimal::ZERO, Decimal::ZERO);
    for b in &minutes {
        let kwh = b.avg_kw / hour;
        energy += kwh;
        if let Some(p) = curve.iter().find(|p| p.from <= b.start && b.start < p.to) {
            priced += kwh;
            cost += kwh * p.price_per_kwh;
            price_time += Decimal::ONE;
            price_sum += p.price_per_kwh;
        }
    }
    let average = (price_time > Decimal::ZERO).then(|| price_sum / price_time);
    let at_average = average.map(|a| (a * priced).round_dp(4));
    EnergyCost {
        energy_kwh: energy.round_dp(3),
        priced_kwh: priced.round_dp(3),
        cost: cost.round_dp(4),
        average_price: average.map(|a| a.round_dp(4)),
        cost_at_average_price: at_average,
        saved: at_average.map(|a| a - cost.round_dp(4)),
    }
}
