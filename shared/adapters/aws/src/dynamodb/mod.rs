//! The DynamoDB adapter: every store port and the connection registry on one table (layout in
//! [`keys`]). Writes are conditional on the version read (`v`); a failed condition is a
//! [`StoreError::Conflict`], not an error. Throttling is retried by the SDK with exponential backoff
//! (see [`crate::config`]); what still fails is [`StoreError::Unavailable`], which callers may retry.
//!
//! Domain events are not written here: the table's stream carries every change, and the relay
//! ([`crate::relay`]) derives the events from the old and new images with the same domain functions the
//! embedded store's outbox uses. The `events` the ports pass along are therefore not needed.

pub mod body;
mod chargers;
pub(crate) mod documents;
pub mod keys;
mod log;
pub mod meter;
mod registry;
mod sessions;
pub mod table;
mod tokens;

use std::collections::HashMap;
use std::sync::Arc;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes, Select};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use cpms_ports::{Expected, StoreError, Versioned};
use serde::Serialize;
use serde::de::DeserializeOwned;

pub use meter::{Meter, Units};

/// An item.
pub(crate) type Item = HashMap<String, AttributeValue>;

/// Every store port on one DynamoDB table. Cheap to clone.
#[derive(Clone)]
pub struct DynamoStore {
    client: Client,
    table: Arc<str>,
    meter: Arc<Meter>,
}

impl DynamoStore {
    /// The store on `table`.
    pub fn new(client: Client, table: &str) -> Self {
        DynamoStore {
            client,
            table: table.into(),
            meter: Arc::new(Meter::default()),
        }
    }

    /// The capacity consumed through this store (and its clones).
    pub fn meter(&self) -> Arc<Meter> {
        self.meter.clone()
    }

    /// The table name.
    pub fn table(&self) -> &str {
        &self.table
    }

    /// Reads an item (strongly consistent: a charger's next message must see its last write).
    pub(crate) async fn get(&self, key: (String, String)) -> Result<Option<Item>, StoreError> {
        self.get_read(key, true).await
    }

    /// GetItem, strongly consistent or not (half the read units; may miss a write of the last second).
    pub(crate) async fn get_read(
        &self,
        key: (String, String),
        consistent: bool,
    ) -> Result<Option<Item>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&*self.table)
            .key("pk", AttributeValue::S(key.0))
            .key("sk", AttributeValue::S(key.1))
            .consistent_read(consistent)
            .send()
            .await
            .map_err(unavailable)?;
        let size = out.item.as_ref().map_or(0, meter::item_size);
        self.meter.read(size, consistent);
        Ok(out.item)
    }

    /// Writes an item whose `v` is set from `expected`; returns the new version.
    pub(crate) async fn put_versioned(
        &self,
        mut item: Item,
        expected: Expected,
    ) -> Result<u64, StoreError> {
        let (version, condition, value) = match expected {
            Expected::Absent => (1, "attribute_not_exists(pk)", None),
            Expected::Version(v) => (v + 1, "v = :v", Some(v)),
        };
        item.insert("v".into(), AttributeValue::N(version.to_string()));
        let size = meter::item_size(&item);
        let mut req = self
            .client
            .put_item()
            .table_name(&*self.table)
            .set_item(Some(item))
            .condition_expression(condition);
        if let Some(v) = value {
            req = req.expression_attribute_values(":v", AttributeValue::N(v.to_string()));
        }
        let r = req.send().await;
        self.meter.write(size);
        match r {
            Ok(_) => Ok(version),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
            {
                Err(StoreError::Conflict)
            }
            Err(e) => Err(unavailable(e)),
        }
    }

    /// Writes an item without a condition (an item whose key is its content: writing it again
    /// changes nothing).
    pub(crate) async fn put_unconditional(&self, item: Item) -> Result<(), StoreError> {
        let size = meter::item_size(&item);
        let r = self
            .client
            .put_item()
            .table_name(&*self.table)
            .set_item(Some(item))
            .send()
            .await;
        self.meter.write(size);
        r.map(|_| ()).map_err(unavailable)
    }

    /// Writes an item unconditionally (append-only records).
    pub(crate) async fn put(&self, item: Item) -> Result<(), StoreError> {
        let size = meter::item_size(&item);
        self.client
            .put_item()
            .table_name(&*self.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(unavailable)?;
        self.meter.write(size);
        Ok(())
    }

    /// Deletes an item; returns it.
    pub(crate) async fn delete(&self, key: (String, String)) -> Result<Option<Item>, StoreError> {
        let out = self
            .client
            .delete_item()
            .table_name(&*self.table)
            .key("pk", AttributeValue::S(key.0))
            .key("sk", AttributeValue::S(key.1))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllOld)
            .send()
            .await
            .map_err(unavailable)?;
        self.meter
            .write(out.attributes.as_ref().map_or(0, meter::item_size));
        Ok(out.attributes)
    }

    /// One page of a query: the items (or, on an index, the keys) and where the page ended.
    pub(crate) async fn query(
        &self,
        q: Query<'_>,
    ) -> Result<(Vec<Item>, Option<Item>), StoreError> {
        let (pk_attr, sk_attr) = match q.index {
            Some(i) => (format!("{i}pk"), format!("{i}sk")),
            None => ("pk".to_string(), "sk".to_string()),
        };
        let mut req = self
            .client
            .query()
            .table_name(&*self.table)
            .set_index_name(q.index.map(index_name))
            .key_condition_expression(match q.sk_prefix {
                Some(_) => "#p = :p AND begins_with(#s, :s)",
                None => "#p = :p",
            })
            .expression_attribute_names("#p", &pk_attr)
            .expression_attribute_values(":p", AttributeValue::S(q.pk.to_string()))
            .scan_index_forward(q.ascending)
            .limit(q.limit.clamp(1, 1000) as i32)
            .set_exclusive_start_key(q.start)
            .consistent_read(q.index.is_none());
        if let Some(prefix) = q.sk_prefix {
            req = req
                .expression_attribute_names("#s", &sk_attr)
                .expression_attribute_values(":s", AttributeValue::S(prefix.to_string()));
        }
        if q.index.is_some() {
            req = req.select(Select::AllProjectedAttributes);
        }
        let out = req.send().await.map_err(|e| match e.as_service_error() {
            Some(s) if s.meta().code() == Some("ValidationException") => StoreError::BadCursor,
            _ => unavailable(e),
        })?;
        let items = out.items.unwrap_or_default();
        let size: usize = items.iter().map(meter::item_size).sum();
        self.meter.read(size, q.index.is_none());
        Ok((items, out.last_evaluated_key))
    }

    /// One page of the records listed under `g1pk` in index `gsi1` (a tenant's chargers or tokens).
    pub(crate) async fn list_g1<T: DeserializeOwned>(
        &self,
        g1pk: &str,
        page: &cpms_ports::PageRequest,
    ) -> Result<cpms_ports::Page<T>, StoreError> {
        let start = page
            .cursor
            .as_deref()
            .map(|c| decode_cursor(c, "g1pk", g1pk))
            .transpose()?;
        let q = Query {
            index: Some("g1"),
            pk: g1pk,
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
            .collect::<Result<Vec<T>, _>>()?;
        Ok(cpms_ports::Page {
            items,
            next: last.as_ref().map(encode_cursor),
        })
    }

    /// Reads the items of `keys`, in the order of `keys` (missing ones are skipped).
    pub(crate) async fn batch_get(
        &self,
        keys: &[(String, String)],
    ) -> Result<Vec<Item>, StoreError> {
        let mut found: HashMap<(String, String), Item> = HashMap::new();
        for chunk in keys.chunks(100) {
            let mut pending: Vec<Item> = chunk
                .iter()
                .map(|(pk, sk)| {
                    HashMap::from([
                        ("pk".to_string(), AttributeValue::S(pk.clone())),
                        ("sk".to_string(), AttributeValue::S(sk.clone())),
                    ])
                })
                .collect();
            for attempt in 0..8 {
                if pending.is_empty() {
                    break;
                }
                if attempt > 0 {
                    tokio::time::sleep(std::time::Duration::from_millis(25 << attempt)).await;
                }
                let ka = KeysAndAttributes::builder()
                    .set_keys(Some(pending))
                    .consistent_read(true)
                    .build()
                    .map_err(|e| StoreError::Unavailable(e.to_string()))?;
                let out = self
                    .client
                    .batch_get_item()
                    .request_items(&*self.table, ka)
                    .send()
                    .await
                    .map_err(unavailable)?;
                let items = out
                    .responses
                    .and_then(|mut r| r.remove(&*self.table))
                    .unwrap_or_default();
                self.meter
                    .read(items.iter().map(meter::item_size).sum(), true);
                for item in items {
                    found.insert(key_of(&item), item);
                }
                pending = out
                    .unprocessed_keys
                    .and_then(|mut u| u.remove(&*self.table))
                    .map(|k| k.keys)
                    .unwrap_or_default();
            }
            if !pending.is_empty() {
                return Err(StoreError::Unavailable("batch read throttled".into()));
            }
        }
        Ok(keys.iter().filter_map(|k| found.remove(k)).collect())
    }
}

/// The index whose key attributes are `{prefix}pk` / `{prefix}sk` (`g1` -> `gsi1`).
pub(crate) fn index_name(prefix: &str) -> String {
    format!("gsi{}", prefix.trim_start_matches('g'))
}

/// A query.
pub(crate) struct Query<'a> {
    /// Key attribute prefix of the index (`g1`, `g2`, `g3`: indexes `gsi1`..`gsi3`), or `None` for the table.
    pub index: Option<&'static str>,
    /// Partition key value.
    pub pk: &'a str,
    /// Sort key prefix.
    pub sk_prefix: Option<&'a str>,
    /// Ascending sort key order.
    pub ascending: bool,
    /// Most items.
    pub limit: usize,
    /// Where to start.
    pub start: Option<Item>,
}

/// `pk` and `sk` of an item.
pub(crate) fn key_of(item: &Item) -> (String, String) {
    (
        s(item, "pk").unwrap_or_default(),
        s(item, "sk").unwrap_or_default(),
    )
}

/// A string attribute.
pub(crate) fn s(item: &Item, name: &str) -> Option<String> {
    match item.get(name) {
        Some(AttributeValue::S(v)) => Some(v.clone()),
        _ => None,
    }
}

/// An item holding a record: keys, extra attributes and the record as JSON (see [`body`]).
pub(crate) fn record_item<T: Serialize>(
    key: (String, String),
    extra: Vec<(&'static str, String)>,
    record: &T,
) -> Result<Item, StoreError> {
    let json = serde_json::to_string(record).map_err(|e| StoreError::Unavailable(e.to_string()))?;
    let mut item = HashMap::from([
        ("pk".to_string(), AttributeValue::S(key.0)),
        ("sk".to_string(), AttributeValue::S(key.1)),
        body::attribute(json),
    ]);
    for (k, v) in extra {
        item.insert(k.to_string(), AttributeValue::S(v));
    }
    Ok(item)
}

/// The record of an item.
pub(crate) fn record<T: DeserializeOwned>(item: &Item) -> Result<Versioned<T>, StoreError> {
    let key = key_of(item);
    let corrupt = |reason: String| StoreError::Corrupt {
        key: format!("{}/{}", key.0, key.1),
        reason,
    };
    let json = body::json(item)
        .ok_or_else(|| corrupt("no body attribute".into()))?
        .map_err(corrupt)?;
    let version = match item.get("v") {
        Some(AttributeValue::N(n)) => n.parse().map_err(|_| corrupt(format!("version {n}")))?,
        _ => 0,
    };
    let value = serde_json::from_str(&json).map_err(|e| corrupt(e.to_string()))?;
    Ok(Versioned { value, version })
}

/// A TTL attribute `days` from `at`.
pub(crate) fn ttl(at: chrono::DateTime<chrono::Utc>, seconds: i64) -> AttributeValue {
    AttributeValue::N((at.timestamp() + seconds).to_string())
}

/// Encodes where a page ended (string attributes only).
pub(crate) fn encode_cursor(key: &Item) -> String {
    let m: HashMap<&str, &str> = key
        .iter()
        .filter_map(|(k, v)| v.as_s().ok().map(|s| (k.as_str(), s.as_str())))
        .collect();
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(&m).unwrap_or_default())
}

/// Decodes a cursor, refusing one that does not continue the partition `expect` of `attr`.
pub(crate) fn decode_cursor(cursor: &str, attr: &str, expect: &str) -> Result<Item, StoreError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(cursor)
        .map_err(|_| StoreError::BadCursor)?;
    let m: HashMap<String, String> =
        serde_json::from_slice(&bytes).map_err(|_| StoreError::BadCursor)?;
    if m.get(attr).map(String::as_str) != Some(expect) {
        return Err(StoreError::BadCursor);
    }
    Ok(m.into_iter()
        .map(|(k, v)| (k, AttributeValue::S(v)))
        .collect())
}

/// Decodes a cursor of a query spanning several partitions (the caller checks what it names).
pub(crate) fn decode_cursor_any(cursor: &str) -> Result<Item, StoreError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(cursor)
        .map_err(|_| StoreError::BadCursor)?;
    let m: HashMap<String, String> =
        serde_json::from_slice(&bytes).map_err(|_| StoreError::BadCursor)?;
    Ok(m.into_iter()
        .map(|(k, v)| (k, AttributeValue::S(v)))
        .collect())
}

/// A failed request as a retryable storage error (throttling has already been retried by the SDK).
pub(crate) fn unavailable<E, R>(e: SdkError<E, R>) -> StoreError
where
    E: std::error::Error + std::fmt::Debug + 'static,
    R: std::fmt::Debug + 'static,
{
    let detail = match &e {
        SdkError::ServiceError(s) => format!("{}", s.err()),
        // What failed and why, one line (the debug form is a dump of the whole response).
        other => crate::describe(other),
    };
    StoreError::Unavailable(format!("dynamodb: {detail}"))
}
