//! The audit log: every change made and command sent through the operator API (who, what, when).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::TenantId;

/// One audit entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct AuditEntry {
    /// Tenant.
    #[schemars(with = "String")]
    pub tenant: TenantId,
    /// Time-ordered id (see [`crate::ids::time_ordered_id`]).
    pub id: String,
    /// When.
    pub at: DateTime<Utc>,
    /// Who: the API key id (or `bootstrap`) and its name.
    pub actor: String,
    /// What, as `resource.verb` (`charger.create`, `command.send`, `api_key.revoke`).
    pub action: String,
    /// The resource (`chargers/CP-1`).
    pub target: String,
    /// Details of the change (never secrets).
    #[serde(default)]
    pub detail: serde_json::Value,
}
