//! Documents on DynamoDB: item `T#{tenant}#D#{kind}` / `{id}`; index slot 0 and 1 in `gsi1`/`gsi2` under
//! `T#{tenant}#D#{kind}#{slot}#{partition}` / `{sort}` (absent when the document is not listed there, so a
//! rewrite without the key drops it from the index). A batch is one TransactWriteItems.

use async_trait::async_trait;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, Put, Select, TransactWriteItem};
use cpms_domain::TenantId;
use cpms_ports::{
    Doc, DocQuery, DocWrite, DocumentStore, Expected, INDEX_SLOTS, IndexKey, Listing, Page,
    StoreError, Versioned,
};

use super::{DynamoStore, Item, decode_cursor, encode_cursor, key_of, meter, s, unavailable};

/// Partition of a tenant's documents of one kind.
pub(crate) fn docs_of(tenant: &TenantId, kind: &str) -> String {
    format!("T#{tenant}#D#{kind}")
}

fn index_partition(tenant: &TenantId, kind: &str, slot: usize, partition: &str) -> String {
    format!("T#{tenant}#D#{kind}#{slot}#{partition}")
}

/// The attribute holding the events a document write implies; the stream relay publishes them.
pub const EVENTS_ATTR: &str = "ev";

fn item_of(d: &Doc, version: u64) -> Item {
    let mut item = Item::from([
        ("pk".into(), AttributeValue::S(docs_of(&d.tenant, d.kind))),
        ("sk".into(), AttributeValue::S(d.id.clone())),
        ("d".into(), AttributeValue::S(d.body.clone())),
        ("v".into(), AttributeValue::N(version.to_string())),
    ]);
    for (slot, k) in d.index.iter().enumerate() {
        if let Some(k) = k {
            let g = slot + 1;
            item.insert(
                format!("g{g}pk"),
                AttributeValue::S(index_partition(&d.tenant, d.kind, slot, &k.partition)),
            );
            item.insert(format!("g{g}sk"), AttributeValue::S(k.sort.clone()));
        }
    }
    if let Some(at) = d.expires_at {
        item.insert("ttl".into(), AttributeValue::N(at.timestamp().to_string()));
    }
    item
}

fn doc_of(
    tenant: &TenantId,
    kind: &'static str,
    item: &Item,
) -> Result<Versioned<Doc>, StoreError> {
    let (pk, sk) = key_of(item);
    let corrupt = |reason: &str| StoreError::Corrupt {
        key: format!("{pk}/{sk}"),
        reason: reason.into(),
    };
    let body = s(item, "d").ok_or_else(|| corrupt("no d attribute"))?;
    let version = match item.get("v") {
        Some(AttributeValue::N(n)) => n.parse().map_err(|_| corrupt("bad version"))?,
        _ => return Err(corrupt("no version")),
    };
    let prefix = |slot: usize| format!("T#{tenant}#D#{kind}#{slot}#");
    let mut index: [Option<IndexKey>; INDEX_SLOTS] = [None, None];
    for (slot, entry) in index.iter_mut().enumerate() {
        let g = slot + 1;
        if let (Some(p), Some(sort)) = (s(item, &format!("g{g}pk")), s(item, &format!("g{g}sk"))) {
            *entry = p.strip_prefix(&prefix(slot)).map(|partition| IndexKey {
                partition: partition.to_string(),
                sort,
            });
        }
    }
    let expires_at = match item.get("ttl") {
        Some(AttributeValue::N(n)) => n
            .parse::<i64>()
            .ok()
            .and_then(|t| chrono::DateTime::from_timestamp(t, 0)),
        _ => None,
    };
    Ok(Versioned {
        value: Doc {
            tenant: tenant.clone(),
            kind,
            id: sk,
            body,
            index,
            expires_at,
        },
        version,
    })
}

fn next_version(expected: Expected) -> u64 {
    match expected {
        Expected::Absent => 1,
        Expected::Version(v) => v + 1,
    }
}

#[async_trait]
impl DocumentStore for DynamoStore {
    async fn get(
        &self,
        tenant: &TenantId,
        kind: &'static str,
        id: &str,
    ) -> Result<Option<Versioned<Doc>>, StoreError> {
        let item = DynamoStore::get(self, (docs_of(tenant, kind), id.to_string())).await?;
        item.as_ref().map(|i| doc_of(tenant, kind, i)).transpose()
    }

    async fn delete(
        &self,
        tenant: &TenantId,
        kind: &'static str,
        id: &str,
    ) -> Result<bool, StoreError> {
        let old = DynamoStore::delete(self, (docs_of(tenant, kind), id.to_string())).await?;
        Ok(old.is_some())
    }

    async fn delete_if(
        &self,
        tenant: &TenantId,
        kind: &'static str,
        id: &str,
        version: u64,
    ) -> Result<bool, StoreError> {
        let out = self
            .client
            .delete_item()
            .table_name(&*self.table)
            .key("pk", AttributeValue::S(docs_of(tenant, kind)))
            .key("sk", AttributeValue::S(id.to_string()))
            .condition_expression("attribute_not_exists(pk) OR v = :v")
            .expression_attribute_values(":v", AttributeValue::N(version.to_string()))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllOld)
            .send()
            .await;
        match out {
            Ok(o) => {
                self.meter
                    .write(o.attributes.as_ref().map_or(0, super::meter::item_size));
                Ok(o.attributes.is_some())
            }
            Err(err) => {
                if err
                    .as_service_error()
                    .is_some_and(|s| s.is_conditional_check_failed_exception())
                {
                    self.meter.write(0);
                    Err(StoreError::Conflict)
                } else {
                    Err(super::unavailable(err))
                }
            }
        }
    }

    async fn write(&self, writes: &[DocWrite]) -> Result<Vec<u64>, StoreError> {
        let versions: Vec<u64> = writes.iter().map(|w| next_version(w.expected)).collect();
        let with_events = |w: &DocWrite, version: u64| -> Result<Item, StoreError> {
            let mut item = item_of(&w.doc, version);
            if !w.events.is_empty() {
                let json = serde_json::to_string(&w.events)
                    .map_err(|e| StoreError::Unavailable(format!("encoding events: {e}")))?;
                item.insert(EVENTS_ATTR.into(), AttributeValue::S(json));
            }
            Ok(item)
        };
        if let [w] = writes {
            let mut item = with_events(w, versions[0])?;
            item.remove("v");
            return self.put_versioned(item, w.expected).await.map(|v| vec![v]);
        }
        let build = |e: aws_sdk_dynamodb::error::BuildError| StoreError::Unavailable(e.to_string());
        let mut req = self.client.transact_write_items();
        let mut sizes = Vec::with_capacity(writes.len());
        for (w, version) in writes.iter().zip(&versions) {
            let item = with_events(w, *version)?;
            sizes.push(meter::item_size(&item));
            let mut put = Put::builder().table_name(&*self.table).set_item(Some(item));
            put = match w.expected {
                Expected::Absent => put.condition_expression("attribute_not_exists(pk)"),
                Expected::Version(v) => put
                    .condition_expression("v = :v")
                    .expression_attribute_values(":v", AttributeValue::N(v.to_string())),
            };
            req = req.transact_items(
                TransactWriteItem::builder()
                    .put(put.build().map_err(build)?)
                    .build(),
            );
        }
        let r = req.send().await;
        self.meter.transaction(&sizes);
        match r {
            Ok(_) => Ok(versions),
            Err(e) => match e.as_service_error() {
                Some(TransactWriteItemsError::TransactionCanceledException(t))
                    if t.cancellation_reasons()
                        .iter()
                        .any(|r| r.code() == Some("ConditionalCheckFailed")) =>
                {
                    Err(StoreError::Conflict)
                }
                _ => Err(unavailable(e)),
            },
        }
    }

    async fn query(
        &self,
        tenant: &TenantId,
        q: &DocQuery,
    ) -> Result<Page<Versioned<Doc>>, StoreError> {
        let (index, pk_attr, sk_attr, pk) = match &q.listing {
            Listing::ById => (
                None,
                "pk".to_string(),
                "sk".to_string(),
                docs_of(tenant, q.kind),
            ),
            Listing::Index { slot, partition } => {
                if *slot >= INDEX_SLOTS {
                    return Err(StoreError::Unavailable(format!("no index slot {slot}")));
                }
                let g = slot + 1;
                (
                    Some(format!("gsi{g}")),
                    format!("g{g}pk"),
                    format!("g{g}sk"),
                    index_partition(tenant, q.kind, *slot, partition),
                )
            }
        };
        let start = q
            .page
            .cursor
            .as_deref()
            .map(|c| decode_cursor(c, &pk_attr, &pk))
            .transpose()?;
        // One sort-key condition is allowed: BETWEEN is inclusive, so the `to` key itself is dropped below.
        let condition = match (&q.from, &q.to) {
            (Some(_), Some(_)) => "#p = :p AND #s BETWEEN :a AND :b",
            (Some(_), None) => "#p = :p AND #s >= :a",
            (None, Some(_)) => "#p = :p AND #s < :b",
            (None, None) => "#p = :p",
        };
        let mut req = self
            .client
            .query()
            .table_name(&*self.table)
            .set_index_name(index.clone())
            .key_condition_expression(condition)
            .expression_attribute_names("#p", &pk_attr)
            .expression_attribute_values(":p", AttributeValue::S(pk.clone()))
            .scan_index_forward(!q.descending)
            .limit(q.page.limit.clamp(1, 1000) as i32)
            .set_exclusive_start_key(start)
            .consistent_read(index.is_none());
        if q.from.is_some() || q.to.is_some() {
            req = req.expression_attribute_names("#s", &sk_attr);
        }
        if let Some(a) = &q.from {
            req = req.expression_attribute_values(":a", AttributeValue::S(a.clone()));
        }
        if let Some(b) = &q.to {
            req = req.expression_attribute_values(":b", AttributeValue::S(b.clone()));
        }
        if index.is_some() {
            req = req.select(Select::AllProjectedAttributes);
        }
        let out = req.send().await.map_err(|e| match e.as_service_error() {
            Some(s) if s.meta().code() == Some("ValidationException") => StoreError::BadCursor,
            _ => unavailable(e),
        })?;
        let mut found = out.items.unwrap_or_default();
        self.meter
            .read(found.iter().map(meter::item_size).sum(), index.is_none());
        if let Some(to) = &q.to {
            found.retain(|i| s(i, &sk_attr).as_deref() != Some(to.as_str()));
        }
        let items = if index.is_some() {
            let keys: Vec<_> = found.iter().map(key_of).collect();
            self.batch_get(&keys).await?
        } else {
            found
        };
        let items = items
            .iter()
            .map(|i| doc_of(tenant, q.kind, i))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Page {
            items,
            next: out.last_evaluated_key.as_ref().map(encode_cursor),
        })
    }
}
