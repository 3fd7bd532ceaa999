//! Documents in the embedded store: `docs` holds (tenant, kind, id) -> (version, stored document);
//! `doc_index` holds (tenant, kind, slot, partition, sort, id) -> () for each index entry, replaced in the
//! same transaction as the document.

use std::ops::Bound;

use async_trait::async_trait;
use cpms_domain::TenantId;
use cpms_ports::{
    Doc, DocQuery, DocWrite, DocumentStore, INDEX_SLOTS, IndexKey, Listing, Page, StoreError,
    Versioned,
};
use redb::{ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};

use super::{EmbeddedStore, check, cursor, unavailable};

pub(crate) const DOCS: TableDefinition<(&str, &str, &str), (u64, &[u8])> =
    TableDefinition::new("docs");
pub(crate) const DOC_INDEX: TableDefinition<(&str, &str, u8, &str, &str, &str), ()> =
    TableDefinition::new("doc_index");
/// (expires_at in ms, tenant, kind, id) -> (): documents with an expiry, soonest first (`purge_expired`).
pub(crate) const DOC_EXPIRY: TableDefinition<(i64, &str, &str, &str), ()> =
    TableDefinition::new("doc_expiry");

/// Above every key this store writes (keys are ASCII ids and sort keys).
const TOP: &str = "\u{10FFFF}";

/// What is stored per document besides its version.
#[derive(Serialize, Deserialize)]
struct Stored {
    body: String,
    #[serde(default)]
    index: Vec<Option<(String, String)>>,
    /// Expiry in ms since 1970.
    #[serde(default)]
    expires: Option<i64>,
}

/// Removes a document's index and expiry entries (`stored` is what was stored for it).
fn unlink(
    index: &mut redb::Table<(&str, &str, u8, &str, &str, &str), ()>,
    expiry: &mut redb::Table<(i64, &str, &str, &str), ()>,
    key: (&str, &str, &str),
    stored: Option<&Stored>,
) -> Result<(), StoreError> {
    let (tenant, kind, id) = key;
    let Some(stored) = stored else {
        return Ok(());
    };
    for (slot, entry) in stored.index.iter().enumerate() {
        if let Some((p, s)) = entry {
            index
                .remove((tenant, kind, slot as u8, p.as_str(), s.as_str(), id))
                .map_err(e)?;
        }
    }
    if let Some(at) = stored.expires {
        expiry.remove((at, tenant, kind, id)).map_err(e)?;
    }
    Ok(())
}

fn e(err: impl std::fmt::Display) -> StoreError {
    unavailable("docs", err)
}

/// A cursor: the list it belongs to and the key the page ended at.
#[derive(Serialize, Deserialize)]
struct Cursor {
    list: String,
    sort: String,
    id: String,
}

fn list_tag(tenant: &TenantId, q: &DocQuery) -> String {
    match &q.listing {
        Listing::ById => format!("{tenant}/{}", q.kind),
        Listing::Index { slot, partition } => format!("{tenant}/{}/{slot}/{partition}", q.kind),
    }
}

fn decode_doc(
    tenant: &TenantId,
    kind: &'static str,
    id: &str,
    v: (u64, &[u8]),
) -> Result<Versioned<Doc>, StoreError> {
    let stored: Stored = serde_json::from_slice(v.1).map_err(|e| StoreError::Corrupt {
        key: format!("{tenant}/{kind}/{id}"),
        reason: e.to_string(),
    })?;
    let mut index: [Option<IndexKey>; INDEX_SLOTS] = [None, None];
    for (slot, entry) in stored.index.into_iter().take(INDEX_SLOTS).enumerate() {
        index[slot] = entry.map(|(partition, sort)| IndexKey { partition, sort });
    }
    Ok(Versioned {
        value: Doc {
            tenant: tenant.clone(),
            kind,
            id: id.to_string(),
            body: stored.body,
            index,
            expires_at: None,
        },
        version: v.0,
    })
}

impl EmbeddedStore {
    /// Removes a document and its index entries (when `version` is given, only if it is still at it:
    /// `Conflict` otherwise); `false` when there was none.
    async fn remove_doc(
        &self,
        tenant: &TenantId,
        kind: &'static str,
        id: &str,
        version: Option<u64>,
    ) -> Result<bool, StoreError> {
        let (tenant, id) = (tenant.to_string(), id.to_string());
        self.write(move |txn| {
            let mut docs = txn.open_table(DOCS).map_err(e)?;
            let key = (tenant.as_str(), kind, id.as_str());
            if let Some(expected) = version {
                match docs.get(key).map_err(e)?.map(|v| v.value().0) {
                    None => return Ok(false),
                    Some(v) if v != expected => return Err(StoreError::Conflict),
                    Some(_) => {}
                }
            }
            let Some(old) = docs.remove(key).map_err(e)? else {
                return Ok(false);
            };
            let stored: Option<Stored> = serde_json::from_slice(old.value().1).ok();
            drop(old);
            let mut index = txn.open_table(DOC_INDEX).map_err(e)?;
            let mut expiry = txn.open_table(DOC_EXPIRY).map_err(e)?;
            unlink(&mut index, &mut expiry, key, stored.as_ref())?;
            Ok(true)
        })
        .await
    }
}

#[async_trait]
impl DocumentStore for EmbeddedStore {
    async fn get(
        &self,
        tenant: &TenantId,
        kind: &'static str,
        id: &str,
    ) -> Result<Option<Versioned<Doc>>, StoreError> {
        self.read(|txn| {
            let t = txn.open_table(DOCS).map_err(|e| unavailable("docs", e))?;
            let Some(g) = t
                .get((tenant.as_str(), kind, id))
                .map_err(|e| unavailable("docs", e))?
            else {
                return Ok(None);
            };
            decode_doc(tenant, kind, id, g.value()).map(Some)
        })
    }

    async fn delete(
        &self,
        tenant: &TenantId,
        kind: &'static str,
        id: &str,
    ) -> Result<bool, StoreError> {
        self.remove_doc(tenant, kind, id, None).await
    }

    async fn delete_if(
        &self,
        tenant: &TenantId,
        kind: &'static str,
        id: &str,
        version: u64,
    ) -> Result<bool, StoreError> {
        self.remove_doc(tenant, kind, id, Some(version)).await
    }

    async fn write(&self, writes: &[DocWrite]) -> Result<Vec<u64>, StoreError> {
        let events: Vec<cpms_domain::events::DomainEvent> = writes
            .iter()
            .flat_map(|w| w.events.iter().cloned())
            .collect();
        let events = super::encode_events(&events)?;
        let writes: Vec<(DocWrite, Vec<u8>)> = writes
            .iter()
            .map(|w| {
                let stored = Stored {
                    expires: w.doc.expires_at.map(|t| t.timestamp_millis()),
                    body: w.doc.body.clone(),
                    index: w
                        .doc
                        .index
                        .iter()
                        .map(|k| k.as_ref().map(|k| (k.partition.clone(), k.sort.clone())))
                        .collect(),
                };
                serde_json::to_vec(&stored)
                    .map(|b| (w.clone(), b))
                    .map_err(|e| unavailable("encoding", e))
            })
            .collect::<Result<_, _>>()?;
        let seq = self.seq();
        self.write(move |txn| {
            let mut docs = txn.open_table(DOCS).map_err(e)?;
            let mut index = txn.open_table(DOC_INDEX).map_err(e)?;
            // Check every condition before changing anything: a failed batch leaves no trace (the
            // transaction would be dropped anyway, but the committer shares it with other writers).
            let mut versions = Vec::with_capacity(writes.len());
            let mut old_index = Vec::with_capacity(writes.len());
            for (w, _) in &writes {
                let d = &w.doc;
                let current = docs
                    .get((d.tenant.as_str(), d.kind, d.id.as_str()))
                    .map_err(e)?
                    .map(|g| {
                        let (v, bytes) = g.value();
                        let old: Option<Stored> = serde_json::from_slice(bytes).ok();
                        let expires = old.as_ref().and_then(|o| o.expires);
                        (v, (old.map(|o| o.index).unwrap_or_default(), expires))
                    });
                let (cur_v, old) = match current {
                    Some((v, old)) => (Some(v), old),
                    None => (None, (Vec::new(), None)),
                };
                versions.push(check(w.expected, cur_v)?);
                old_index.push(old);
            }
            let mut expiry = txn.open_table(DOC_EXPIRY).map_err(e)?;
            for (((w, bytes), version), (old, old_expires)) in
                writes.iter().zip(&versions).zip(old_index)
            {
                let d = &w.doc;
                let ten = d.tenant.as_str();
                if let Some(at) = old_expires {
                    expiry.remove((at, ten, d.kind, d.id.as_str())).map_err(e)?;
                }
                if let Some(at) = d.expires_at {
                    expiry
                        .insert((at.timestamp_millis(), ten, d.kind, d.id.as_str()), ())
                        .map_err(e)?;
                }
                for (slot, entry) in old.iter().enumerate() {
                    if let Some((p, s)) = entry {
                        index
                            .remove((
                                ten,
                                d.kind,
                                slot as u8,
                                p.as_str(),
                                s.as_str(),
                                d.id.as_str(),
                            ))
                            .map_err(e)?;
                    }
                }
                for (slot, entry) in d.index.iter().enumerate() {
                    if let Some(k) = entry {
                        index
                            .insert(
                                (
                                    ten,
                                    d.kind,
                                    slot as u8,
                                    k.partition.as_str(),
                                    k.sort.as_str(),
                                    d.id.as_str(),
                                ),
                                (),
                            )
                            .map_err(e)?;
                    }
                }
                docs.insert((ten, d.kind, d.id.as_str()), (*version, bytes.as_slice()))
                    .map_err(e)?;
            }
            super::append_outbox(txn, &seq, &events)?;
            Ok(versions)
        })
        .await
    }

    async fn query(
        &self,
        tenant: &TenantId,
        q: &DocQuery,
    ) -> Result<Page<Versioned<Doc>>, StoreError> {
        let tag = list_tag(tenant, q);
        let after: Option<Cursor> = q.page.cursor.as_deref().map(cursor::decode).transpose()?;
        if after.as_ref().is_some_and(|c| c.list != tag) {
            return Err(StoreError::BadCursor);
        }
        let limit = q.page.limit;
        let ten = tenant.as_str();
        let kind = q.kind;
        let in_range = |key: &str| {
            q.from.as_deref().is_none_or(|f| key >= f) && q.to.as_deref().is_none_or(|t| key < t)
        };
        self.read(|txn| {
            let docs = txn.open_table(DOCS).map_err(e)?;
            let mut items = Vec::new();
            let mut last = None;
            match &q.listing {
                Listing::ById => {
                    let c_id = after.as_ref().map(|c| c.id.as_str());
                    let from = q.from.as_deref().unwrap_or("");
                    let lo = match c_id {
                        Some(c) if !q.descending && c >= from => Bound::Excluded((ten, kind, c)),
                        _ => Bound::Included((ten, kind, from)),
                    };
                    let hi = match (c_id, q.to.as_deref()) {
                        (Some(c), _) if q.descending => Bound::Excluded((ten, kind, c)),
                        (_, Some(to)) => Bound::Excluded((ten, kind, to)),
                        _ => Bound::Included((ten, kind, TOP)),
                    };
                    let range = docs.range::<(&str, &str, &str)>((lo, hi)).map_err(e)?;
                    let entries: Box<dyn Iterator<Item = _>> = if q.descending {
                        Box::new(range.rev())
                    } else {
                        Box::new(range)
                    };
                    for entry in entries {
                        let (k, v) = entry.map_err(e)?;
                        let (_, _, id) = k.value();
                        if !in_range(id) {
                            continue;
                        }
                        if items.len() >= limit {
                            break;
                        }
                        items.push(decode_doc(tenant, kind, id, v.value())?);
                        last = Some(Cursor {
                            list: tag.clone(),
                            sort: String::new(),
                            id: id.to_string(),
                        });
                    }
                }
                Listing::Index { slot, partition } => {
                    let index = txn.open_table(DOC_INDEX).map_err(e)?;
                    let slot = *slot as u8;
                    let p = partition.as_str();
                    let c = after.as_ref().map(|c| (c.sort.as_str(), c.id.as_str()));
                    let from = q.from.as_deref().unwrap_or("");
                    let lo = match c {
                        Some((s, i)) if !q.descending => {
                            Bound::Excluded((ten, kind, slot, p, s, i))
                        }
                        _ => Bound::Included((ten, kind, slot, p, from, "")),
                    };
                    let hi = match c {
                        Some((s, i)) if q.descending => Bound::Excluded((ten, kind, slot, p, s, i)),
                        _ => Bound::Included((ten, kind, slot, p, TOP, TOP)),
                    };
                    let range = index
                        .range::<(&str, &str, u8, &str, &str, &str)>((lo, hi))
                        .map_err(e)?;
                    let entries: Box<dyn Iterator<Item = _>> = if q.descending {
                        Box::new(range.rev())
                    } else {
                        Box::new(range)
                    };
                    for entry in entries {
                        let (k, _) = entry.map_err(e)?;
                        let (_, _, _, _, sort, id) = k.value();
                        if !in_range(sort) {
                            continue;
                        }
                        if items.len() >= limit {
                            break;
                        }
                        let Some(g) = docs.get((ten, kind, id)).map_err(e)? else {
                            continue;
                        };
                        items.push(decode_doc(tenant, kind, id, g.value())?);
                        last = Some(Cursor {
                            list: tag.clone(),
                            sort: sort.to_string(),
                            id: id.to_string(),
                        });
                    }
                }
            }
            let next = cursor::next_if_full(&items, limit, last);
            Ok(Page { items, next })
        })
    }
}

impl EmbeddedStore {
    /// Deletes up to `limit` documents whose expiry has passed (what DynamoDB's TTL does on AWS), with
    /// their index entries; returns how many. `cpms serve` runs it every hour.
    pub async fn purge_expired(
        &self,
        now: chrono::DateTime<chrono::Utc>,
        limit: usize,
    ) -> Result<usize, StoreError> {
        let now = now.timestamp_millis();
        self.write(move |txn| {
            let mut docs = txn.open_table(DOCS).map_err(e)?;
            let mut index = txn.open_table(DOC_INDEX).map_err(e)?;
            let mut expiry = txn.open_table(DOC_EXPIRY).map_err(e)?;
            let due: Vec<(i64, String, String, String)> = expiry
                .range(..(now, "", "", ""))
                .map_err(e)?
                .take(limit)
                .map(|r| {
                    r.map(|(k, _)| {
                        let (at, t, kind, id) = k.value();
                        (at, t.to_string(), kind.to_string(), id.to_string())
                    })
                    .map_err(e)
                })
                .collect::<Result<_, _>>()?;
            for (at, t, kind, id) in &due {
                let stored: Option<Stored> = docs
                    .remove((t.as_str(), kind.as_str(), id.as_str()))
                    .map_err(e)?
                    .and_then(|old| serde_json::from_slice(old.value().1).ok());
                unlink(
                    &mut index,
                    &mut expiry,
                    (t.as_str(), kind.as_str(), id.as_str()),
                    stored.as_ref(),
                )?;
                // The entry that was due goes even when the document could not be read.
                expiry
                    .remove((*at, t.as_str(), kind.as_str(), id.as_str()))
                    .map_err(e)?;
            }
            Ok(due.len())
        })
        .await
    }
}
