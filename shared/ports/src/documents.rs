//! The document store: small operator-managed records (sites, API keys, tenants, commands, outbound lanes,
//! audit entries) kept as JSON under (tenant, kind, id), listed by id or through up to two secondary orders.
//!
//! One port at the document level instead of one trait per record kind: these records are read by id or
//! listed in one or two orders, never updated on a charger's hot path, so a port per kind would repeat the
//! same four methods in both adapters. Typed access is [`Documents`], one per record type.
//!
//! A write is a batch of conditional puts that succeed or fail together: what keeps the outbound lane of a
//! charger and the command it carries consistent (one DynamoDB transaction, one redb transaction).

use std::marker::PhantomData;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use cpms_domain::TenantId;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::{Expected, Page, PageRequest, StoreError, Versioned};

/// How many secondary orders a document may be listed in.
pub const INDEX_SLOTS: usize = 2;

/// A document's entry in one secondary order: listed under `partition`, ordered by `sort`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexKey {
    /// Which list (e.g. a charger's queue).
    pub partition: String,
    /// Position in it.
    pub sort: String,
}

/// A stored document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Doc {
    /// Owner.
    pub tenant: TenantId,
    /// Record kind (`site`, `api-key`, ...).
    pub kind: &'static str,
    /// Id, unique within tenant and kind; lists by id are in byte order of this.
    pub id: String,
    /// The record as JSON.
    pub body: String,
    /// Secondary orders the document is listed in (`None`: not listed there, a sparse index).
    pub index: [Option<IndexKey>; INDEX_SLOTS],
    /// When the store may delete it (DynamoDB TTL); readers must not rely on it being gone.
    pub expires_at: Option<DateTime<Utc>>,
}

/// One put of a batch.
#[derive(Debug, Clone)]
pub struct DocWrite {
    /// The document.
    pub doc: Doc,
    /// Its condition.
    pub expected: Expected,
    /// Events the write implies, published if and only if it commits (the embedded store's outbox; on
    /// DynamoDB an attribute of the item the stream relay publishes).
    pub events: Vec<cpms_domain::events::DomainEvent>,
}

/// Which list a query reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Listing {
    /// Every document of the kind, by id.
    ById,
    /// The documents under `partition` of index `slot`, by their sort key.
    Index {
        /// 0 or 1.
        slot: usize,
        /// The partition.
        partition: String,
    },
}

/// A list query.
#[derive(Debug, Clone)]
pub struct DocQuery {
    /// Record kind.
    pub kind: &'static str,
    /// Which list.
    pub listing: Listing,
    /// Only keys `>= from`.
    pub from: Option<String>,
    /// Only keys `< to`.
    pub to: Option<String>,
    /// Largest key first.
    pub descending: bool,
    /// The page.
    pub page: PageRequest,
}

/// Stores documents.
#[async_trait]
pub trait DocumentStore: Send + Sync {
    /// A document.
    async fn get(
        &self,
        tenant: &TenantId,
        kind: &'static str,
        id: &str,
    ) -> Result<Option<Versioned<Doc>>, StoreError>;
    /// Puts every document if every condition holds, else none (`Conflict`); returns the new versions.
    async fn write(&self, writes: &[DocWrite]) -> Result<Vec<u64>, StoreError>;
    /// Removes a document and its index entries; `false` when there was none.
    async fn delete(
        &self,
        tenant: &TenantId,
        kind: &'static str,
        id: &str,
    ) -> Result<bool, StoreError>;
    /// Removes a document if it is still at `version` (`Conflict` when it changed; `false` when there
    /// was none).
    async fn delete_if(
        &self,
        tenant: &TenantId,
        kind: &'static str,
        id: &str,
        version: u64,
    ) -> Result<bool, StoreError>;
    /// One page of a list (index lists may lag a write by a moment on DynamoDB).
    async fn query(
        &self,
        tenant: &TenantId,
        query: &DocQuery,
    ) -> Result<Page<Versioned<Doc>>, StoreError>;
}

/// A record type kept in the document store.
pub trait Record: Serialize + DeserializeOwned + Send + Sync {
    /// Its kind.
    const KIND: &'static str;
    /// Its tenant.
    fn tenant(&self) -> &TenantId;
    /// Its id.
    fn id(&self) -> String;
    /// Its secondary orders.
    fn index(&self) -> [Option<IndexKey>; INDEX_SLOTS] {
        [None, None]
    }
    /// When it may be deleted.
    fn expires_at(&self) -> Option<DateTime<Utc>> {
        None
    }
}

/// Typed access to the documents of one record type.
pub struct Documents<T> {
    store: Arc<dyn DocumentStore>,
    _t: PhantomData<fn() -> T>,
}

impl<T> Clone for Documents<T> {
    fn clone(&self) -> Self {
        Documents {
            store: self.store.clone(),
            _t: PhantomData,
        }
    }
}

impl<T: Record> Documents<T> {
    /// Records of type `T` in `store`.
    pub fn new(store: Arc<dyn DocumentStore>) -> Self {
        Documents {
            store,
            _t: PhantomData,
        }
    }

    /// The document for `record`.
    pub fn doc(record: &T) -> Result<Doc, StoreError> {
        Ok(Doc {
            tenant: record.tenant().clone(),
            kind: T::KIND,
            id: record.id(),
            body: serde_json::to_string(record)
                .map_err(|e| StoreError::Unavailable(format!("encoding {}: {e}", T::KIND)))?,
            index: record.index(),
            expires_at: record.expires_at(),
        })
    }

    /// A write of `record` for a batch.
    pub fn write_of(record: &T, expected: Expected) -> Result<DocWrite, StoreError> {
        Ok(DocWrite {
            doc: Self::doc(record)?,
            expected,
            events: Vec::new(),
        })
    }

    /// A record.
    pub async fn get(
        &self,
        tenant: &TenantId,
        id: &str,
    ) -> Result<Option<Versioned<T>>, StoreError> {
        self.store
            .get(tenant, T::KIND, id)
            .await?
            .map(decode)
            .transpose()
    }

    /// Writes a record if `expected` holds; returns its new version.
    pub async fn put(&self, record: &T, expected: Expected) -> Result<u64, StoreError> {
        let v = self
            .store
            .write(&[Self::write_of(record, expected)?])
            .await?;
        Ok(v.first().copied().unwrap_or_default())
    }

    /// Writes a record if `expected` holds, with the events the change implies (published if and only
    /// if it commits); returns its new version.
    pub async fn put_with_events(
        &self,
        record: &T,
        expected: Expected,
        events: Vec<cpms_domain::events::DomainEvent>,
    ) -> Result<u64, StoreError> {
        let mut w = Self::write_of(record, expected)?;
        w.events = events;
        let v = self.store.write(&[w]).await?;
        Ok(v.first().copied().unwrap_or_default())
    }

    /// Writes `record` over what is stored under its id now (or creates it); a change between the read
    /// and the write is a `Conflict`.
    pub async fn replace(&self, record: &T) -> Result<u64, StoreError> {
        let expected = match self.get(record.tenant(), &record.id()).await? {
            Some(old) => Expected::Version(old.version),
            None => Expected::Absent,
        };
        self.put(record, expected).await
    }

    /// Every record of this type of a tenant, page by page (for small kinds: splits, assignments).
    pub async fn all(&self, tenant: &TenantId) -> Result<Vec<T>, StoreError> {
        let mut out = Vec::new();
        let mut page = PageRequest::first(500);
        loop {
            let found = self.query(tenant, &Self::by_id(page.clone())).await?;
            out.extend(found.items.into_iter().map(|v| v.value));
            match found.next {
                Some(n) => page.cursor = Some(n),
                None => return Ok(out),
            }
        }
    }

    /// Removes a record; `false` when there was none.
    pub async fn delete(&self, tenant: &TenantId, id: &str) -> Result<bool, StoreError> {
        self.store.delete(tenant, T::KIND, id).await
    }

    /// Removes a record if it is still at `version` (`Conflict` when it changed since).
    pub async fn delete_if(
        &self,
        tenant: &TenantId,
        id: &str,
        version: u64,
    ) -> Result<bool, StoreError> {
        self.store.delete_if(tenant, T::KIND, id, version).await
    }

    /// One page of a list.
    pub async fn query(
        &self,
        tenant: &TenantId,
        query: &DocQuery,
    ) -> Result<Page<Versioned<T>>, StoreError> {
        let page = self.store.query(tenant, query).await?;
        Ok(Page {
            items: page
                .items
                .into_iter()
                .map(decode)
                .collect::<Result<_, _>>()?,
            next: page.next,
        })
    }

    /// A query of every record of this type by id.
    pub fn by_id(page: PageRequest) -> DocQuery {
        DocQuery::by_id(T::KIND, page)
    }

    /// A query of the records of this type under `partition` of index `slot`.
    pub fn by_index(slot: usize, partition: impl Into<String>, page: PageRequest) -> DocQuery {
        DocQuery::by_index(T::KIND, slot, partition, page)
    }
}

fn decode<T: Record>(d: Versioned<Doc>) -> Result<Versioned<T>, StoreError> {
    let value = serde_json::from_str(&d.value.body).map_err(|e| StoreError::Corrupt {
        key: format!("{}/{}/{}", d.value.tenant, T::KIND, d.value.id),
        reason: e.to_string(),
    })?;
    Ok(Versioned {
        value,
        version: d.version,
    })
}

impl DocQuery {
    /// Every record of `kind` by id, ascending.
    pub fn by_id(kind: &'static str, page: PageRequest) -> Self {
        DocQuery {
            kind,
            listing: Listing::ById,
            from: None,
            to: None,
            descending: false,
            page,
        }
    }

    /// The records of `kind` under `partition` of index `slot`, ascending.
    pub fn by_index(
        kind: &'static str,
        slot: usize,
        partition: impl Into<String>,
        page: PageRequest,
    ) -> Self {
        DocQuery {
            kind,
            listing: Listing::Index {
                slot,
                partition: partition.into(),
            },
            from: None,
            to: None,
            descending: false,
            page,
        }
    }

    /// Largest key first.
    pub fn descending(mut self) -> Self {
        self.descending = true;
        self
    }

    /// Only keys in `[from, to)`.
    pub fn range(mut self, from: Option<String>, to: Option<String>) -> Self {
        self.from = from;
        self.to = to;
        self
    }
}
