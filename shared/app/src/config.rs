//! Behaviour settings of the CSMS.

use std::time::Duration;

use cpms_domain::TenantId;

/// How the CSMS answers chargers.
#[derive(Debug, Clone)]
pub struct CsmsConfig {
    /// Heartbeat interval given at boot. API Gateway closes connections idle for 10 minutes, so it must
    /// stay below that.
    pub heartbeat_interval: Duration,
    /// BootNotifications accepted per second; above that (a reconnect storm) chargers are told `Pending`
    /// and retry after a jittered interval.
    pub boot_rate_per_second: f64,
    /// Boots accepted at once before the rate applies.
    pub boot_burst: f64,
    /// Range of the retry interval given with `Pending`.
    pub pending_interval: (Duration, Duration),
    /// Retry interval given with `Rejected` (disabled chargers).
    pub rejected_interval: Duration,
    /// A charger's `last_seen` is written at most this often.
    pub last_seen_every: Duration,
    /// The tenant operators act on with the admin key.
    pub default_tenant: TenantId,
    /// Currency of the (zero) CDR of a session no tariff applies to.
    pub default_currency: String,
    /// Whether running 2.0.1 sessions are sent their cost so far (`CostUpdated`; how often is a tenant
    /// setting).
    pub running_costs: bool,
}

impl Default for CsmsConfig {
    fn default() -> Self {
        CsmsConfig {
            heartbeat_interval: Duration::from_secs(300),
            boot_rate_per_second: 500.0,
            boot_burst: 1000.0,
            pending_interval: (Duration::from_secs(10), Duration::from_secs(60)),
            rejected_interval: Duration::from_secs(3600),
            last_seen_every: Duration::from_secs(300),
            default_tenant: TenantId::default_tenant(),
            default_currency: "EUR".into(),
            running_costs: true,
        }
    }
}
