//! The connection registry on DynamoDB: one item per live connection, read consistently on every
//! message, expiring by TTL if a `$disconnect` never arrives.

use async_trait::async_trait;
use cpms_ports::{ConnectionInfo, ConnectionRegistry, StoreError};

use super::{DynamoStore, keys, record, record_item, ttl};

/// API Gateway ends connections after 2 hours; an item outliving that is stale.
const CONNECTION_TTL_S: i64 = 3 * 3600;

#[async_trait]
impl ConnectionRegistry for DynamoStore {
    async fn put(&self, info: &ConnectionInfo) -> Result<(), StoreError> {
        let mut item = record_item(keys::connection(&info.connection_id), vec![], info)?;
        item.insert("ttl".into(), ttl(info.connected_at, CONNECTION_TTL_S));
        DynamoStore::put(self, item).await
    }

    async fn get(&self, connection_id: &str) -> Result<Option<ConnectionInfo>, StoreError> {
        let item = DynamoStore::get(self, keys::connection(connection_id)).await?;
        item.as_ref()
            .map(|i| record(i).map(|v| v.value))
            .transpose()
    }

    async fn remove(&self, connection_id: &str) -> Result<Option<ConnectionInfo>, StoreError> {
        let item = self.delete(keys::connection(connection_id)).await?;
        item.as_ref()
            .map(|i| record(i).map(|v| v.value))
            .transpose()
    }
}
