//! Tokens in the embedded store.

use std::ops::Bound;

use async_trait::async_trait;
use cpms_domain::TenantId;
use cpms_domain::token::{Token, token_key};
use cpms_ports::{Expected, Page, PageRequest, StoreError, TokenStore, Versioned};
use redb::ReadableTable;

use super::{
    EmbeddedStore, TOKENS, check, cursor, from_json, read_versioned, to_json, unavailable,
};

#[async_trait]
impl TokenStore for EmbeddedStore {
    async fn get(
        &self,
        tenant: &TenantId,
        id: &str,
    ) -> Result<Option<Versioned<Token>>, StoreError> {
        let key = token_key(id);
        self.read(|txn| {
            let t = txn
                .open_table(TOKENS)
                .map_err(|e| unavailable("tokens", e))?;
            read_versioned(&t, (tenant.as_str(), key.as_str()), &key)
        })
    }

    async fn put(&self, token: &Token, expected: Expected) -> Result<u64, StoreError> {
        let json = to_json(token)?;
        let (tenant, key) = (token.tenant.to_string(), token_key(&token.id));
        self.write(move |txn| {
            let mut t = txn
                .open_table(TOKENS)
                .map_err(|e| unavailable("tokens", e))?;
            let k = (tenant.as_str(), key.as_str());
            let current = t
                .get(k)
                .map_err(|e| unavailable("tokens", e))?
                .map(|g| g.value().0);
            let version = check(expected, current)?;
            t.insert(k, (version, json.as_slice()))
                .map_err(|e| unavailable("tokens", e))?;
            Ok(version)
        })
        .await
    }

    async fn list(&self, tenant: &TenantId, page: &PageRequest) -> Result<Page<Token>, StoreError> {
        let after: Option<String> = page.cursor.as_deref().map(cursor::decode).transpose()?;
        self.read(|txn| {
            let t = txn
                .open_table(TOKENS)
                .map_err(|e| unavailable("tokens", e))?;
            let ten = tenant.as_str();
            let start = match &after {
                Some(a) => Bound::Excluded((ten, a.as_str())),
                None => Bound::Included((ten, "")),
            };
            let mut items = Vec::new();
            let mut last = None;
            let range = t
                .range::<(&str, &str)>((start, Bound::Unbounded))
                .map_err(|e| unavailable("tokens", e))?;
            for entry in range {
                let (k, v) = entry.map_err(|e| unavailable("tokens", e))?;
                let (kt, key) = k.value();
                if kt != ten || items.len() >= page.limit {
                    break;
                }
                items.push(from_json::<Token>(key, v.value().1)?);
                last = Some(key.to_string());
            }
            let next = cursor::next_if_full(&items, page.limit, last);
            Ok(Page { items, next })
        })
    }
}
