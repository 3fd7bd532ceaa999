//! Tokens on DynamoDB.

use async_trait::async_trait;
use cpms_domain::TenantId;
use cpms_domain::token::{Token, token_key};
use cpms_ports::{Expected, Page, PageRequest, StoreError, TokenStore, Versioned};

use super::{DynamoStore, Query, decode_cursor, encode_cursor, key_of, keys, record, record_item};

#[async_trait]
impl TokenStore for DynamoStore {
    async fn get(
        &self,
        tenant: &TenantId,
        id: &str,
    ) -> Result<Option<Versioned<Token>>, StoreError> {
        let key = keys::token(tenant, &token_key(id));
        self.get(key).await?.as_ref().map(record).transpose()
    }

    async fn put(&self, t: &Token, expected: Expected) -> Result<u64, StoreError> {
        let k = token_key(&t.id);
        let extra = vec![("g1pk", keys::tokens_of(&t.tenant)), ("g1sk", k.clone())];
        let item = record_item(keys::token(&t.tenant, &k), extra, t)?;
        self.put_versioned(item, expected).await
    }

    async fn list(&self, tenant: &TenantId, page: &PageRequest) -> Result<Page<Token>, StoreError> {
        let g1pk = keys::tokens_of(tenant);
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
            .collect::<Result<Vec<Token>, _>>()?;
        Ok(Page {
            items,
            next: last.as_ref().map(encode_cursor),
        })
    }
}
