//! Sessions and their samples on DynamoDB. A session write is one conditional PutItem of the session;
//! when the message brought samples, they go first into their own item, keyed by the session, the first
//! sample's time and a hash of their content. Writing that item again (a retry, a resent message)
//! changes nothing, so the two need no transaction (which bills every item twice): a MeterValues is
//! 1 unit for its samples and 1 for the session (kept under 1 KiB: its size is billed on every message).
//! If the session write then fails, the samples item stays; the charger, unanswered, sends the message
//! again and the same item is written again. Only a retry that takes a different subset of the samples
//! (a concurrent write to the same session took some of them) leaves readings stored twice: the same
//! reading twice adds nothing to energy or time in pricing.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;
use cpms_domain::meter::MeterSample;
use cpms_domain::session::Session;
use cpms_domain::{ChargerId, SessionId, TenantId};
use cpms_ports::{
    Page, PageRequest, SessionFilter, SessionStore, SessionWrite, StoreError, Versioned,
};
use serde::{Deserialize, Serialize};

use super::{
    DynamoStore, Item, Query, decode_cursor, encode_cursor, key_of, keys, record, record_item,
};

/// Pages read at most to fill one filtered page.
const MAX_ROUNDS: usize = 20;

/// FNV-1a: a stable content hash for sample item keys (collisions only need to be rare within a session).
fn fnv(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

fn samples_key(
    tenant: &TenantId,
    id: &SessionId,
    samples: &[MeterSample],
    json: &str,
) -> (String, String) {
    let first = samples
        .iter()
        .map(|s| s.timestamp.timestamp_millis().max(0))
        .min()
        .unwrap_or(0);
    (
        keys::samples_of(tenant, id),
        format!("M#{first:013}#{:016x}", fnv(json.as_bytes())),
    )
}

#[derive(Serialize, Deserialize)]
struct SampleCursor {
    sk: String,
    index: usize,
}

#[async_trait]
impl SessionStore for DynamoStore {
    async fn get(
        &self,
        tenant: &TenantId,
        id: &SessionId,
    ) -> Result<Option<Versioned<Session>>, StoreError> {
        self.get(keys::session(tenant, id))
            .await?
            .as_ref()
            .map(record)
            .transpose()
    }

    async fn put(&self, w: SessionWrite<'_>) -> Result<u64, StoreError> {
        let s = w.session;
        let item = record_item(keys::session(&s.tenant, &s.id), keys::session_indexes(s), s)?;
        if w.new_samples.is_empty() {
            return self.put_versioned(item, w.expected).await;
        }
        let json = serde_json::to_string(w.new_samples)
            .map_err(|e| StoreError::Unavailable(e.to_string()))?;
        let key = samples_key(&s.tenant, &s.id, w.new_samples, &json);
        let samples = Item::from([
            ("pk".to_string(), AttributeValue::S(key.0)),
            ("sk".to_string(), AttributeValue::S(key.1)),
            super::body::attribute(json),
        ]);
        self.put_unconditional(samples).await?;
        self.put_versioned(item, w.expected).await
    }

    async fn list(
        &self,
        tenant: &TenantId,
        filter: &SessionFilter,
        page: &PageRequest,
    ) -> Result<Page<Session>, StoreError> {
        let (index, pk) = match &filter.charger {
            Some(cp) => ("g3", keys::sessions_of_charger(tenant, cp)),
            None => ("g1", keys::sessions_of(tenant)),
        };
        let mut start = page
            .cursor
            .as_deref()
            .map(|c| decode_cursor(c, &format!("{index}pk"), &pk))
            .transpose()?;
        let mut items = Vec::new();
        let mut next = None;
        for _ in 0..MAX_ROUNDS {
            let want = page.limit - items.len();
            let (found, last) = self
                .query(Query {
                    index: Some(index),
                    pk: &pk,
                    sk_prefix: None,
                    ascending: true,
                    limit: want,
                    start,
                })
                .await?;
            let got = self
                .batch_get(&found.iter().map(key_of).collect::<Vec<_>>())
                .await?;
            for item in &got {
                let s: Session = record(item)?.value;
                if filter.status.is_none_or(|st| st == s.status) {
                    items.push(s);
                }
            }
            next = last.as_ref().map(encode_cursor);
            match last {
                Some(l) if items.len() < page.limit => start = Some(l),
                _ => break,
            }
        }
        Ok(Page { items, next })
    }

    async fn active(
        &self,
        tenant: &TenantId,
        charger: &ChargerId,
    ) -> Result<Vec<Session>, StoreError> {
        let pk = keys::active_of_charger(tenant, charger);
        let mut keys_found = Vec::new();
        let mut start = None;
        loop {
            let q = Query {
                index: Some("g2"),
                pk: &pk,
                sk_prefix: None,
                ascending: true,
                limit: 1000,
                start,
            };
            let (found, last) = self.query(q).await?;
            keys_found.extend(found.iter().map(key_of));
            match last {
                Some(l) => start = Some(l),
                None => break,
            }
        }
        self.batch_get(&keys_found)
            .await?
            .iter()
            .map(|i| record(i).map(|v| v.value))
            .collect()
    }

    async fn samples(
        &self,
        tenant: &TenantId,
        id: &SessionId,
        page: &PageRequest,
    ) -> Result<Page<MeterSample>, StoreError> {
        let pk = keys::samples_of(tenant, id);
        let after: Option<SampleCursor> = match page.cursor.as_deref() {
            Some(c) => {
                let key = decode_cursor(c, "pk", &pk)?;
                let sk = super::s(&key, "sk").ok_or(StoreError::BadCursor)?;
                let index = super::s(&key, "i")
                    .and_then(|i| i.parse().ok())
                    .ok_or(StoreError::BadCursor)?;
                Some(SampleCursor { sk, index })
            }
            None => None,
        };
        let mut items = Vec::new();
        let mut last: Option<(String, usize)> = None;
        let mut start: Option<Item> = None;
        let mut from = after.as_ref().map(|a| a.sk.clone());
        'outer: loop {
            let mut req = self
                .client
                .query()
                .table_name(self.table())
                .key_condition_expression("pk = :p AND sk >= :from")
                .expression_attribute_values(":p", AttributeValue::S(pk.clone()))
                .expression_attribute_values(
                    ":from",
                    AttributeValue::S(from.take().unwrap_or_else(|| "M#".into())),
                )
                .consistent_read(true)
                .limit(page.limit.clamp(1, 1000) as i32)
                .set_exclusive_start_key(start.take());
            req = req.scan_index_forward(true);
            let out = req.send().await.map_err(super::unavailable)?;
            let batches = out.items.unwrap_or_default();
            self.meter
                .read(batches.iter().map(super::meter::item_size).sum(), true);
            for b in &batches {
                let sk = super::s(b, "sk").unwrap_or_default();
                let corrupt = |reason: String| StoreError::Corrupt {
                    key: format!("{pk}/{sk}"),
                    reason,
                };
                let json = super::body::json(b)
                    .unwrap_or_else(|| Ok("[]".into()))
                    .map_err(corrupt)?;
                let samples: Vec<MeterSample> =
                    serde_json::from_str(&json).map_err(|e| corrupt(e.to_string()))?;
                let skip = match &after {
                    Some(a) if a.sk == sk => a.index + 1,
                    _ => 0,
                };
                for (i, s) in samples.into_iter().enumerate().skip(skip) {
                    if items.len() >= page.limit {
                        break 'outer;
                    }
                    items.push(s);
                    last = Some((sk.clone(), i));
                }
            }
            match out.last_evaluated_key {
                Some(k) if items.len() < page.limit => start = Some(k),
                _ => break,
            }
        }
        let next = (items.len() >= page.limit)
            .then_some(last)
            .flatten()
            .map(|(sk, i)| {
                let key = Item::from([
                    ("pk".to_string(), AttributeValue::S(pk.clone())),
                    ("sk".to_string(), AttributeValue::S(sk)),
                    ("i".to_string(), AttributeValue::S(i.to_string())),
                ]);
                encode_cursor(&key)
            });
        Ok(Page { items, next })
    }
}
