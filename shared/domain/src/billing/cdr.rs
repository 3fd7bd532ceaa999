//! CDRs: a priced session, shaped like an OCPI 2.2.1 CDR. A CDR is never changed: when a session's data
//! changes after it was priced (late meter values, a reconciled session whose real stop arrives), the
//! CDR is cancelled by a credit CDR (every amount and volume negated, pointing at it) and a new CDR is
//! made. The session's billing record says which CDR is current.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::Party;
use crate::tariff::usage::Flag;
use crate::tariff::{Priced, TariffTerms};
use crate::{ChargerId, SessionId, TenantId};

/// A regular CDR, or the credit CDR cancelling one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CdrKind {
    /// Prices a session.
    Regular,
    /// Cancels `credits`.
    Credit,
}

/// A priced session.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cdr {
    /// Owner.
    pub tenant: TenantId,
    /// `{session}~r{revision}`, or `{session}~r{revision}-credit` for the credit of that revision.
    pub id: String,
    /// Regular or credit.
    pub kind: CdrKind,
    /// A credit CDR: the CDR it cancels (OCPI `credit_reference_id`).
    #[serde(default)]
    pub credits: Option<String>,
    /// The session.
    pub session_id: SessionId,
    /// 1 for the first pricing of the session, then one more per correction.
    pub revision: u32,
    /// Charger.
    pub charger_id: ChargerId,
    /// EVSE.
    #[serde(default)]
    pub evse_id: Option<u32>,
    /// Connector.
    #[serde(default)]
    pub connector_id: Option<u32>,
    /// The charger's site when it was priced.
    #[serde(default)]
    pub site_id: Option<String>,
    /// Token.
    #[serde(default)]
    pub token: Option<String>,
    /// The token's group.
    #[serde(default)]
    pub token_group: Option<String>,
    /// The roaming partner that issued the token.
    #[serde(default)]
    pub partner: Option<String>,
    /// Who pays.
    pub billed_party: Party,
    /// The tariff (none assigned: priced at zero and flagged).
    #[serde(default)]
    pub tariff_id: Option<String>,
    /// The tariff's terms as they were when priced (later edits do not change this CDR).
    #[serde(default)]
    pub tariff: Option<TariffTerms>,
    /// The time zone restrictions were read in.
    pub time_zone: String,
    /// Session start.
    pub start_date_time: DateTime<Utc>,
    /// Session end.
    pub end_date_time: DateTime<Utc>,
    /// Periods, volumes and amounts.
    pub pricing: Priced,
    /// What the pricing rules had to assume.
    #[serde(default)]
    pub flags: Vec<Flag>,
    /// Whether someone should look at it (flags, a reconciled session, no tariff).
    pub review: bool,
    /// When it was made; billing runs take the CDRs made in their period.
    pub created_at: DateTime<Utc>,
}

impl Cdr {
    /// The id of revision `revision` of `session`.
    pub fn id_of(session: &SessionId, revision: u32) -> String {
        format!("{session}~r{revision}")
    }

    /// The credit CDR cancelling this one.
    pub fn credit(&self, now: DateTime<Utc>) -> Cdr {
        Cdr {
            id: format!("{}-credit", self.id),
            kind: CdrKind::Credit,
            credits: Some(self.id.clone()),
            pricing: self.pricing.negated(),
            review: false,
            created_at: now,
            ..self.clone()
        }
    }

    /// Whether `other` prices the session the same (volumes, amounts, flags and tariff).
    pub fn same_pricing(&self, other: &Cdr) -> bool {
        self.pricing == other.pricing
            && self.flags == other.flags
            && self.tariff_id == other.tariff_id
            && self.billed_party == other.billed_party
    }
}

/// Which CDR of a session is current (stored under the session id; written in the same batch as the
/// CDRs it points to, so two consumers pricing the same session cannot both win).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionBilling {
    /// Owner.
    pub tenant: TenantId,
    /// The session.
    pub session_id: SessionId,
    /// Current revision.
    pub revision: u32,
    /// The current CDR.
    pub current_cdr: String,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
}
