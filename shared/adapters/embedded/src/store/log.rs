//! The charger log and refused connection attempts in the embedded store.

use std::ops::Bound;

use async_trait::async_trait;
use cpms_domain::log::{ConnectionAttempt, LogEntry};
use cpms_domain::{ChargerId, TenantId};
use cpms_ports::{AttemptStore, LogStore, Page, PageRequest, StoreError};

use redb::ReadableTableMetadata;

use super::{ATTEMPTS, EmbeddedStore, LOG, cursor, from_json, to_json, unavailable};

/// How many refused attempts are kept.
const KEEP_ATTEMPTS: u64 = 10_000;

fn e(err: impl std::fmt::Display) -> StoreError {
    unavailable("log", err)
}

#[async_trait]
impl LogStore for EmbeddedStore {
    async fn append(&self, entry: &LogEntry) -> Result<(), StoreError> {
        let json = to_json(entry)?;
        let (tenant, charger) = (entry.tenant.to_string(), entry.charger_id.to_string());
        let seqs = self.seq();
        self.write(move |txn| {
            let seq = seqs.next();
            let mut t = txn.open_table(LOG).map_err(e)?;
            t.insert((tenant.as_str(), charger.as_str(), seq), json.as_slice())
                .map_err(e)?;
            Ok(())
        })
        .await
    }

    async fn list(
        &self,
        tenant: &TenantId,
        charger: &ChargerId,
        page: &PageRequest,
    ) -> Result<Page<LogEntry>, StoreError> {
        let before: Option<u64> = page.cursor.as_deref().map(cursor::decode).transpose()?;
        self.read(|txn| {
            let t = txn.open_table(LOG).map_err(e)?;
            let (ten, cp) = (tenant.as_str(), charger.as_str());
            let end = match before {
                Some(s) => Bound::Excluded((ten, cp, s)),
                None => Bound::Included((ten, cp, u64::MAX)),
            };
            let mut items = Vec::new();
            let mut last = None;
            for entry in t
                .range::<(&str, &str, u64)>((Bound::Included((ten, cp, 0)), end))
                .map_err(e)?
                .rev()
            {
                if items.len() >= page.limit {
                    break;
                }
                let (k, v) = entry.map_err(e)?;
                items.push(from_json::<LogEntry>(cp, v.value())?);
                last = Some(k.value().2);
            }
            let next = cursor::next_if_full(&items, page.limit, last);
            Ok(Page { items, next })
        })
    }
}

#[async_trait]
impl AttemptStore for EmbeddedStore {
    async fn record(&self, attempt: &ConnectionAttempt) -> Result<(), StoreError> {
        let json = to_json(attempt)?;
        let seqs = self.seq();
        self.write(move |txn| {
            let mut t = txn.open_table(ATTEMPTS).map_err(e)?;
            t.insert(seqs.next(), json.as_slice()).map_err(e)?;
            while t.len().map_err(e)? > KEEP_ATTEMPTS {
                t.pop_first().map_err(e)?;
            }
            Ok(())
        })
        .await
    }

    async fn list(&self, page: &PageRequest) -> Result<Page<ConnectionAttempt>, StoreError> {
        let before: Option<u64> = page.cursor.as_deref().map(cursor::decode).transpose()?;
        self.read(|txn| {
            let t = txn.open_table(ATTEMPTS).map_err(e)?;
            let mut items = Vec::new();
            let mut last = None;
            for entry in t.range(..before.unwrap_or(u64::MAX)).map_err(e)?.rev() {
                if items.len() >= page.limit {
                    break;
                }
                let (k, v) = entry.map_err(e)?;
                items.push(from_json::<ConnectionAttempt>("attempt", v.value())?);
                last = Some(k.value());
            }
            let next = cursor::next_if_full(&items, page.limit, last);
            Ok(Page { items, next })
        })
    }
}
