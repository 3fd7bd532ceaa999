//! The outbox: domain events written in the same transaction as the change that implies them, handed to
//! the consumers by the outbox relay and removed once all of them have settled them; and the dead
//! letters, events a consumer failed too often.

use cpms_domain::events::DomainEvent;
use cpms_ports::StoreError;
use redb::ReadableTable;

use super::{DEAD_LETTERS, EmbeddedStore, OUTBOX, from_json, unavailable};

impl EmbeddedStore {
    /// The oldest events in the outbox, with their sequence numbers.
    pub fn outbox_peek(&self, limit: usize) -> Result<Vec<(u64, DomainEvent)>, StoreError> {
        self.outbox_after(None, limit)
    }

    /// The oldest events after sequence `after` (all of them when `None`).
    pub fn outbox_after(
        &self,
        after: Option<u64>,
        limit: usize,
    ) -> Result<Vec<(u64, DomainEvent)>, StoreError> {
        self.read(|txn| {
            let t = txn
                .open_table(OUTBOX)
                .map_err(|e| unavailable("outbox", e))?;
            let range = match after {
                Some(s) if s == u64::MAX => return Ok(Vec::new()),
                Some(s) => t.range(s + 1..),
                None => t.range(0..),
            }
            .map_err(|e| unavailable("outbox", e))?;
            let mut out = Vec::new();
            for entry in range.take(limit) {
                let (k, v) = entry.map_err(|e| unavailable("outbox", e))?;
                out.push((k.value(), from_json("outbox", v.value())?));
            }
            Ok(out)
        })
    }

    /// One event of the outbox, if it is still there.
    pub fn outbox_get(&self, seq: u64) -> Result<Option<DomainEvent>, StoreError> {
        self.read(|txn| {
            let t = txn
                .open_table(OUTBOX)
                .map_err(|e| unavailable("outbox", e))?;
            let v = t.get(seq).map_err(|e| unavailable("outbox", e))?;
            v.map(|v| from_json("outbox", v.value())).transpose()
        })
    }

    /// Forgets events every consumer has settled. Not waited to be durable: a crash that undoes it only
    /// hands the events out again.
    pub async fn outbox_ack(&self, seqs: Vec<u64>) -> Result<(), StoreError> {
        self.write_lazy(move |txn| {
            let mut t = txn
                .open_table(OUTBOX)
                .map_err(|e| unavailable("outbox", e))?;
            for s in seqs {
                t.remove(s).map_err(|e| unavailable("outbox", e))?;
            }
            Ok(())
        })
        .await
    }

    /// Keeps the outbox event `seq` as a dead letter of `consumer`.
    pub async fn dead_letter(&self, consumer: &str, seq: u64) -> Result<(), StoreError> {
        let consumer = consumer.to_string();
        self.write(move |txn| {
            let bytes = {
                let t = txn
                    .open_table(OUTBOX)
                    .map_err(|e| unavailable("outbox", e))?;
                let v = t.get(seq).map_err(|e| unavailable("outbox", e))?;
                v.map(|v| v.value().to_vec())
            };
            if let Some(bytes) = bytes {
                let mut d = txn
                    .open_table(DEAD_LETTERS)
                    .map_err(|e| unavailable("dead letters", e))?;
                d.insert((consumer.as_str(), seq), bytes.as_slice())
                    .map_err(|e| unavailable("dead letters", e))?;
            }
            Ok(())
        })
        .await
    }

    /// The dead letters of `consumer`, oldest first.
    pub fn dead_letters(
        &self,
        consumer: &str,
        limit: usize,
    ) -> Result<Vec<DomainEvent>, StoreError> {
        self.read(|txn| {
            let t = txn
                .open_table(DEAD_LETTERS)
                .map_err(|e| unavailable("dead letters", e))?;
            let mut out = Vec::new();
            let range = t
                .range((consumer, 0)..=(consumer, u64::MAX))
                .map_err(|e| unavailable("dead letters", e))?;
            for entry in range.take(limit) {
                let (_, v) = entry.map_err(|e| unavailable("dead letters", e))?;
                out.push(from_json("dead letter", v.value())?);
            }
            Ok(out)
        })
    }
}
