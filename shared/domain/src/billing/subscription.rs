//! Subscriptions: a driver or a fleet pays a monthly fee and gets kWh included or a discount on its
//! sessions. They act on invoices (the CDRs keep the tariff's price): the fee is charged pro rata for the
//! days of the month the subscription was active, the included kWh credit the energy cost of the month's
//! first sessions (in the order their CDRs were made), and the discount reduces what remains.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::Party;
use crate::tariff::money::is_currency;
use crate::{DomainError, TenantId};

/// A subscription.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Subscription {
    /// Owner.
    pub tenant: TenantId,
    /// Id.
    pub id: String,
    /// Who subscribes: `driver:TOKEN` or `fleet:GROUP`.
    pub party: Party,
    /// Plan name shown on invoices.
    pub plan: String,
    /// Currency of the fee (it applies to invoices in this currency).
    pub currency: String,
    /// Monthly fee excluding VAT.
    #[serde(with = "cpms_ocpp::number")]
    pub monthly_fee: Decimal,
    /// VAT on the fee, percent.
    #[serde(default, with = "cpms_ocpp::number::option")]
    pub fee_vat: Option<Decimal>,
    /// kWh per month whose energy cost is included.
    #[serde(with = "cpms_ocpp::number")]
    pub included_kwh: Decimal,
    /// Percent off the sessions' amounts.
    #[serde(with = "cpms_ocpp::number")]
    pub discount_percent: Decimal,
    /// Active from.
    pub valid_from: DateTime<Utc>,
    /// Active until (exclusive); `None`: until ended.
    #[serde(default)]
    pub valid_to: Option<DateTime<Utc>>,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
}

impl Subscription {
    /// Checks the values an operator gives.
    pub fn validate(&self) -> Result<(), DomainError> {
        let bad = |field: &'static str, reason: &str| {
            Err(DomainError::Invalid {
                field,
                reason: reason.into(),
            })
        };
        if !matches!(self.party.kind.as_str(), "driver" | "fleet") || self.party.id.is_empty() {
            return bad("party", "driver:TOKEN or fleet:GROUP");
        }
        crate::error::check_text("plan", &self.plan, 100)?;
        if !is_currency(&self.currency) {
            return bad("currency", "an ISO 4217 code such as EUR");
        }
        if self.monthly_fee < Decimal::ZERO {
            return bad("monthly_fee", "must not be negative");
        }
        if self
            .fee_vat
            .is_some_and(|v| v < Decimal::ZERO || v > Decimal::ONE_HUNDRED)
        {
            return bad("fee_vat", "a percentage from 0 to 100");
        }
        if self.included_kwh < Decimal::ZERO {
            return bad("included_kwh", "must not be negative");
        }
        if self.discount_percent < Decimal::ZERO || self.discount_percent > Decimal::ONE_HUNDRED {
            return bad("discount_percent", "a percentage from 0 to 100");
        }
        if self.valid_to.is_some_and(|t| t <= self.valid_from) {
            return bad("valid_to", "must be after valid_from");
        }
        Ok(())
    }

    /// The part of `[from, to)` it was active, as a fraction.
    pub fn active_fraction(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Decimal {
        self.prorated(Decimal::ONE, from, to)
    }

    /// `amount` for the part of `[from, to)` it was active (multiplied before it is divided, so that
    /// 15 of 31 days of 3.10 is exactly 1.50).
    pub fn prorated(&self, amount: Decimal, from: DateTime<Utc>, to: DateTime<Utc>) -> Decimal {
        let start = self.valid_from.max(from);
        let end = self.valid_to.map_or(to, |t| t.min(to));
        if end <= start || to <= from {
            return Decimal::ZERO;
        }
        amount * Decimal::from((end - start).num_seconds())
            / Decimal::from((to - from).num_seconds())
    }
}
