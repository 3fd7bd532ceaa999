//! Chargers in the embedded store.

use std::ops::Bound;

use async_trait::async_trait;
use cpms_domain::charger::Charger;
use cpms_domain::events::DomainEvent;
use cpms_domain::{ChargerId, TenantId};
use cpms_ports::{ChargerStore, Expected, Page, PageRequest, StoreError, Versioned};
use redb::ReadableTable;

use super::{
    CHARGERS, CHARGERS_BY_TENANT, EmbeddedStore, append_outbox, check, cursor, encode_events,
    read_versioned, to_json, unavailable,
};

#[async_trait]
impl ChargerStore for EmbeddedStore {
    async fn get(&self, id: &ChargerId) -> Result<Option<Versioned<Charger>>, StoreError> {
        self.read(|txn| {
            let t = txn
                .open_table(CHARGERS)
                .map_err(|e| unavailable("chargers", e))?;
            read_versioned(&t, id.as_str(), id.as_str())
        })
    }

    async fn put(
        &self,
        charger: &Charger,
        expected: Expected,
        events: &[DomainEvent],
    ) -> Result<u64, StoreError> {
        let json = to_json(charger)?;
        let (id, tenant) = (charger.id.to_string(), charger.tenant.to_string());
        let events = encode_events(events)?;
        let seq = self.seq();
        self.write(move |txn| {
            let mut t = txn
                .open_table(CHARGERS)
                .map_err(|e| unavailable("chargers", e))?;
            let current = t
                .get(id.as_str())
                .map_err(|e| unavailable("chargers", e))?
                .map(|g| g.value().0);
            let version = check(expected, current)?;
            t.insert(id.as_str(), (version, json.as_slice()))
                .map_err(|e| unavailable("chargers", e))?;
            drop(t);
            if current.is_none() {
                let mut idx = txn
                    .open_table(CHARGERS_BY_TENANT)
                    .map_err(|e| unavailable("chargers", e))?;
                idx.insert((tenant.as_str(), id.as_str()), ())
                    .map_err(|e| unavailable("chargers", e))?;
            }
            append_outbox(txn, &seq, &events)?;
            Ok(version)
        })
        .await
    }

    async fn list(
        &self,
        tenant: &TenantId,
        page: &PageRequest,
    ) -> Result<Page<Charger>, StoreError> {
        let after: Option<String> = page.cursor.as_deref().map(cursor::decode).transpose()?;
        self.read(|txn| {
            let idx = txn
                .open_table(CHARGERS_BY_TENANT)
                .map_err(|e| unavailable("chargers", e))?;
            let chargers = txn
                .open_table(CHARGERS)
                .map_err(|e| unavailable("chargers", e))?;
            let t = tenant.as_str();
            let start = match &after {
                Some(a) => Bound::Excluded((t, a.as_str())),
                None => Bound::Included((t, "")),
            };
            let mut items = Vec::new();
            let range = idx
                .range::<(&str, &str)>((start, Bound::Unbounded))
                .map_err(|e| unavailable("chargers", e))?;
            for entry in range {
                let (k, _) = entry.map_err(|e| unavailable("chargers", e))?;
                let (kt, id) = k.value();
                if kt != t || items.len() >= page.limit {
                    break;
                }
                if let Some(c) = read_versioned::<&str, Charger>(&chargers, id, id)? {
                    items.push(c.value);
                }
            }
            let next =
                cursor::next_if_full(&items, page.limit, items.last().map(|c| c.id.to_string()));
            Ok(Page { items, next })
        })
    }
}
