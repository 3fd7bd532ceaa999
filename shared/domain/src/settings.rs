//! A tenant's settings: what an operator tunes for the whole network (one record per tenant; absent
//! settings take the defaults).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{DomainError, TenantId};

/// The longest interval between two running-cost updates to a station.
pub const MAX_RUNNING_COST_INTERVAL_S: u32 = 900;
/// The interval between running-cost updates when the tenant has not chosen one.
pub const DEFAULT_RUNNING_COST_INTERVAL_S: u32 = 60;

/// A tenant's settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct TenantSettings {
    /// Owner.
    #[schemars(skip)]
    pub tenant: TenantId,
    /// Seconds between two `CostUpdated` to a running 2.0.1 session's station (0: with every meter
    /// value that changes the cost; at most 900). An update goes out only when the cost changed by at
    /// least the currency's minor unit since the last one.
    #[serde(default = "default_running_cost_interval")]
    pub running_cost_interval_s: u32,
    /// Days each charger's status timeline is kept (30 to 3650, default 400: a year back, for
    /// uptime over the trailing twelve months).
    #[serde(default = "default_timeline_retention")]
    pub timeline_retention_days: u32,
    /// Last changed.
    #[serde(default)]
    pub updated_at: Option<DateTime<Utc>>,
}

fn default_timeline_retention() -> u32 {
    crate::incidents::timeline::DEFAULT_RETENTION_DAYS
}

fn default_running_cost_interval() -> u32 {
    DEFAULT_RUNNING_COST_INTERVAL_S
}

impl TenantSettings {
    /// The defaults of a tenant that set nothing.
    pub fn defaults(tenant: TenantId) -> Self {
        TenantSettings {
            tenant,
            running_cost_interval_s: DEFAULT_RUNNING_COST_INTERVAL_S,
            timeline_retention_days: default_timeline_retention(),
            updated_at: None,
        }
    }

    /// Checks the values.
    pub fn validate(&self) -> Result<(), DomainError> {
        if self.running_cost_interval_s > MAX_RUNNING_COST_INTERVAL_S {
            return Err(DomainError::Invalid {
                field: "running_cost_interval_s",
                reason: format!("must be 0 to {MAX_RUNNING_COST_INTERVAL_S} seconds"),
            });
        }
        if !(30..=3650).contains(&self.timeline_retention_days) {
            return Err(DomainError::Invalid {
                field: "timeline_retention_days",
                reason: "must be 30 to 3650 days".into(),
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_interval_is_bounded_and_defaults_to_a_minute() {
        let mut s = TenantSettings::defaults(TenantId::default_tenant());
        assert_eq!(s.running_cost_interval_s, 60);
        assert!(s.validate().is_ok());
        s.running_cost_interval_s = 901;
        assert!(s.validate().is_err());
        let read: TenantSettings = serde_json::from_str(r#"{"tenant": "default"}"#).unwrap();
        assert_eq!(read.running_cost_interval_s, 60);
    }
}
