//! Storage ports. Writes are conditional on the version read (optimistic concurrency): that is what keeps
//! retries, duplicates and concurrent deliveries safe. Each state-changing charger message is one write.
//!
//! Domain events travel with the write that implies them ([`SessionWrite::events`], the `events` argument
//! of [`ChargerStore::put`]): an embedded store appends them to its outbox in the same transaction; on
//! DynamoDB the table's stream carries the change and the relay derives the same events from it.

use async_trait::async_trait;
use cpms_domain::charger::Charger;
use cpms_domain::events::DomainEvent;
use cpms_domain::log::{ConnectionAttempt, LogEntry};
use cpms_domain::meter::MeterSample;
use cpms_domain::session::{Session, SessionStatus};
use cpms_domain::token::Token;
use cpms_domain::{ChargerId, SessionId, TenantId};

/// Storage failures.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// The record changed since it was read (or exists when it should not): read again and retry.
    #[error("the record changed concurrently")]
    Conflict,
    /// The store is unreachable or failed; the operation may be retried.
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    /// A stored record cannot be read.
    #[error("stored record {key} is unreadable: {reason}")]
    Corrupt {
        /// Which record.
        key: String,
        /// Why.
        reason: String,
    },
    /// A cursor that this store did not issue.
    #[error("invalid cursor")]
    BadCursor,
}

impl StoreError {
    /// Whether retrying the whole operation can succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(self, StoreError::Conflict | StoreError::Unavailable(_))
    }
}

/// A record with the version its next conditional write must name.
#[derive(Debug, Clone, PartialEq)]
pub struct Versioned<T> {
    /// The record.
    pub value: T,
    /// Its version (1 after the first write).
    pub version: u64,
}

/// The condition of a write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expected {
    /// The record must not exist.
    Absent,
    /// The record must be at this version.
    Version(u64),
}

impl Expected {
    /// The condition for writing back what was read (`Absent` if nothing was).
    pub fn from_read<T>(read: &Option<Versioned<T>>) -> Self {
        read.as_ref()
            .map_or(Expected::Absent, |v| Expected::Version(v.version))
    }
}

/// A page request: at most `limit` items after `cursor`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRequest {
    /// Most items to return.
    pub limit: usize,
    /// Where the previous page ended.
    pub cursor: Option<String>,
}

impl PageRequest {
    /// The first page of `limit` items.
    pub fn first(limit: usize) -> Self {
        PageRequest {
            limit,
            cursor: None,
        }
    }
}

/// One page of a list.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    /// The items.
    pub items: Vec<T>,
    /// Cursor of the next page, `None` on the last one.
    pub next: Option<String>,
}

/// Chargers, keyed by their OCPP identity (unique across tenants: it is all the URL carries).
#[async_trait]
pub trait ChargerStore: Send + Sync {
    /// The charger with this identity.
    async fn get(&self, id: &ChargerId) -> Result<Option<Versioned<Charger>>, StoreError>;
    /// Writes a charger if `expected` holds, with the events the change implies; returns the new version.
    async fn put(
        &self,
        charger: &Charger,
        expected: Expected,
        events: &[DomainEvent],
    ) -> Result<u64, StoreError>;
    /// A tenant's chargers, ordered by id.
    async fn list(
        &self,
        tenant: &TenantId,
        page: &PageRequest,
    ) -> Result<Page<Charger>, StoreError>;
}

/// Filters of a session list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SessionFilter {
    /// Only this charger's sessions.
    pub charger: Option<ChargerId>,
    /// Only sessions in this status.
    pub status: Option<SessionStatus>,
}

/// One session write: the session, its condition, the samples it adds and the events it implies.
#[derive(Debug, Clone, Copy)]
pub struct SessionWrite<'a> {
    /// The session as it is now.
    pub session: &'a Session,
    /// The condition.
    pub expected: Expected,
    /// Samples to append.
    pub new_samples: &'a [MeterSample],
    /// Events the change implies.
    pub events: &'a [DomainEvent],
}

/// Sessions and their samples.
#[async_trait]
pub trait SessionStore: Send + Sync {
    /// A session.
    async fn get(
        &self,
        tenant: &TenantId,
        id: &SessionId,
    ) -> Result<Option<Versioned<Session>>, StoreError>;
    /// Writes a session if the condition holds; returns the new version.
    async fn put(&self, write: SessionWrite<'_>) -> Result<u64, StoreError>;
    /// Sessions, newest first.
    async fn list(
        &self,
        tenant: &TenantId,
        filter: &SessionFilter,
        page: &PageRequest,
    ) -> Result<Page<Session>, StoreError>;
    /// A charger's sessions that have not ended.
    async fn active(
        &self,
        tenant: &TenantId,
        charger: &ChargerId,
    ) -> Result<Vec<Session>, StoreError>;
    /// A session's samples, oldest first.
    async fn samples(
        &self,
        tenant: &TenantId,
        id: &SessionId,
        page: &PageRequest,
    ) -> Result<Page<MeterSample>, StoreError>;
}

/// Tokens, keyed by tenant and [`cpms_domain::token::token_key`].
#[async_trait]
pub trait TokenStore: Send + Sync {
    /// A token.
    async fn get(
        &self,
        tenant: &TenantId,
        id: &str,
    ) -> Result<Option<Versioned<Token>>, StoreError>;
    /// Writes a token if the condition holds; returns the new version.
    async fn put(&self, token: &Token, expected: Expected) -> Result<u64, StoreError>;
    /// A tenant's tokens, ordered by key.
    async fn list(&self, tenant: &TenantId, page: &PageRequest) -> Result<Page<Token>, StoreError>;
}

/// The charger log.
#[async_trait]
pub trait LogStore: Send + Sync {
    /// Appends an entry.
    async fn append(&self, entry: &LogEntry) -> Result<(), StoreError>;
    /// A charger's entries, newest first.
    async fn list(
        &self,
        tenant: &TenantId,
        charger: &ChargerId,
        page: &PageRequest,
    ) -> Result<Page<LogEntry>, StoreError>;
}

/// Refused connection attempts of identities that belong to no tenant.
#[async_trait]
pub trait AttemptStore: Send + Sync {
    /// Records an attempt (old ones are dropped after a bounded number).
    async fn record(&self, attempt: &ConnectionAttempt) -> Result<(), StoreError>;
    /// Attempts, newest first.
    async fn list(&self, page: &PageRequest) -> Result<Page<ConnectionAttempt>, StoreError>;
}

/// Publishes committed domain events to their consumers (in-process bus, EventBridge).
#[async_trait]
pub trait EventPublisher: Send + Sync {
    /// Publishes events; on error none may be assumed delivered and the caller retries them all
    /// (consumers deduplicate on the event id).
    async fn publish(&self, events: &[DomainEvent]) -> Result<(), StoreError>;
}
