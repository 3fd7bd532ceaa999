//! The in-process event bus of `cpms serve`, and the relay that moves committed events from the store's
//! outbox onto it. Delivery is at least once: an event is removed from the outbox only after the bus took
//! it, and consumers deduplicate on the event id (as they must on EventBridge + SQS).

use std::sync::{Arc, RwLock};
use std::time::Duration;

use async_trait::async_trait;
use cpms_domain::events::DomainEvent;
use cpms_ports::{EventPublisher, StoreError};
use tokio::sync::{mpsc, watch};

use crate::EmbeddedStore;

/// Delivers events to every subscribed consumer, each through its own queue.
#[derive(Default)]
pub struct InProcessBus {
    subscribers: RwLock<Vec<(String, mpsc::Sender<DomainEvent>)>>,
}

impl InProcessBus {
    /// A bus without subscribers.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a consumer; it receives every event published from now on.
    pub fn subscribe(&self, name: &str, capacity: usize) -> mpsc::Receiver<DomainEvent> {
        let (tx, rx) = mpsc::channel(capacity.max(1));
        self.subscribers
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .push((name.to_string(), tx));
        rx
    }
}

#[async_trait]
impl EventPublisher for InProcessBus {
    async fn publish(&self, events: &[DomainEvent]) -> Result<(), StoreError> {
        let subs = self
            .subscribers
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        for (name, tx) in subs {
            for ev in events {
                if tx.send(ev.clone()).await.is_err() {
                    tracing::warn!(consumer = %name, "consumer stopped; event not delivered to it");
                    break;
                }
            }
        }
        Ok(())
    }
}

/// Moves events from the outbox to a publisher.
pub struct OutboxRelay {
    store: EmbeddedStore,
    publisher: Arc<dyn EventPublisher>,
}

impl OutboxRelay {
    /// A relay from `store`'s outbox to `publisher`.
    pub fn new(store: EmbeddedStore, publisher: Arc<dyn EventPublisher>) -> Self {
        OutboxRelay { store, publisher }
    }

    /// Delivers what is in the outbox now; returns how many events were delivered.
    pub async fn drain_once(&self) -> Result<usize, StoreError> {
        let mut total = 0;
        loop {
            let batch = self.store.outbox_peek(256)?;
            if batch.is_empty() {
                return Ok(total);
            }
            let (seqs, events): (Vec<u64>, Vec<DomainEvent>) = batch.into_iter().unzip();
            self.publisher.publish(&events).await?;
            self.store.outbox_ack(seqs).await?;
            total += events.len();
        }
    }

    /// Runs until `stop` turns true: drains after every commit, and every second in any case.
    pub async fn run(self, mut stop: watch::Receiver<bool>) {
        let committed = self.store.committed();
        loop {
            if let Err(e) = self.drain_once().await {
                tracing::warn!(error = %e, "outbox relay will retry");
            }
            tokio::select! {
                _ = committed.notified() => {}
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                _ = stop.changed() => return,
            }
            if *stop.borrow() {
                return;
            }
        }
    }
}
