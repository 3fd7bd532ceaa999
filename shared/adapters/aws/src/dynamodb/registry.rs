//! The connection registry on DynamoDB: one item per live connection, read on every message, expiring by
//! TTL if a `$disconnect` never arrives.
//!
//! The read is eventually consistent (half the units, and it is most of a charger's reads): the item
//! changes only at `$connect` and when the charger's boot is accepted, so a stale copy can only be one
//! that is missing or not accepted yet, and those two are read again consistently. A stale
//! `last_seen_written` costs at most one extra last-seen write.

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
        let read = |consistent| async move {
            let item = self
                .get_read(keys::connection(connection_id), consistent)
                .await?;
            item.as_ref()
                .map(|i| record::<ConnectionInfo>(i).map(|v| v.value))
                .transpose()
        };
        match read(false).await? {
            Some(info) if info.accepted => Ok(Some(info)),
            _ => read(true).await,
        }
    }

    async fn remove(&self, connection_id: &str) -> Result<Option<ConnectionInfo>, StoreError> {
        let item = self.delete(keys::connection(connection_id)).await?;
        item.as_ref()
            .map(|i| record(i).map(|v| v.value))
            .transpose()
    }
}
