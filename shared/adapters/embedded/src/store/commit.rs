//! Group commit. Writes are serialized through one transaction at a time, and every caller is answered
//! only after the transaction holding its write is committed (durably, with fsync).
//!
//! When no commit is running, the caller commits its own write at once, on its own thread: waking a
//! dedicated thread and being woken back costs more than the commit itself on small machines (about
//! 47 µs per round trip measured here, against 20 µs for the commit). While a commit runs, further writes
//! queue up; the writer thread then takes the whole queue in one transaction and one fsync, and keeps
//! doing so as long as writes keep arriving. So an idle store answers fast, and a busy one shares fsyncs.
//!
//! With a commit window (`cpms serve --commit-window-ms`), a write that finds the store idle is not
//! committed at once: the writer thread waits up to the window for more writes and commits them all in
//! one transaction. A commit costs about as much as the writes in it together (fsync, page allocation,
//! the table roots), so at moderate rates (hundreds of chargers a second, each alone at its moment) this
//! divides the store's work per message by the number of writes a window gathers, for at most the
//! window's latency. Under load the window adds nothing: writes queue behind the running commit anyway.
//!
//! Some writes need not be durable at once (the outbox relay forgetting events every consumer settled:
//! if a crash undoes that, the events are only handed out again, and consumers are idempotent). A batch
//! of only such writes commits without fsync; the next durable commit makes it durable too.

use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use cpms_ports::StoreError;
use redb::{Database, WriteTransaction};
use tokio::sync::{Notify, oneshot};

use super::{Durability, unavailable};

/// How many writes one commit takes at most.
const MAX_BATCH: usize = 512;

/// The result of one write, delivered after its commit.
type Completion = Box<dyn FnOnce(Result<(), StoreError>) + Send>;
/// A write: runs inside the shared transaction; `true` when it failed in a way that spoils the whole
/// transaction (then every write of the batch fails and may be retried).
type Job = Box<dyn FnOnce(&WriteTransaction) -> (Completion, bool) + Send>;

/// A queued write and whether it may wait for a later commit's fsync.
struct Queued {
    job: Job,
    lazy: bool,
}

struct State {
    queue: Vec<Queued>,
    /// A commit is running (by a caller or the writer thread).
    busy: bool,
    /// The writer thread owns the commits until the queue is empty.
    writer_turn: bool,
    /// With a window: when the first write of the next batch arrived at an idle store.
    gather_since: Option<Instant>,
    closed: bool,
}

struct Shared {
    db: Arc<Database>,
    state: Mutex<State>,
    wake: Condvar,
    committed: Arc<Notify>,
    durability: Durability,
    /// Tells whether a transaction appended to the outbox.
    seq: Arc<super::Seq>,
    /// How long a write arriving at an idle store waits for others (zero: it commits at once).
    window: Duration,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Commits writes to the database.
pub(crate) struct Committer {
    shared: Arc<Shared>,
    writer: Option<JoinHandle<()>>,
}

impl Committer {
    /// Starts the writer thread.
    pub(crate) fn start(
        db: Arc<Database>,
        durability: Durability,
        seq: Arc<super::Seq>,
        window: Duration,
    ) -> Result<Self, StoreError> {
        let shared = Arc::new(Shared {
            db,
            state: Mutex::new(State {
                queue: Vec::new(),
                busy: false,
                writer_turn: false,
                gather_since: None,
                closed: false,
            }),
            wake: Condvar::new(),
            committed: Arc::new(Notify::new()),
            durability,
            seq,
            window,
        });
        let s = shared.clone();
        let writer = std::thread::Builder::new()
            .name("cpms-store-writer".into())
            .spawn(move || writer_loop(&s))
            .map_err(|e| unavailable("starting the writer", e))?;
        Ok(Committer {
            shared,
            writer: Some(writer),
        })
    }

    /// Signalled after a commit that appended to the outbox (a commit without events wakes nobody).
    pub(crate) fn committed(&self) -> Arc<Notify> {
        self.shared.committed.clone()
    }

    /// Runs `f` in a transaction and returns its result once that transaction is committed.
    pub(crate) async fn write<R: Send + 'static>(
        &self,
        f: impl FnOnce(&WriteTransaction) -> Result<R, StoreError> + Send + 'static,
    ) -> Result<R, StoreError> {
        self.write_with(f, false).await
    }

    /// [`Committer::write`] for a write that may be lost in a crash: answered after its commit, which
    /// waits for the disk only if a durable write shares it.
    pub(crate) async fn write_lazy<R: Send + 'static>(
        &self,
        f: impl FnOnce(&WriteTransaction) -> Result<R, StoreError> + Send + 'static,
    ) -> Result<R, StoreError> {
        self.write_with(f, true).await
    }

    async fn write_with<R: Send + 'static>(
        &self,
        f: impl FnOnce(&WriteTransaction) -> Result<R, StoreError> + Send + 'static,
        lazy: bool,
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
        self.submit(Queued { job, lazy })?;
        rx.await
            .map_err(|_| StoreError::Unavailable("the write was not committed".into()))?
    }
}

impl Committer {
    /// Commits `job` here if nothing is committing, else queues it for the running commits.
    fn submit(&self, job: Queued) -> Result<(), StoreError> {
        let sh = &self.shared;
        let mut s = sh.lock();
        if s.closed {
            return Err(StoreError::Unavailable("the store is closed".into()));
        }
        if s.busy {
            s.queue.push(job);
            return Ok(());
        }
        if !sh.window.is_zero() {
            // Gather: the writer thread commits this write with those arriving within the window.
            s.queue.push(job);
            s.busy = true;
            s.writer_turn = true;
            s.gather_since = Some(Instant::now());
            sh.wake.notify_one();
            return Ok(());
        }
        // Nothing is committing: commit this write here and now. The commit is short (one fsync), so
        // blocking this thread for it costs less than a thread hand-off.
        s.busy = true;
        drop(s);
        commit_batch(sh, vec![job]);
        let mut s = sh.lock();
        if s.queue.is_empty() {
            s.busy = false;
        } else {
            s.writer_turn = true;
            sh.wake.notify_one();
        }
        Ok(())
    }
}

impl Drop for Committer {
    fn drop(&mut self) {
        self.shared.lock().closed = true;
        self.shared.wake.notify_all();
        if let Some(w) = self.writer.take() {
            let _ = w.join();
        }
    }
}

fn writer_loop(sh: &Shared) {
    loop {
        let batch = {
            let mut s = sh.lock();
            loop {
                if s.writer_turn {
                    if s.queue.is_empty() {
                        s.writer_turn = false;
                        s.busy = false;
                    } else {
                        if let Some(since) = s.gather_since {
                            let left = sh.window.saturating_sub(since.elapsed());
                            if !left.is_zero() && s.queue.len() < MAX_BATCH && !s.closed {
                                s = sh
                                    .wake
                                    .wait_timeout(s, left)
                                    .map(|(g, _)| g)
                                    .unwrap_or_else(|e| e.into_inner().0);
                                continue;
                            }
                            s.gather_since = None;
                        }
                        let n = s.queue.len().min(MAX_BATCH);
                        break s.queue.drain(..n).collect::<Vec<_>>();
                    }
                }
                if s.closed && !s.busy {
                    if s.queue.is_empty() {
                        return;
                    }
                    s.busy = true;
                    s.writer_turn = true;
                    continue;
                }
                s = sh.wake.wait(s).unwrap_or_else(|e| e.into_inner());
            }
        };
        commit_batch(sh, batch);
    }
}

/// Runs a batch in one transaction and tells every write how it ended.
fn commit_batch(sh: &Shared, batch: Vec<Queued>) {
    let started = std::time::Instant::now();
    metrics::histogram!("cpms_store_commit_writes").record(batch.len() as f64);
    let mut txn = match sh.db.begin_write() {
        Ok(t) => t,
        Err(e) => {
            // Dropping the jobs answers their callers "not committed".
            tracing::error!(error = %e, "cannot start a store transaction");
            return;
        }
    };
    let lazy = batch.iter().all(|q| q.lazy);
    if sh.durability == Durability::NoSync || lazy {
        let _ = txn.set_durability(redb::Durability::None);
    }
    metrics::counter!("cpms_store_commits_total", "fsync" => if lazy { "no" } else { "yes" })
        .increment(1);
    let mut done = Vec::with_capacity(batch.len());
    let mut spoiled = false;
    for q in batch {
        let (completion, bad) = (q.job)(&txn);
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
    metrics::histogram!("cpms_store_commit_seconds").record(started.elapsed().as_secs_f64());
    if let Err(e) = &outcome {
        metrics::counter!("cpms_store_commit_failures_total").increment(1);
        tracing::error!(error = %e, "store commit failed");
    }
    for d in done {
        d(outcome.clone());
    }
    if sh.seq.take_events() && outcome.is_ok() {
        sh.committed.notify_one();
    }
}
