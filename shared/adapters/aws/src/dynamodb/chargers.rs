//! Chargers on DynamoDB.

use async_trait::async_trait;
use cpms_domain::charger::Charger;
use cpms_domain::events::DomainEvent;
use cpms_domain::{ChargerId, TenantId};
use cpms_ports::{ChargerStore, Expected, Page, PageRequest, StoreError, Versioned};

use super::{DynamoStore, keys, record, record_item};

#[async_trait]
impl ChargerStore for DynamoStore {
    async fn get(&self, id: &ChargerId) -> Result<Option<Versioned<Charger>>, StoreError> {
        self.get(keys::charger(id))
            .await?
            .as_ref()
            .map(record)
            .transpose()
    }

    async fn put(
        &self,
        c: &Charger,
        expected: Expected,
        _events: &[DomainEvent],
    ) -> Result<u64, StoreError> {
        let extra = vec![
            ("t", c.tenant.to_string()),
            ("g1pk", keys::chargers_of(&c.tenant)),
            ("g1sk", c.id.to_string()),
        ];
        let item = record_item(keys::charger(&c.id), extra, c)?;
        self.put_versioned(item, expected).await
    }

    async fn list(
        &self,
        tenant: &TenantId,
        page: &PageRequest,
    ) -> Result<Page<Charger>, StoreError> {
        self.list_g1(&keys::chargers_of(tenant), page).await
    }
}
