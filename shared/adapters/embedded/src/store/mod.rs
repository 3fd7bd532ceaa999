//! The embedded store: one redb file under the data directory. Reads run on the caller's task; writes go
//! to a single writer thread that commits whatever has queued up in one transaction (group commit) and
//! answers each caller only after the commit is durable.
//!
//! Access patterns (table: key -> value):
//! - `chargers`: identity -> (version, Charger JSON); `chargers_by_tenant`: (tenant, identity) -> ()
//! - `tokens`: (tenant, token key) -> (version, Token JSON)
//! - `sessions`: (tenant, charger, transaction) -> (version, Session JSON)
//! - `sessions_by_time`: (tenant, newest-first order, charger, transaction) -> ()
//! - `sessions_by_charger`: (tenant, charger, newest-first order, transaction) -> ()
//! - `sessions_active`: (tenant, charger, transaction) -> ()
//! - `samples`: (tenant, charger, transaction, batch number) -> MeterSample[] JSON
//! - `log`: (tenant, charger, sequence) -> LogEntry JSON; `attempts`: sequence -> ConnectionAttempt JSON
//! - `outbox`: sequence -> DomainEvent JSON (kept until every consumer has settled it)
//! - `dead_letters`: (consumer, sequence) -> DomainEvent JSON (events a consumer failed too often)
//! - `meta`: name -> counter
//! - `docs`, `doc_index`: documents (sites, API keys, commands, ...) and their secondary orders

mod chargers;
mod commit;
mod cursor;
mod documents;
mod log;
mod outbox;
mod sessions;
mod tokens;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use cpms_domain::events::DomainEvent;
use cpms_ports::{Expected, StoreError};
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition, WriteTransaction};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::sync::Notify;

use commit::Committer;

pub(crate) const CHARGERS: TableDefinition<&str, (u64, &[u8])> = TableDefinition::new("chargers");
pub(crate) const CHARGERS_BY_TENANT: TableDefinition<(&str, &str), ()> =
    TableDefinition::new("chargers_by_tenant");
pub(crate) const TOKENS: TableDefinition<(&str, &str), (u64, &[u8])> =
    TableDefinition::new("tokens");
pub(crate) const SESSIONS: TableDefinition<(&str, &str, &str), (u64, &[u8])> =
    TableDefinition::new("sessions");
pub(crate) const SESSIONS_BY_TIME: TableDefinition<(&str, u64, &str, &str), ()> =
    TableDefinition::new("sessions_by_time");
pub(crate) const SESSIONS_BY_CHARGER: TableDefinition<(&str, &str, u64, &str), ()> =
    TableDefinition::new("sessions_by_charger");
pub(crate) const SESSIONS_ACTIVE: TableDefinition<(&str, &str, &str), ()> =
    TableDefinition::new("sessions_active");
pub(crate) const SAMPLES: TableDefinition<(&str, &str, &str, u32), &[u8]> =
    TableDefinition::new("samples");
pub(crate) const LOG: TableDefinition<(&str, &str, u64), &[u8]> = TableDefinition::new("log");
pub(crate) const ATTEMPTS: TableDefinition<u64, &[u8]> = TableDefinition::new("attempts");
pub(crate) const OUTBOX: TableDefinition<u64, &[u8]> = TableDefinition::new("outbox");
pub(crate) const DEAD_LETTERS: TableDefinition<(&str, u64), &[u8]> =
    TableDefinition::new("dead_letters");
pub(crate) const META: TableDefinition<&str, u64> = TableDefinition::new("meta");

/// Page cache of the store (redb's default of 1 GiB is more than a small server should hold; the OS page
/// cache serves the rest).
const CACHE_BYTES: usize = 64 * 1024 * 1024;

/// Whether a commit waits for the disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// fsync before answering: the only setting for real use.
    Immediate,
    /// No fsync: a crash loses recent writes. For benchmarks that measure CPU cost only.
    NoSync,
}

/// The embedded store. Cheap to clone; the database closes when the last clone is dropped (after the
/// writes already queued are committed).
#[derive(Clone)]
pub struct EmbeddedStore {
    inner: Arc<Inner>,
}

struct Inner {
    db: Arc<Database>,
    committer: Committer,
    seq: Arc<Seq>,
}

/// Increasing numbers for the keys of the log, the attempts and the outbox. Kept in memory and taken from
/// the clock (microseconds) when that is ahead, so they keep increasing across restarts without a counter
/// written on every use. It also notes whether a transaction appended to the outbox, so that only
/// commits with events wake the outbox relay.
pub(crate) struct Seq {
    last: AtomicU64,
    events: std::sync::atomic::AtomicBool,
}

impl Seq {
    fn new(floor: u64) -> Self {
        Seq {
            last: AtomicU64::new(floor),
            events: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// Notes that the running transaction appended to the outbox.
    pub(crate) fn mark_events(&self) {
        self.events.store(true, Ordering::Release);
    }

    /// Whether a transaction appended to the outbox since the last call.
    pub(crate) fn take_events(&self) -> bool {
        self.events.swap(false, Ordering::AcqRel)
    }

    /// The next number.
    pub(crate) fn next(&self) -> u64 {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_micros() as u64);
        let prev = self
            .last
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |v| {
                Some(v.saturating_add(1).max(now))
            })
            .unwrap_or(now);
        prev.saturating_add(1).max(now)
    }
}

impl EmbeddedStore {
    /// Opens (or creates) the store in `dir`; every write commits as soon as it can.
    pub fn open(dir: &Path, durability: Durability) -> Result<Self, StoreError> {
        Self::open_with_window(dir, durability, std::time::Duration::ZERO)
    }

    /// Opens (or creates) the store in `dir`; a write arriving at an idle store waits up to `window`
    /// for others to share its commit (see the committer).
    pub fn open_with_window(
        dir: &Path,
        durability: Durability,
        window: std::time::Duration,
    ) -> Result<Self, StoreError> {
        std::fs::create_dir_all(dir).map_err(|e| unavailable("creating the data directory", e))?;
        let db = Database::builder()
            .set_cache_size(CACHE_BYTES)
            .create(dir.join("cpms.redb"))
            .map_err(|e| unavailable("opening", e))?;
        let db = Arc::new(db);
        let floor = init_tables(&db)?;
        let seq = Arc::new(Seq::new(floor));
        let committer = Committer::start(db.clone(), durability, seq.clone(), window)?;
        Ok(EmbeddedStore {
            inner: Arc::new(Inner { db, committer, seq }),
        })
    }

    /// Signalled after a commit that appended to the outbox (the outbox relay waits on it).
    pub fn committed(&self) -> Arc<Notify> {
        self.inner.committer.committed()
    }

    /// The numbers for log, attempt and outbox keys (taken inside the commit, so they follow its order).
    pub(crate) fn seq(&self) -> Arc<Seq> {
        self.inner.seq.clone()
    }

    /// Runs `f` in a write transaction and returns its result once that transaction is durable.
    pub(crate) async fn write<R: Send + 'static>(
        &self,
        f: impl FnOnce(&WriteTransaction) -> Result<R, StoreError> + Send + 'static,
    ) -> Result<R, StoreError> {
        self.inner.committer.write(f).await
    }

    /// Runs `f` in a write transaction that need not survive a crash (see the committer); returns
    /// once that transaction is committed.
    pub(crate) async fn write_lazy<R: Send + 'static>(
        &self,
        f: impl FnOnce(&WriteTransaction) -> Result<R, StoreError> + Send + 'static,
    ) -> Result<R, StoreError> {
        self.inner.committer.write_lazy(f).await
    }

    /// Runs `f` on a read transaction.
    pub(crate) fn read<R>(
        &self,
        f: impl FnOnce(&redb::ReadTransaction) -> Result<R, StoreError>,
    ) -> Result<R, StoreError> {
        let txn = self
            .inner
            .db
            .begin_read()
            .map_err(|e| unavailable("reading", e))?;
        f(&txn)
    }
}

/// Creates missing tables; returns the largest number already used in a numbered key.
fn init_tables(db: &Database) -> Result<u64, StoreError> {
    let txn = db
        .begin_write()
        .map_err(|e| unavailable("initializing", e))?;
    let mut floor = 0;
    {
        let e = |e| unavailable("creating tables", e);
        txn.open_table(CHARGERS).map_err(e)?;
        txn.open_table(CHARGERS_BY_TENANT).map_err(e)?;
        txn.open_table(TOKENS).map_err(e)?;
        txn.open_table(SESSIONS).map_err(e)?;
        txn.open_table(SESSIONS_BY_TIME).map_err(e)?;
        txn.open_table(SESSIONS_BY_CHARGER).map_err(e)?;
        txn.open_table(SESSIONS_ACTIVE).map_err(e)?;
        txn.open_table(SAMPLES).map_err(e)?;
        txn.open_table(LOG).map_err(e)?;
        txn.open_table(documents::DOCS).map_err(e)?;
        txn.open_table(documents::DOC_INDEX).map_err(e)?;
        txn.open_table(documents::DOC_EXPIRY).map_err(e)?;
        for t in [ATTEMPTS, OUTBOX] {
            let t = txn.open_table(t).map_err(e)?;
            let last = t.last().map_err(|e| unavailable("reading keys", e))?;
            if let Some((k, _)) = last {
                floor = floor.max(k.value());
            }
        }
        txn.open_table(META).map_err(e)?;
        txn.open_table(DEAD_LETTERS).map_err(e)?;
    }
    txn.commit().map_err(|e| unavailable("initializing", e))?;
    Ok(floor)
}

pub(crate) fn unavailable(what: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable(format!("{what}: {e}"))
}

pub(crate) fn to_json<T: Serialize>(v: &T) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(v).map_err(|e| unavailable("encoding", e))
}

pub(crate) fn from_json<T: DeserializeOwned>(key: &str, bytes: &[u8]) -> Result<T, StoreError> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::Corrupt {
        key: key.to_string(),
        reason: e.to_string(),
    })
}

/// Checks a write's condition against the version stored now (`None`: no record).
pub(crate) fn check(expected: Expected, current: Option<u64>) -> Result<u64, StoreError> {
    match (expected, current) {
        (Expected::Absent, None) => Ok(1),
        (Expected::Version(v), Some(c)) if v == c => Ok(c + 1),
        _ => Err(StoreError::Conflict),
    }
}

/// Events encoded for the outbox (encoded before the write, outside the commit).
pub(crate) fn encode_events(events: &[DomainEvent]) -> Result<Vec<Vec<u8>>, StoreError> {
    events.iter().map(to_json).collect()
}

/// Appends encoded events to the outbox in the current transaction.
pub(crate) fn append_outbox(
    txn: &WriteTransaction,
    seq: &Seq,
    events: &[Vec<u8>],
) -> Result<(), StoreError> {
    if events.is_empty() {
        return Ok(());
    }
    let mut t = txn
        .open_table(OUTBOX)
        .map_err(|e| unavailable("outbox", e))?;
    for json in events {
        t.insert(seq.next(), json.as_slice())
            .map_err(|e| unavailable("outbox", e))?;
    }
    seq.mark_events();
    Ok(())
}

/// Reads a versioned JSON record from a table.
pub(crate) fn read_versioned<K, T>(
    table: &impl ReadableTable<K, (u64, &'static [u8])>,
    key: K::SelfType<'_>,
    label: &str,
) -> Result<Option<cpms_ports::Versioned<T>>, StoreError>
where
    K: redb::Key + 'static,
    T: DeserializeOwned,
{
    let Some(guard) = table.get(key).map_err(|e| unavailable("reading", e))? else {
        return Ok(None);
    };
    let (version, bytes) = guard.value();
    Ok(Some(cpms_ports::Versioned {
        value: from_json(label, bytes)?,
        version,
    }))
}

#[cfg(test)]
mod tests;
