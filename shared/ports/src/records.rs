//! Which domain records live in the document store, under which ids and in which secondary orders.

use chrono::{DateTime, Duration, Utc};
use cpms_domain::TenantId;
use cpms_domain::access::{ApiKey, Tenant, platform_tenant};
use cpms_domain::audit::AuditEntry;
use cpms_domain::command::{Command, OutboundLane};
use cpms_domain::site::Site;

use crate::documents::{INDEX_SLOTS, IndexKey, Record};

/// How long ended commands are kept (DynamoDB TTL).
pub const COMMAND_RETENTION_DAYS: i64 = 90;

impl Record for Site {
    const KIND: &'static str = "site";
    fn tenant(&self) -> &TenantId {
        &self.tenant
    }
    fn id(&self) -> String {
        self.id.clone()
    }
}

impl Record for ApiKey {
    const KIND: &'static str = "api-key";
    fn tenant(&self) -> &TenantId {
        &self.tenant
    }
    fn id(&self) -> String {
        self.id.clone()
    }
}

/// Tenants are records of the platform tenant.
pub struct TenantRecord(pub Tenant);

impl serde::Serialize for TenantRecord {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

impl<'de> serde::Deserialize<'de> for TenantRecord {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Tenant::deserialize(d).map(TenantRecord)
    }
}

static PLATFORM: std::sync::LazyLock<TenantId> = std::sync::LazyLock::new(platform_tenant);

impl Record for TenantRecord {
    const KIND: &'static str = "tenant";
    fn tenant(&self) -> &TenantId {
        &PLATFORM
    }
    fn id(&self) -> String {
        self.0.id.to_string()
    }
}

/// Index slot of a charger's open commands (its queue), oldest first.
pub const COMMAND_QUEUE: usize = 0;
/// Index slot of all of a charger's commands.
pub const COMMANDS_OF_CHARGER: usize = 1;

/// Partition of a charger's queue.
pub fn queue_of(charger: &str) -> String {
    format!("q#{charger}")
}

/// Partition of a charger's commands.
pub fn commands_of(charger: &str) -> String {
    format!("c#{charger}")
}

impl Record for Command {
    const KIND: &'static str = "command";
    fn tenant(&self) -> &TenantId {
        &self.tenant
    }
    fn id(&self) -> String {
        self.id.clone()
    }
    fn index(&self) -> [Option<IndexKey>; INDEX_SLOTS] {
        let queue = self.state.is_open().then(|| IndexKey {
            partition: queue_of(self.charger.as_str()),
            sort: self.id.clone(),
        });
        let history = Some(IndexKey {
            partition: commands_of(self.charger.as_str()),
            sort: self.id.clone(),
        });
        [queue, history]
    }
    fn expires_at(&self) -> Option<DateTime<Utc>> {
        self.completed_at
            .map(|t| t + Duration::days(COMMAND_RETENTION_DAYS))
    }
}

/// Index slot of lanes with a call in flight, by deadline (the timeout sweep reads it).
pub const LANES_IN_FLIGHT: usize = 0;
/// The one partition of that index.
pub const IN_FLIGHT: &str = "in-flight";

impl Record for OutboundLane {
    const KIND: &'static str = "lane";
    fn tenant(&self) -> &TenantId {
        &self.tenant
    }
    fn id(&self) -> String {
        self.charger.to_string()
    }
    fn index(&self) -> [Option<IndexKey>; INDEX_SLOTS] {
        let due = self.in_flight.as_ref().map(|f| IndexKey {
            partition: IN_FLIGHT.into(),
            sort: f
                .deadline
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        });
        [due, None]
    }
}

impl Record for cpms_domain::token::RemoteStartGrant {
    const KIND: &'static str = "remote-start";
    fn tenant(&self) -> &TenantId {
        &self.tenant
    }
    fn id(&self) -> String {
        Self::key(&self.charger, &self.token)
    }
    fn expires_at(&self) -> Option<DateTime<Utc>> {
        Some(self.expires_at)
    }
}

impl Record for cpms_domain::settings::TenantSettings {
    const KIND: &'static str = "tenant-settings";
    fn tenant(&self) -> &TenantId {
        &self.tenant
    }
    fn id(&self) -> String {
        "settings".into()
    }
}

impl Record for AuditEntry {
    const KIND: &'static str = "audit";
    fn tenant(&self) -> &TenantId {
        &self.tenant
    }
    fn id(&self) -> String {
        self.id.clone()
    }
}

// ---------------------------------------------------------------------------------------------------
// Billing

use cpms_domain::billing::{
    BillingRun, Cdr, Invoice, RevenueSplit, SessionBilling, Statement, TariffAssignment,
};
use cpms_domain::tariff::Tariff;

impl Record for Tariff {
    const KIND: &'static str = "tariff";
    fn tenant(&self) -> &TenantId {
        &self.tenant
    }
    fn id(&self) -> String {
        self.id.clone()
    }
}

impl Record for TariffAssignment {
    const KIND: &'static str = "tariff-assignment";
    fn tenant(&self) -> &TenantId {
        &self.tenant
    }
    fn id(&self) -> String {
        self.scope.clone()
    }
}

/// Index slot of all CDRs by creation time (billing runs and lists read it).
pub const CDRS_BY_TIME: usize = 0;
/// Its one partition.
pub const ALL_CDRS: &str = "all";
/// Index slot of a billed party's CDRs by creation time (an invoice's lines).
pub const CDRS_OF_PARTY: usize = 1;

/// The sort key of a CDR in both orders: creation time, then id.
pub fn cdr_order(c: &Cdr) -> String {
    format!(
        "{}|{}",
        c.created_at
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        c.id
    )
}

/// The sort key where a time range starts in the CDR orders.
pub fn cdr_order_at(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Partition of a party's CDRs.
pub fn cdrs_of_party(party_key: &str) -> String {
    format!("p#{party_key}")
}

impl Record for Cdr {
    const KIND: &'static str = "cdr";
    fn tenant(&self) -> &TenantId {
        &self.tenant
    }
    fn id(&self) -> String {
        self.id.clone()
    }
    fn index(&self) -> [Option<IndexKey>; INDEX_SLOTS] {
        let order = cdr_order(self);
        [
            Some(IndexKey {
                partition: ALL_CDRS.into(),
                sort: order.clone(),
            }),
            Some(IndexKey {
                partition: cdrs_of_party(&self.billed_party.key()),
                sort: order,
            }),
        ]
    }
}

impl Record for SessionBilling {
    const KIND: &'static str = "session-billing";
    fn tenant(&self) -> &TenantId {
        &self.tenant
    }
    fn id(&self) -> String {
        self.session_id.to_string()
    }
}

/// Index slot of a run's invoices and statements.
pub const OF_RUN: usize = 0;

impl Record for Invoice {
    const KIND: &'static str = "invoice";
    fn tenant(&self) -> &TenantId {
        &self.tenant
    }
    fn id(&self) -> String {
        self.id.clone()
    }
    fn index(&self) -> [Option<IndexKey>; INDEX_SLOTS] {
        [
            Some(IndexKey {
                partition: self.run_id.clone(),
                sort: self.id.clone(),
            }),
            None,
        ]
    }
}

impl Record for Statement {
    const KIND: &'static str = "statement";
    fn tenant(&self) -> &TenantId {
        &self.tenant
    }
    fn id(&self) -> String {
        self.id.clone()
    }
    fn index(&self) -> [Option<IndexKey>; INDEX_SLOTS] {
        [
            Some(IndexKey {
                partition: self.run_id.clone(),
                sort: self.id.clone(),
            }),
            None,
        ]
    }
}

impl Record for BillingRun {
    const KIND: &'static str = "billing-run";
    fn tenant(&self) -> &TenantId {
        &self.tenant
    }
    fn id(&self) -> String {
        self.id.clone()
    }
}

impl Record for RevenueSplit {
    const KIND: &'static str = "revenue-split";
    fn tenant(&self) -> &TenantId {
        &self.tenant
    }
    fn id(&self) -> String {
        self.site_id.clone()
    }
}

impl Record for cpms_domain::billing::Subscription {
    const KIND: &'static str = "subscription";
    fn tenant(&self) -> &TenantId {
        &self.tenant
    }
    fn id(&self) -> String {
        self.id.clone()
    }
}

impl Record for cpms_domain::allocation::SiteGrid {
    const KIND: &'static str = "site-grid";
    fn tenant(&self) -> &TenantId {
        &self.tenant
    }
    fn id(&self) -> String {
        self.site_id.clone()
    }
}

impl Record for cpms_domain::allocation::SiteConditions {
    const KIND: &'static str = "site-conditions";
    fn tenant(&self) -> &TenantId {
        &self.tenant
    }
    fn id(&self) -> String {
        self.site_id.clone()
    }
}

/// Index slot of site allocations by when they are due again (a schedule boundary).
pub const ALLOCATIONS_DUE: usize = 0;
/// The one partition of that index.
pub const DUE: &str = "due";

impl Record for cpms_domain::allocation::SiteAllocation {
    const KIND: &'static str = "site-allocation";
    fn tenant(&self) -> &TenantId {
        &self.tenant
    }
    fn id(&self) -> String {
        self.site_id.clone()
    }
    fn index(&self) -> [Option<IndexKey>; INDEX_SLOTS] {
        let due = self.next_change.map(|t| IndexKey {
            partition: DUE.into(),
            sort: format!(
                "{}#{}",
                t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                self.site_id
            ),
        });
        [due, None]
    }
}

impl Record for cpms_domain::allocation::ChargerProfiles {
    const KIND: &'static str = "charger-profiles";
    fn tenant(&self) -> &TenantId {
        &self.tenant
    }
    fn id(&self) -> String {
        self.charger.to_string()
    }
}

/// How long a site's load history is kept (DynamoDB TTL).
pub const LOAD_RETENTION_DAYS: i64 = 400;

impl Record for cpms_domain::allocation::SiteLoadDay {
    const KIND: &'static str = "site-load";
    fn tenant(&self) -> &TenantId {
        &self.tenant
    }
    fn id(&self) -> String {
        Self::key(&self.site_id, self.day)
    }
    fn expires_at(&self) -> Option<DateTime<Utc>> {
        self.day
            .and_hms_opt(0, 0, 0)
            .map(|t| t.and_utc() + Duration::days(LOAD_RETENTION_DAYS))
    }
}

impl Record for cpms_domain::incidents::timeline::TimelineDay {
    const KIND: &'static str = "status-timeline";
    fn tenant(&self) -> &TenantId {
        &self.tenant
    }
    fn id(&self) -> String {
        Self::key(self.charger_id.as_str(), self.day)
    }
    fn expires_at(&self) -> Option<DateTime<Utc>> {
        Some(self.expires_at)
    }
}
