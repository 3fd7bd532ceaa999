//! The in-process event bus of `cpms serve`, and the relay that hands committed events from the store's
//! outbox to its consumers. An event leaves the outbox only once every consumer has settled it
//! ([`Delivery::done`]): a crash before that (the consumer's queue is memory) loses nothing, because the
//! relay starts again from what the outbox holds. A consumer that fails an event (drops its delivery)
//! gets it again after a growing delay; after [`MAX_ATTEMPTS`] it goes to the dead letters (kept in the
//! store, as SQS's dead-letter queues do on AWS). Consumers deduplicate on the event id.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBackoff, ExponentialBuilder};
use cpms_domain::events::DomainEvent;
use cpms_ports::{Delivery, Receipt, StoreError};
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

use crate::EmbeddedStore;

/// Deliveries of one event to one consumer before it is a dead letter.
pub const MAX_ATTEMPTS: u32 = 8;

/// Hands each event to the consumers subscribed to its type, each through its own queue.
#[derive(Default)]
pub struct InProcessBus {
    subscribers: RwLock<Vec<Subscriber>>,
}

#[derive(Clone)]
struct Subscriber {
    name: String,
    /// It receives only the types routed to its name; otherwise all.
    routed: bool,
    tx: mpsc::Sender<Delivery>,
}

impl Subscriber {
    fn wants(&self, ev: &DomainEvent) -> bool {
        !self.routed || cpms_domain::events::is_routed(&self.name, ev)
    }
}

impl InProcessBus {
    /// A bus without subscribers.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a consumer with a queue of `capacity`; it receives every event still in the outbox.
    pub fn subscribe(&self, name: &str, capacity: usize) -> mpsc::Receiver<Delivery> {
        self.add(name, capacity, false)
    }

    /// Adds a consumer that receives the event types routed to it
    /// ([`cpms_domain::events::routed_to`], as EventBridge does on AWS).
    pub fn subscribe_routed(&self, name: &str, capacity: usize) -> mpsc::Receiver<Delivery> {
        self.add(name, capacity, true)
    }

    fn add(&self, name: &str, capacity: usize, routed: bool) -> mpsc::Receiver<Delivery> {
        let (tx, rx) = mpsc::channel(capacity.max(1));
        self.subscribers
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .push(Subscriber {
                name: name.to_string(),
                routed,
                tx,
            });
        rx
    }

    fn subscribers(&self) -> Vec<Subscriber> {
        self.subscribers
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

/// A consumer settled an event.
struct Settled {
    seq: u64,
    consumer: usize,
    done: bool,
}

struct OutboxReceipt {
    seq: u64,
    consumer: usize,
    tx: mpsc::UnboundedSender<Settled>,
}

impl Receipt for OutboxReceipt {
    fn settle(self: Box<Self>, done: bool) {
        let _ = self.tx.send(Settled {
            seq: self.seq,
            consumer: self.consumer,
            done,
        });
    }
}

/// Moves events from the outbox to the bus's consumers and forgets them once all have settled them.
pub struct OutboxRelay {
    store: EmbeddedStore,
    bus: Arc<InProcessBus>,
    settled_tx: mpsc::UnboundedSender<Settled>,
    settled_rx: mpsc::UnboundedReceiver<Settled>,
    /// The newest sequence handed out (everything after it is new).
    handed_out: Option<u64>,
    /// Per event handed out, the consumers that have not settled it.
    open: HashMap<u64, usize>,
    /// Per (event, consumer) that failed: its next delays.
    failing: HashMap<(u64, usize), (u32, ExponentialBackoff)>,
    /// Redeliveries, soonest first.
    retries: BinaryHeap<Reverse<(Instant, u64, usize)>>,
    /// The first and the longest delay before a failed event is delivered again.
    retry_delays: (Duration, Duration),
}

impl OutboxRelay {
    /// A relay from `store`'s outbox to the consumers of `bus`.
    pub fn new(store: EmbeddedStore, bus: Arc<InProcessBus>) -> Self {
        let (settled_tx, settled_rx) = mpsc::unbounded_channel();
        OutboxRelay {
            store,
            bus,
            settled_tx,
            settled_rx,
            handed_out: None,
            open: HashMap::new(),
            failing: HashMap::new(),
            retries: BinaryHeap::new(),
            retry_delays: (Duration::from_secs(1), Duration::from_secs(300)),
        }
    }

    /// Changes the delays before a failed event is delivered again (1 s doubling to 5 minutes).
    pub fn with_retry_delays(mut self, first: Duration, longest: Duration) -> Self {
        self.retry_delays = (first, longest);
        self
    }

    /// Hands out what was committed since the last call; returns how many events it handed out.
    pub async fn drain_once(&mut self) -> Result<usize, StoreError> {
        let mut total = 0;
        loop {
            let batch = self.store.outbox_after(self.handed_out, 256)?;
            if batch.is_empty() {
                return Ok(total);
            }
            let subs = self.bus.subscribers();
            let mut unwanted = Vec::new();
            for (seq, ev) in batch {
                self.handed_out = Some(seq);
                total += 1;
                let wanted = subs.iter().filter(|s| s.wants(&ev)).count();
                if wanted == 0 {
                    unwanted.push(seq);
                    continue;
                }
                self.open.insert(seq, wanted);
                for (i, sub) in subs.iter().enumerate().filter(|(_, s)| s.wants(&ev)) {
                    // Backpressure: a full consumer queue holds the relay (the outbox keeps the rest).
                    let _ = sub.tx.send(self.delivery(seq, i, ev.clone())).await;
                }
            }
            if !unwanted.is_empty() {
                self.store.outbox_ack(unwanted).await?;
            }
        }
    }

    fn delivery(&self, seq: u64, consumer: usize, event: DomainEvent) -> Delivery {
        let receipt = OutboxReceipt {
            seq,
            consumer,
            tx: self.settled_tx.clone(),
        };
        Delivery::new(event, Box::new(receipt))
    }

    /// Takes in every settlement that has arrived: finished events leave the outbox (one commit for all
    /// of them), failed ones are scheduled again or become dead letters. Returns how many left.
    pub async fn settle_pending(&mut self) -> Result<usize, StoreError> {
        let mut finished = Vec::new();
        while let Ok(s) = self.settled_rx.try_recv() {
            let done = s.done || self.failed(&s).await?;
            if done && let Some(left) = self.open.get_mut(&s.seq) {
                self.failing.remove(&(s.seq, s.consumer));
                *left = left.saturating_sub(1);
                if *left == 0 {
                    self.open.remove(&s.seq);
                    finished.push(s.seq);
                }
            }
        }
        let n = finished.len();
        if n > 0 {
            self.store.outbox_ack(finished).await?;
        }
        Ok(n)
    }

    /// A consumer failed an event: schedules it again; true when it is given up (a dead letter now).
    async fn failed(&mut self, s: &Settled) -> Result<bool, StoreError> {
        let (attempts, delays) = self
            .failing
            .entry((s.seq, s.consumer))
            .or_insert_with(|| (0, delays(self.retry_delays)));
        *attempts += 1;
        let name = self
            .bus
            .subscribers()
            .get(s.consumer)
            .map(|sub| sub.name.clone())
            .unwrap_or_default();
        match delays.next() {
            Some(d) if *attempts < MAX_ATTEMPTS => {
                tracing::warn!(consumer = %name, seq = s.seq, attempt = *attempts, retry_in = ?d, "an event failed; it is delivered again");
                self.retries
                    .push(Reverse((Instant::now() + d, s.seq, s.consumer)));
                Ok(false)
            }
            _ => {
                tracing::error!(consumer = %name, seq = s.seq, "an event failed {MAX_ATTEMPTS} times: kept as a dead letter");
                metrics::counter!("cpms_dead_letters_total", "consumer" => name.clone())
                    .increment(1);
                self.store.dead_letter(&name, s.seq).await?;
                Ok(true)
            }
        }
    }

    /// Delivers again the failed events whose delay is over.
    async fn redeliver_due(&mut self) -> Result<(), StoreError> {
        let now = Instant::now();
        while let Some(Reverse((due, seq, consumer))) = self.retries.peek().copied() {
            if due > now {
                break;
            }
            self.retries.pop();
            let subs = self.bus.subscribers();
            match (self.store.outbox_get(seq)?, subs.get(consumer)) {
                (Some(ev), Some(sub)) => {
                    let _ = sub.tx.send(self.delivery(seq, consumer, ev)).await;
                }
                _ => {
                    let _ = self.settled_tx.send(Settled {
                        seq,
                        consumer,
                        done: true,
                    });
                }
            }
        }
        Ok(())
    }

    /// Publishes the queue depths: events handed out and not settled, and each consumer's queue.
    fn gauges(&self) {
        metrics::gauge!("cpms_outbox_unsettled").set(self.open.len() as f64);
        metrics::gauge!("cpms_outbox_retrying").set(self.retries.len() as f64);
        let subs = self
            .bus
            .subscribers
            .read()
            .unwrap_or_else(|e| e.into_inner());
        for sub in subs.iter() {
            let depth = sub.tx.max_capacity() - sub.tx.capacity();
            metrics::gauge!("cpms_consumer_queue_depth", "consumer" => sub.name.clone())
                .set(depth as f64);
        }
    }

    fn next_retry(&self) -> Option<Instant> {
        self.retries.peek().map(|Reverse((due, _, _))| *due)
    }

    /// Runs until `stop` turns true: hands out after every commit (and every second in any case), takes
    /// settlements in as they come, and redelivers failed events when their delay is over.
    pub async fn run(mut self, mut stop: watch::Receiver<bool>) {
        let committed = self.store.committed();
        loop {
            if let Err(e) = self.drain_once().await {
                tracing::warn!(error = %e, "outbox relay will retry");
            }
            if let Err(e) = self.redeliver_due().await {
                tracing::warn!(error = %e, "outbox redelivery will retry");
            }
            self.gauges();
            let retry_at = self
                .next_retry()
                .unwrap_or_else(|| Instant::now() + Duration::from_secs(1));
            tokio::select! {
                _ = committed.notified() => {}
                _ = tokio::time::sleep_until(retry_at.min(Instant::now() + Duration::from_secs(1))) => {}
                Some(s) = self.settled_rx.recv() => {
                    // Put it back and take in everything that has arrived, in one commit.
                    let _ = self.settled_tx.send(s);
                    if let Err(e) = self.settle_pending().await {
                        tracing::warn!(error = %e, "outbox acknowledgement will retry");
                    }
                }
                _ = stop.changed() => {}
            }
            if *stop.borrow() {
                // What was settled is forgotten; the rest is handed out again at the next start.
                let _ = self.settle_pending().await;
                return;
            }
        }
    }
}

/// The delays between deliveries of a failing event: doubling from `first` to `longest`, with jitter.
fn delays((first, longest): (Duration, Duration)) -> ExponentialBackoff {
    ExponentialBuilder::default()
        .with_min_delay(first)
        .with_max_delay(longest)
        .with_factor(2.0)
        .with_jitter()
        .with_max_times(MAX_ATTEMPTS as usize)
        .build()
}
