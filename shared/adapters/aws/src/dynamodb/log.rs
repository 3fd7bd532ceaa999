//! The charger log and refused connection attempts on DynamoDB, both expiring by TTL.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{Duration, Utc};
use cpms_domain::log::{ConnectionAttempt, LogEntry};
use cpms_domain::{ChargerId, TenantId};
use cpms_ports::{AttemptStore, LogStore, Page, PageRequest, StoreError};

use super::{DynamoStore, Query, decode_cursor, encode_cursor, keys, record_item, ttl};

/// Log entries are kept 90 days, refused attempts 30.
const LOG_DAYS: i64 = 90;
const ATTEMPT_DAYS: i64 = 30;

fn values<T: serde::de::DeserializeOwned>(items: &[super::Item]) -> Result<Vec<T>, StoreError> {
    items
        .iter()
        .map(|i| {
            let json = super::s(i, "d").unwrap_or_default();
            serde_json::from_str(&json).map_err(|e| StoreError::Corrupt {
                key: format!("{:?}", super::key_of(i)),
                reason: e.to_string(),
            })
        })
        .collect()
}

#[async_trait]
impl LogStore for DynamoStore {
    async fn append(&self, e: &LogEntry) -> Result<(), StoreError> {
        let key = (keys::log_of(&e.tenant, &e.charger_id), keys::seq(e.at));
        let mut item = record_item(key, vec![], e)?;
        item.insert("ttl".into(), ttl(e.at, LOG_DAYS * 86_400));
        self.put(item).await
    }

    async fn list(
        &self,
        tenant: &TenantId,
        charger: &ChargerId,
        page: &PageRequest,
    ) -> Result<Page<LogEntry>, StoreError> {
        let pk = keys::log_of(tenant, charger);
        let start = page
            .cursor
            .as_deref()
            .map(|c| decode_cursor(c, "pk", &pk))
            .transpose()?;
        let q = Query {
            index: None,
            pk: &pk,
            sk_prefix: None,
            ascending: false,
            limit: page.limit,
            start,
        };
        let (items, last) = self.query(q).await?;
        Ok(Page {
            items: values(&items)?,
            next: last.as_ref().map(encode_cursor),
        })
    }
}

#[async_trait]
impl AttemptStore for DynamoStore {
    async fn record(&self, a: &ConnectionAttempt) -> Result<(), StoreError> {
        let key = (keys::attempts_on(a.at.date_naive()), keys::seq(a.at));
        let mut item = record_item(key, vec![], a)?;
        item.insert("ttl".into(), ttl(a.at, ATTEMPT_DAYS * 86_400));
        self.put(item).await
    }

    async fn list(&self, page: &PageRequest) -> Result<Page<ConnectionAttempt>, StoreError> {
        // Day partitions, newest first; the cursor names the day and where in it the page ended.
        let today = Utc::now().date_naive();
        let (mut day, mut start) = match page.cursor.as_deref() {
            Some(c) => {
                let key = super::decode_cursor_any(c)?;
                let pk = super::s(&key, "pk").ok_or(StoreError::BadCursor)?;
                let d = pk
                    .strip_prefix("AT#")
                    .and_then(|d| chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
                    .ok_or(StoreError::BadCursor)?;
                (d, Some(key))
            }
            None => (today, None),
        };
        let mut items = Vec::new();
        let oldest = today - Duration::days(ATTEMPT_DAYS);
        let mut next = None;
        while day >= oldest && items.len() < page.limit {
            let pk = keys::attempts_on(day);
            let q = Query {
                index: None,
                pk: &pk,
                sk_prefix: None,
                ascending: false,
                limit: page.limit - items.len(),
                start: start.take(),
            };
            let (found, last) = self.query(q).await?;
            items.extend(values::<ConnectionAttempt>(&found)?);
            match last {
                Some(l) => {
                    next = Some(encode_cursor(&l));
                    start = Some(l);
                    if items.len() >= page.limit {
                        break;
                    }
                }
                None => {
                    day -= Duration::days(1);
                    next = (items.len() >= page.limit && day >= oldest).then(|| {
                        encode_cursor(&super::Item::from([
                            ("pk".to_string(), AttributeValue::S(keys::attempts_on(day))),
                            ("sk".to_string(), AttributeValue::S("~".into())),
                        ]))
                    });
                }
            }
        }
        Ok(Page { items, next })
    }
}
