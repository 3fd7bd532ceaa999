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
//! - `outbox`: sequence -> DomainEvent JSON (drained by the outbox relay)
//! - `meta`: name -> counter

mod chargers;
mod cursor;
mod log;
mod outbox;
mod sessions;
mod tokens;

use std::path::Path;
use std::sync::Arc;
use std::sync::mpsc;

use cpms_domain::events::DomainEvent;
use cpms_ports::{Expected, StoreError};
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition, WriteTransaction};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::sync::{Notify, oneshot};

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
pub(crate) const META: TableDefinition<&str, u64> = TableDefinition::new("meta");

/// How many writes one commit takes at most.
const MAX_BATCH: usize = 512;

/// Whether a commit waits for the disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// fsync before answering: the only setting for real use.
    Immediate,
    /// No fsync: a crash loses recent writes. For benchmarks that measure CPU cost only.
    NoSync,
}

/// The result of one queued write, delivered after the commit.
type Completion = Box<dyn FnOnce(Result<(), StoreError>) + Send>;
/// A queued write: runs inside the shared transaction; `true` when it failed in a way that spoils the
/// whole transaction.
type Job = Box<dyn FnOnce(&WriteTransaction) -> (Completion, bool) + Send>;

/// The embedded store. Cheap to clone; the database closes when the last clone is dropped (after the
/// writes already queued are committed).
#[derive(Clone)]
pub struct EmbeddedStore {
    inner: Arc<Inner>,
}

struct Inner {
    db: Arc<Database>,
    jobs: Option<mpsc::Sender<Job>>,
    writer: Option<std::thread::JoinHandle<()>>,
    committed: Arc<Notify>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Closing the queue ends the writer once it has committed what is queued.
        self.jobs.take();
        if let Some(w) = self.writer.take() {
            let _ = w.join();
        }
    }
}

impl EmbeddedStore {
    /// Opens (or creates) the store in `dir`.
    pub fn open(dir: &Path, durability: Durability) -> Result<Self, StoreError> {
        std::fs::create_dir_all(dir).map_err(|e| unavailable("creating the data directory", e))?;
        let db = Database::create(dir.join("cpms.redb")).map_err(|e| unavailable("opening", e))?;
        let db = Arc::new(db);
        init_tables(&db)?;
        let (jobs, rx) = mpsc::channel::<Job>();
        let committed = Arc::new(Notify::new());
        let (writer_db, notify) = (db.clone(), committed.clone());
        let writer = std::thread::Builder::new()
            .name("cpms-store-writer".into())
            .spawn(move || writer_loop(&writer_db, &rx, durability, &notify))
            .map_err(|e| unavailable("starting the writer", e))?;
        Ok(EmbeddedStore {
            inner: Arc::new(Inner {
                db,
                jobs: Some(jobs),
                writer: Some(writer),
                committed,
            }),
        })
    }

    /// Signalled after every commit (the outbox relay waits on it).
    pub fn committed(&self) -> Arc<Notify> {
        self.inner.committed.clone()
    }

    /// Queues `f` for the next commit and waits until that commit is durable.
    pub(crate) async fn write<R: Send + 'static>(
        &self,
        f: impl FnOnce(&WriteTransaction) -> Result<R, StoreError> + Send + 'static,
    ) -> Result<R, StoreError> {
        let (tx, rx) = oneshot::channel();
        let job: Job = Box::new(move |txn| {
            let result = f(txn);
            let spoiled = matches!(&result, Err(e) if *e != StoreError::Conflict);
            let done: Completion = Box::new(move |commit| {
                let _ = tx.send(commit.and(result));
            });
            (done, spoiled)
        });
        let stopped = || StoreError::Unavailable("the store writer has stopped".into());
        self.inner
            .jobs
            .as_ref()
            .ok_or_else(stopped)?
            .send(job)
            .map_err(|_| stopped())?;
        rx.await
            .map_err(|_| StoreError::Unavailable("the write was not committed".into()))?
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

fn init_tables(db: &Database) -> Result<(), StoreError> {
    let txn = db
        .begin_write()
        .map_err(|e| unavailable("initializing", e))?;
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
        txn.open_table(ATTEMPTS).map_err(e)?;
        txn.open_table(OUTBOX).map_err(e)?;
        txn.open_table(META).map_err(e)?;
    }
    txn.commit().map_err(|e| unavailable("initializing", e))
}

fn writer_loop(db: &Database, rx: &mpsc::Receiver<Job>, durability: Durability, notify: &Notify) {
    while let Ok(first) = rx.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let result = commit_batch(db, batch, durability);
        if result {
            notify.notify_one();
        }
    }
}

/// Runs a batch in one transaction; returns whether it committed.
fn commit_batch(db: &Database, batch: Vec<Job>, durability: Durability) -> bool {
    let mut txn = match db.begin_write() {
        Ok(t) => t,
        Err(e) => {
            // Dropping the jobs unblocks their callers with "not committed".
            tracing::error!(error = %e, "cannot start a store transaction");
            drop(batch);
            return false;
        }
    };
    if durability == Durability::NoSync {
        let _ = txn.set_durability(redb::Durability::None);
    }
    let mut done = Vec::with_capacity(batch.len());
    let mut spoiled = false;
    for job in batch {
        let (completion, bad) = job(&txn);
        spoiled |= bad;
        done.push(completion);
    }
    let outcome = if spoiled {
        txn.abort().ok();
        Err(StoreError::Unavailable(
            "a write in the same commit failed".into(),
        ))
    } else {
        txn.commit().map_err(|e| unavailable("committing", e))
    };
    let ok = outcome.is_ok();
    if let Err(e) = &outcome {
        tracing::error!(error = %e, "store commit failed");
    }
    for d in done {
        d(outcome.clone());
    }
    ok
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

/// Next value of a counter in `meta`, inside the write transaction.
pub(crate) fn next_seq(txn: &WriteTransaction, name: &str) -> Result<u64, StoreError> {
    let mut meta = txn.open_table(META).map_err(|e| unavailable("meta", e))?;
    let next = meta
        .get(name)
        .map_err(|e| unavailable("meta", e))?
        .map_or(1, |v| v.value() + 1);
    meta.insert(name, next)
        .map_err(|e| unavailable("meta", e))?;
    Ok(next)
}

/// Appends events to the outbox in the current transaction.
pub(crate) fn append_outbox(
    txn: &WriteTransaction,
    events: &[DomainEvent],
) -> Result<(), StoreError> {
    if events.is_empty() {
        return Ok(());
    }
    let mut seqs = Vec::with_capacity(events.len());
    for _ in events {
        seqs.push(next_seq(txn, "outbox")?);
    }
    let mut t = txn
        .open_table(OUTBOX)
        .map_err(|e| unavailable("outbox", e))?;
    for (seq, ev) in seqs.into_iter().zip(events) {
        t.insert(seq, to_json(ev)?.as_slice())
            .map_err(|e| unavailable("outbox", e))?;
    }
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
