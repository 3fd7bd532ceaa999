//! Tokens on DynamoDB.

use async_trait::async_trait;
use cpms_domain::TenantId;
use cpms_domain::token::{Token, token_key};
use cpms_ports::{Expected, Page, PageRequest, StoreError, TokenStore, Versioned};

use super::{DynamoStore, keys, record, record_item};

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
        self.list_g1(&keys::tokens_of(tenant), page).await
    }
}
