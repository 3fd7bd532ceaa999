//! The connection registry: which charger is behind a gateway connection id. Messages arrive with only
//! the connection id; nothing else lives in the connection.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use cpms_domain::{ChargerId, OcppVersion, TenantId};
use serde::{Deserialize, Serialize};

use crate::StoreError;

/// What is known about a live connection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectionInfo {
    /// Gateway connection id.
    pub connection_id: String,
    /// Owner of the charger.
    pub tenant: TenantId,
    /// The charger.
    pub charger_id: ChargerId,
    /// Negotiated version.
    pub version: OcppVersion,
    /// When it connected.
    pub connected_at: DateTime<Utc>,
    /// Whether the charger's registration is accepted (it may send more than BootNotification).
    pub accepted: bool,
    /// Peer address.
    #[serde(default)]
    pub remote_addr: Option<String>,
    /// When `last_seen` was last written to the charger record (it is written at most every few minutes).
    #[serde(default)]
    pub last_seen_written: Option<DateTime<Utc>>,
}

/// Maps connection ids to chargers.
#[async_trait]
pub trait ConnectionRegistry: Send + Sync {
    /// Records (or replaces) a connection.
    async fn put(&self, info: &ConnectionInfo) -> Result<(), StoreError>;
    /// The connection, if it is live.
    async fn get(&self, connection_id: &str) -> Result<Option<ConnectionInfo>, StoreError>;
    /// Forgets a connection; returns what was recorded.
    async fn remove(&self, connection_id: &str) -> Result<Option<ConnectionInfo>, StoreError>;
}
