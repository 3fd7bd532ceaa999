//! Billing runs: a period's CDRs (those made in it) grouped per billed party and currency into invoices,
//! with a VAT summary per rate, and per site into revenue-split statements. Invoice totals are sums of
//! the CDRs' rounded amounts, so they match the CDRs to the cent; a partner's share of a site is rounded
//! once per site and the operator keeps the exact rest, so the shares add up to the revenue.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, NaiveDate, TimeZone, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::{Cdr, CdrKind, OPERATOR, Party, RevenueSplit, Subscription};
use crate::tariff::VatLine;
use crate::tariff::money::{Price, round_money, with_vat};
use crate::{DomainError, TenantId};

/// A billing period: a calendar month in UTC, `YYYY-MM`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Period {
    /// `2026-10`.
    pub label: String,
    /// First instant.
    pub from: DateTime<Utc>,
    /// First instant after it.
    pub to: DateTime<Utc>,
}

impl Period {
    /// The month `label` (`YYYY-MM`).
    pub fn month(label: &str) -> Result<Period, DomainError> {
        let bad = || DomainError::Invalid {
            field: "period",
            reason: format!("{label:?} is not a month YYYY-MM"),
        };
        let first =
            NaiveDate::parse_from_str(&format!("{label}-01"), "%Y-%m-%d").map_err(|_| bad())?;
        if label.len() != 7 {
            return Err(bad());
        }
        let next = first
            .checked_add_months(chrono::Months::new(1))
            .ok_or_else(bad)?;
        let at = |d: NaiveDate| Utc.from_utc_datetime(&d.and_time(chrono::NaiveTime::MIN));
        Ok(Period {
            label: label.to_string(),
            from: at(first),
            to: at(next),
        })
    }

    /// The month before the one `now` is in.
    pub fn previous_month(now: DateTime<Utc>) -> Period {
        let this = NaiveDate::from_ymd_opt(now.year(), now.month(), 1).unwrap_or_default();
        let prev = this
            .checked_sub_months(chrono::Months::new(1))
            .unwrap_or(this);
        Period::month(&prev.format("%Y-%m").to_string()).expect("a formatted month parses")
    }
}

/// Totals of one currency.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CurrencyTotal {
    /// ISO 4217.
    pub currency: String,
    /// The sum.
    pub total: Price,
}

/// One invoice: a party's CDRs of one currency made in the period.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Invoice {
    /// Owner.
    pub tenant: TenantId,
    /// `{period}~{party kind}:{party id}~{currency}`.
    pub id: String,
    /// The run (its period).
    pub run_id: String,
    /// Period start.
    pub period_from: DateTime<Utc>,
    /// Period end (exclusive).
    pub period_to: DateTime<Utc>,
    /// Who pays.
    pub party: Party,
    /// Currency.
    pub currency: String,
    /// Regular CDRs on it.
    pub cdr_count: u32,
    /// Credit CDRs on it (corrections).
    pub credit_count: u32,
    /// Energy, kWh (credits subtract).
    #[serde(with = "cpms_ocpp::number")]
    pub energy_kwh: Decimal,
    /// The sum of the CDRs' totals (to the cent).
    pub sessions_total: Price,
    /// What is invoiced: the sessions per VAT rate, then a subscription's fee, included energy and
    /// discount.
    #[serde(default)]
    pub lines: Vec<InvoiceLine>,
    /// The sum of the lines.
    pub total: Price,
    /// Per VAT rate: the sums of the lines.
    pub vat_summary: Vec<VatLine>,
    /// Made.
    pub created_at: DateTime<Utc>,
}

/// One line of an invoice.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct InvoiceLine {
    /// `sessions`, `subscription_fee`, `included_energy` or `discount`.
    pub kind: String,
    /// What it is, for the invoice document.
    pub description: String,
    /// VAT rate in percent (absent: no VAT applies).
    #[schemars(with = "Option<f64>")]
    #[serde(default, with = "cpms_ocpp::number::option")]
    pub rate: Option<Decimal>,
    /// Amount excluding VAT (negative for credits).
    #[schemars(with = "f64")]
    #[serde(with = "cpms_ocpp::number")]
    pub excl_vat: Decimal,
    /// Its VAT.
    #[schemars(with = "f64")]
    #[serde(with = "cpms_ocpp::number")]
    pub vat: Decimal,
}

/// A partner's share of the sites they have a share in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct StatementLine {
    /// The site (`-`: CDRs of chargers without a site, all the operator's).
    pub site_id: String,
    /// CDRs of the site in the period.
    pub cdr_count: u32,
    /// The site's revenue excluding VAT.
    #[schemars(with = "f64")]
    #[serde(with = "cpms_ocpp::number")]
    pub revenue_excl_vat: Decimal,
    /// The partner's percentage.
    #[schemars(with = "f64")]
    #[serde(with = "cpms_ocpp::number")]
    pub percent: Decimal,
    /// Their amount.
    #[schemars(with = "f64")]
    #[serde(with = "cpms_ocpp::number")]
    pub amount: Decimal,
}

/// What one partner (or the operator) gets of a period's revenue in one currency.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Statement {
    /// Owner.
    pub tenant: TenantId,
    /// `{period}~{partner}~{currency}`.
    pub id: String,
    /// The run.
    pub run_id: String,
    /// The partner, or `operator`.
    pub partner: String,
    /// Currency.
    pub currency: String,
    /// Per site.
    pub lines: Vec<StatementLine>,
    /// The sum of the lines.
    #[serde(with = "cpms_ocpp::number")]
    pub total: Decimal,
    /// Made.
    pub created_at: DateTime<Utc>,
}

/// A partner's share of a site.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Share {
    /// Who (site host, roaming partner, investor...).
    pub partner: String,
    /// What they are (free text: `site_host`, `roaming_partner`).
    #[serde(default)]
    pub role: Option<String>,
    /// Percent of the site's revenue excluding VAT.
    #[schemars(with = "f64")]
    #[serde(with = "cpms_ocpp::number")]
    pub percent: Decimal,
}

/// A finished run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BillingRun {
    /// Owner.
    pub tenant: TenantId,
    /// The period label.
    pub id: String,
    /// Period start.
    pub period_from: DateTime<Utc>,
    /// Period end (exclusive).
    pub period_to: DateTime<Utc>,
    /// CDRs (regular and credit) in the period.
    pub cdr_count: u32,
    /// Of them, marked for review.
    pub review_count: u32,
    /// Invoices made.
    pub invoice_count: u32,
    /// Statements made.
    pub statement_count: u32,
    /// Invoiced, per currency.
    pub totals: Vec<CurrencyTotal>,
    /// Sessions of the period that had no CDR yet and were priced by the run (invoiced next period).
    #[serde(default)]
    pub late_cdrs: u32,
    /// `scheduled`, `api` or `timer`.
    pub trigger: String,
    /// Made.
    pub created_at: DateTime<Utc>,
}

#[derive(Default)]
struct InvoiceSum {
    cdrs: u32,
    credits: u32,
    energy: Decimal,
    energy_cost: Price,
    total: Price,
    vat: BTreeMap<Option<Decimal>, (Decimal, Decimal)>,
}

/// Adds up a period's CDRs, one at a time (a run streams them page by page).
#[derive(Default)]
pub struct RunTotals {
    invoices: BTreeMap<(Party, String), InvoiceSum>,
    sites: BTreeMap<(String, String), (u32, Decimal)>,
    cdrs: u32,
    review: u32,
}

impl RunTotals {
    /// Adds a CDR.
    pub fn add(&mut self, c: &Cdr) {
        self.cdrs += 1;
        self.review += u32::from(c.review);
        let cur = c.pricing.currency.clone();
        let inv = self
            .invoices
            .entry((c.billed_party.clone(), cur.clone()))
            .or_default();
        match c.kind {
            CdrKind::Regular => inv.cdrs += 1,
            CdrKind::Credit => inv.credits += 1,
        }
        inv.energy += c.pricing.total_energy;
        inv.energy_cost = inv.energy_cost.add(&c.pricing.total_energy_cost);
        inv.total = inv.total.add(&c.pricing.total_cost);
        for l in &c.pricing.vat_lines {
            let e = inv.vat.entry(l.rate).or_default();
            e.0 += l.excl_vat;
            e.1 += l.vat;
        }
        let site = c.site_id.clone().unwrap_or_else(|| "-".into());
        let s = self.sites.entry((site, cur)).or_default();
        s.0 += 1;
        s.1 += c.pricing.total_cost.excl_vat;
    }

    /// The invoices, statements and run record. `split` gives a site's revenue split, if any;
    /// `subscriptions` are the tenant's (those active in the period apply, and their parties are
    /// invoiced their fee even without sessions).
    pub fn finish(
        mut self,
        tenant: &TenantId,
        period: &Period,
        split: impl Fn(&str) -> Option<RevenueSplit>,
        subscriptions: &[Subscription],
        trigger: &str,
        now: DateTime<Utc>,
    ) -> (Vec<Invoice>, Vec<Statement>, BillingRun) {
        let active: Vec<&Subscription> = subscriptions
            .iter()
            .filter(|s| s.active_fraction(period.from, period.to) > Decimal::ZERO)
            .collect();
        for s in &active {
            self.invoices
                .entry((s.party.clone(), s.currency.clone()))
                .or_default();
        }
        let mut totals: BTreeMap<String, Price> = BTreeMap::new();
        let invoices: Vec<Invoice> = self
            .invoices
            .into_iter()
            .map(|((party, currency), s)| {
                let sub = active
                    .iter()
                    .find(|x| x.party == party && x.currency == currency)
                    .copied();
                let lines = invoice_lines(&s, sub, period, &currency);
                let zero = Price::new(Decimal::ZERO, Decimal::ZERO);
                let total = lines.iter().fold(zero, |t, l| {
                    t.add(&Price::new(l.excl_vat, l.excl_vat + l.vat))
                });
                let mut vat: BTreeMap<Option<Decimal>, (Decimal, Decimal)> = BTreeMap::new();
                for l in &lines {
                    let e = vat.entry(l.rate).or_default();
                    e.0 += l.excl_vat;
                    e.1 += l.vat;
                }
                let t = totals.entry(currency.clone()).or_default();
                *t = t.add(&total);
                Invoice {
                    tenant: tenant.clone(),
                    id: format!("{}~{}~{currency}", period.label, party.key()),
                    run_id: period.label.clone(),
                    period_from: period.from,
                    period_to: period.to,
                    party,
                    currency,
                    cdr_count: s.cdrs,
                    credit_count: s.credits,
                    energy_kwh: s.energy.normalize(),
                    sessions_total: Price::new(s.total.excl_vat, s.total.incl()),
                    lines,
                    total,
                    vat_summary: vat
                        .into_iter()
                        .map(|(rate, (excl_vat, vat))| VatLine {
                            rate,
                            excl_vat,
                            vat,
                        })
                        .collect(),
                    created_at: now,
                }
            })
            .collect();
        let mut by_partner: BTreeMap<(String, String), Vec<StatementLine>> = BTreeMap::new();
        for ((site, currency), (count, revenue)) in self.sites {
            let shares = split(&site).map(|s| s.shares).unwrap_or_default();
            let mut given = Decimal::ZERO;
            for sh in shares {
                let amount = round_money(revenue * sh.percent / Decimal::ONE_HUNDRED, &currency);
                given += amount;
                by_partner
                    .entry((sh.partner, currency.clone()))
                    .or_default()
                    .push(StatementLine {
                        site_id: site.clone(),
                        cdr_count: count,
                        revenue_excl_vat: revenue,
                        percent: sh.percent,
                        amount,
                    });
            }
            let kept = Decimal::ONE_HUNDRED
                - split(&site).map_or(Decimal::ZERO, |s| s.shares.iter().map(|x| x.percent).sum());
            by_partner
                .entry((OPERATOR.into(), currency))
                .or_default()
                .push(StatementLine {
                    site_id: site,
                    cdr_count: count,
                    revenue_excl_vat: revenue,
                    percent: kept,
                    amount: revenue - given,
                });
        }
        let statements: Vec<Statement> = by_partner
            .into_iter()
            .map(|((partner, currency), lines)| Statement {
                tenant: tenant.clone(),
                id: format!("{}~{partner}~{currency}", period.label),
                run_id: period.label.clone(),
                total: lines.iter().map(|l| l.amount).sum(),
                partner,
                currency,
                lines,
                created_at: now,
            })
            .collect();
        let run = BillingRun {
            tenant: tenant.clone(),
            id: period.label.clone(),
            period_from: period.from,
            period_to: period.to,
            cdr_count: self.cdrs,
            review_count: self.review,
            invoice_count: invoices.len() as u32,
            statement_count: statements.len() as u32,
            totals: totals
                .into_iter()
                .map(|(currency, total)| CurrencyTotal { currency, total })
                .collect(),
            trigger: trigger.into(),
            late_cdrs: 0,
            created_at: now,
        };
        (invoices, statements, run)
    }
}

fn rate_name(r: Option<Decimal>) -> String {
    r.map_or_else(|| "no VAT".into(), |r| format!("{}% VAT", r.normalize()))
}

/// An invoice's lines: the sessions per VAT rate, then the subscription's fee (pro rata), its included
/// energy (credited at the month's average energy price of the party's sessions) and its discount (on
/// what the sessions cost after the included energy). Each line is rounded once.
fn invoice_lines(
    s: &InvoiceSum,
    sub: Option<&Subscription>,
    period: &Period,
    currency: &str,
) -> Vec<InvoiceLine> {
    let mut lines: Vec<InvoiceLine> = s
        .vat
        .iter()
        .map(|(rate, (excl, vat))| InvoiceLine {
            kind: "sessions".into(),
            description: format!("{} charging sessions ({})", s.cdrs, rate_name(*rate)),
            rate: *rate,
            excl_vat: *excl,
            vat: *vat,
        })
        .collect();
    let Some(sub) = sub else {
        return lines;
    };
    let hundred = Decimal::ONE_HUNDRED;
    let f = sub.active_fraction(period.from, period.to);
    if sub.monthly_fee > Decimal::ZERO {
        let excl = sub.prorated(sub.monthly_fee, period.from, period.to);
        let incl = with_vat(excl, sub.fee_vat);
        let (excl, incl) = (round_money(excl, currency), round_money(incl, currency));
        lines.push(InvoiceLine {
            kind: "subscription_fee".into(),
            description: format!(
                "{} ({}% of the month)",
                sub.plan,
                (f * hundred).round_dp(1).normalize()
            ),
            rate: sub.fee_vat,
            excl_vat: excl,
            vat: incl - excl,
        });
    }
    let mut credited = Decimal::ZERO;
    let cost = &s.energy_cost;
    if sub.included_kwh > Decimal::ZERO && s.energy > Decimal::ZERO && cost.excl_vat > Decimal::ZERO
    {
        let covered = sub
            .prorated(sub.included_kwh, period.from, period.to)
            .min(s.energy);
        let share = covered / s.energy;
        let excl = round_money(cost.excl_vat * share, currency);
        let incl = round_money(cost.incl() * share, currency);
        let rate = ((cost.incl() - cost.excl_vat) / cost.excl_vat * hundred).round_dp(2);
        credited = excl;
        lines.push(InvoiceLine {
            kind: "included_energy".into(),
            description: format!(
                "{} kWh included in {}",
                covered.round_dp(3).normalize(),
                sub.plan
            ),
            rate: (!rate.is_zero()).then_some(rate.normalize()),
            excl_vat: -excl,
            vat: -(incl - excl),
        });
    }
    if sub.discount_percent > Decimal::ZERO && s.total.excl_vat > Decimal::ZERO {
        let remaining = Decimal::ONE - (credited / s.total.excl_vat).min(Decimal::ONE);
        let d = sub.discount_percent / hundred * remaining;
        for (rate, (excl, vat)) in &s.vat {
            let e = round_money(*excl * d, currency);
            let i = round_money((*excl + *vat) * d, currency);
            if e.is_zero() && i.is_zero() {
                continue;
            }
            lines.push(InvoiceLine {
                kind: "discount".into(),
                description: format!(
                    "{}% off sessions with {} ({})",
                    sub.discount_percent.normalize(),
                    sub.plan,
                    rate_name(*rate)
                ),
                rate: *rate,
                excl_vat: -e,
                vat: -(i - e),
            });
        }
    }
    lines
}
