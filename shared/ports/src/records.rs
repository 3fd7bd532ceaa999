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

impl Record for AuditEntry {
    const KIND: &'static str = "audit";
    fn tenant(&self) -> &TenantId {
        &self.tenant
    }
    fn id(&self) -> String {
        self.id.clone()
    }
}
