//! Money: amounts are exact `Decimal`s until a total is shown or charged; then they are rounded once, to
//! the currency's minor unit, half away from zero (0.125 -> 0.13). Per-rate VAT lines are rounded so that
//! they add up to the rounded total exactly.

use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};

/// An amount excluding and including VAT.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(deny_unknown_fields)]
pub struct Price {
    /// Excluding VAT.
    #[schemars(with = "f64")]
    #[serde(with = "cpms_ocpp::number")]
    pub excl_vat: Decimal,
    /// Including VAT (absent in a tariff's min/max price: the same as `excl_vat`).
    #[schemars(with = "Option<f64>")]
    #[serde(
        default,
        with = "cpms_ocpp::number::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub incl_vat: Option<Decimal>,
}

impl Price {
    /// Both parts.
    pub fn new(excl_vat: Decimal, incl_vat: Decimal) -> Self {
        Price {
            excl_vat,
            incl_vat: Some(incl_vat),
        }
    }

    /// Including VAT, or excluding when not given.
    pub fn incl(&self) -> Decimal {
        self.incl_vat.unwrap_or(self.excl_vat)
    }

    /// The sum.
    pub fn add(&self, o: &Price) -> Price {
        Price::new(self.excl_vat + o.excl_vat, self.incl() + o.incl())
    }

    /// Negated (credit notes).
    pub fn negated(&self) -> Price {
        Price::new(-self.excl_vat, -self.incl())
    }
}

/// `amount` plus `vat` percent of it (no VAT when `vat` is absent); exact, not rounded.
pub fn with_vat(amount: Decimal, vat: Option<Decimal>) -> Decimal {
    amount + amount * vat.unwrap_or_default() / Decimal::ONE_HUNDRED
}

/// Digits after the decimal point of a currency's minor unit (ISO 4217, from the `iso_currency` table;
/// 2 for a code it does not know or a currency without a minor unit).
pub fn minor_digits(currency: &str) -> u32 {
    iso_currency::Currency::from_code(currency)
        .and_then(|c| c.exponent())
        .map_or(2, u32::from)
}

/// The smallest amount of a currency (0.01 EUR, 1 JPY).
pub fn minor_unit(currency: &str) -> Decimal {
    Decimal::new(1, minor_digits(currency))
}

/// The one rounding rule: to the currency's minor unit, half away from zero.
pub fn round_money(amount: Decimal, currency: &str) -> Decimal {
    amount.round_dp_with_strategy(
        minor_digits(currency),
        RoundingStrategy::MidpointAwayFromZero,
    )
}

/// Whether `code` is an ISO 4217 currency code.
pub fn is_currency(code: &str) -> bool {
    iso_currency::Currency::from_code(code).is_some()
}

/// Rounds `parts` so that their sum is exactly `total` (already rounded): each part is rounded, and the
/// difference left by rounding goes to the largest part.
pub fn allocate(parts: &[Decimal], total: Decimal, currency: &str) -> Vec<Decimal> {
    let mut out: Vec<Decimal> = parts.iter().map(|p| round_money(*p, currency)).collect();
    let diff = total - out.iter().copied().sum::<Decimal>();
    if !diff.is_zero()
        && let Some((i, _)) = out.iter().enumerate().max_by_key(|(_, v)| v.abs())
    {
        out[i] += diff;
    }
    out
}
