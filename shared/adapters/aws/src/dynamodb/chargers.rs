//! Chargers on DynamoDB.

use async_trait::async_trait;
use cpms_domain::charger::Charger;
use cpms_domain::events::DomainEvent;
use cpms_domain::{ChargerId, TenantId};
use cpms_ports::{ChargerStore, Expected, Page, PageRequest, StoreError, Versioned};

use super::{DynamoStore, Query, decode_cursor, encode_cursor, key_of, keys, record, record_item};

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
        let g1pk = keys::chargers_of(tenant);
        let start = page
            .cursor
            .as_deref()
            .map(|c| decode_cursor(c, "g1pk", &g1pk))
            .transpose()?;
        let q = Query {
            index: Some("g1"),
            pk: &g1pk,
            sk_prefix: None,
            ascending: true,
            limit: page.limit,
            start,
        };
        let (found, last) = self.query(q).await?;
        let items = self
            .batch_get(&found.iter().map(key_of).collect::<Vec<_>>())
            .await?;
        let items = items
            .iter()
            .map(|i| record(i).map(|v| v.value))
            .collect::<Result<Vec<Charger>, _>>()?;
        Ok(Page {
            items,
            next: last.as_ref().map(encode_cursor),
        })
    }
}
