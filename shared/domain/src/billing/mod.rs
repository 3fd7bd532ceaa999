//! Billing: which tariff prices a session (assignments and their precedence), who pays for it (the
//! billed party), priced sessions (CDRs, with credit CDRs for corrections), and what a billing run makes
//! of a period's CDRs (invoices with a VAT summary per rate, revenue-split statements).

pub mod cdr;
pub mod run;
pub mod subscription;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::{DomainError, TenantId};

pub use cdr::{Cdr, CdrKind, SessionBilling};
pub use run::{
    BillingRun, CurrencyTotal, Invoice, Period, RunTotals, Share, Statement, StatementLine,
};
pub use subscription::Subscription;

/// Who a session is billed to.
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema,
)]
pub struct Party {
    /// `driver` (a token), `fleet` (a token group), `partner` (the roaming partner that issued the
    /// token) or `none` (no token: free vend, or started by the operator).
    pub kind: String,
    /// The token, group or partner id (`-` for `none`).
    pub id: String,
}

impl Party {
    /// The party of a session with this token, group and partner: the partner pays for its tokens,
    /// else the fleet for its group's tokens, else the driver.
    pub fn of(token: Option<&str>, group: Option<&str>, partner: Option<&str>) -> Party {
        let (kind, id) = match (partner, group, token) {
            (Some(p), _, _) => ("partner", p),
            (None, Some(g), _) => ("fleet", g),
            (None, None, Some(t)) => ("driver", t),
            (None, None, None) => ("none", "-"),
        };
        Party {
            kind: kind.into(),
            id: id.into(),
        }
    }

    /// `kind:id`, as ids and index keys use it.
    pub fn key(&self) -> String {
        format!("{}:{}", self.kind, self.id)
    }
}

/// Where a tariff applies. The most specific assignment wins: a token group's (a fleet contract), then
/// the issuing roaming partner's, then the charger's, then the site's, then the tenant default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// Tokens of this group.
    TokenGroup(String),
    /// Tokens of this roaming partner.
    Partner(String),
    /// This charger.
    Charger(String),
    /// The chargers of this site.
    Site(String),
    /// Everything else.
    Default,
}

impl Scope {
    /// `group:ID`, `partner:ID`, `charger:ID`, `site:ID` or `default`.
    pub fn key(&self) -> String {
        match self {
            Scope::TokenGroup(g) => format!("group:{g}"),
            Scope::Partner(p) => format!("partner:{p}"),
            Scope::Charger(c) => format!("charger:{c}"),
            Scope::Site(s) => format!("site:{s}"),
            Scope::Default => "default".into(),
        }
    }

    /// Reads a key written by [`Scope::key`].
    pub fn parse(key: &str) -> Result<Scope, DomainError> {
        let bad = || DomainError::Invalid {
            field: "scope",
            reason: format!("{key:?}: use default, site:ID, charger:ID, group:ID or partner:ID"),
        };
        if key == "default" {
            return Ok(Scope::Default);
        }
        let (kind, id) = key.split_once(':').ok_or_else(bad)?;
        if id.is_empty() || id.len() > 48 || id.chars().any(|c| c.is_control()) {
            return Err(bad());
        }
        Ok(match kind {
            "group" => Scope::TokenGroup(id.into()),
            "partner" => Scope::Partner(id.into()),
            "charger" => Scope::Charger(id.into()),
            "site" => Scope::Site(id.into()),
            _ => return Err(bad()),
        })
    }

    /// The scopes that can price a session, most specific first.
    pub fn precedence(
        group: Option<&str>,
        partner: Option<&str>,
        charger: &str,
        site: Option<&str>,
    ) -> Vec<Scope> {
        let mut out = Vec::with_capacity(5);
        out.extend(group.map(|g| Scope::TokenGroup(g.into())));
        out.extend(partner.map(|p| Scope::Partner(p.into())));
        out.push(Scope::Charger(charger.into()));
        out.extend(site.map(|s| Scope::Site(s.into())));
        out.push(Scope::Default);
        out
    }
}

/// A tariff assigned to a scope (stored under the scope's key). An assignment that is removed is kept
/// without a tariff, so that its removal is a write that carries its event (a delete carries none).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TariffAssignment {
    /// Owner.
    pub tenant: TenantId,
    /// [`Scope::key`].
    pub scope: String,
    /// The tariff; `None` once the assignment was removed.
    #[serde(default)]
    pub tariff_id: Option<String>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
}

/// How a site's revenue (excluding VAT) is split: each partner's percentage; the operator keeps the
/// rest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RevenueSplit {
    /// Owner.
    pub tenant: TenantId,
    /// The site.
    pub site_id: String,
    /// The partners' shares.
    pub shares: Vec<Share>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
}

impl RevenueSplit {
    /// Shares must name a partner once each, with 0 to 100 percent, 100 percent at most in all.
    pub fn validate(&self) -> Result<(), DomainError> {
        let mut total = Decimal::ZERO;
        for (i, s) in self.shares.iter().enumerate() {
            crate::error::check_text("partner", &s.partner, 64)?;
            if s.partner == OPERATOR {
                return Err(DomainError::Invalid {
                    field: "shares",
                    reason: format!(
                        "{OPERATOR:?} is the operator, who keeps what the others do not get"
                    ),
                });
            }
            if self.shares[..i].iter().any(|o| o.partner == s.partner) {
                return Err(DomainError::Invalid {
                    field: "shares",
                    reason: format!("shares[{i}]: {} appears twice", s.partner),
                });
            }
            if s.percent <= Decimal::ZERO || s.percent > Decimal::ONE_HUNDRED {
                return Err(DomainError::Invalid {
                    field: "shares",
                    reason: format!("shares[{i}].percent: more than 0 and at most 100"),
                });
            }
            total += s.percent;
        }
        if total > Decimal::ONE_HUNDRED {
            return Err(DomainError::Invalid {
                field: "shares",
                reason: format!("they add up to {total} percent; at most 100"),
            });
        }
        Ok(())
    }
}

/// The statement party that keeps what partners do not get.
pub const OPERATOR: &str = "operator";

#[cfg(test)]
mod tests;
