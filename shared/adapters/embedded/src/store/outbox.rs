//! The outbox: domain events written in the same transaction as the change that implies them, read and
//! acknowledged by the outbox relay.

use cpms_domain::events::DomainEvent;
use cpms_ports::StoreError;
use redb::ReadableTable;

use super::{EmbeddedStore, OUTBOX, from_json, unavailable};

impl EmbeddedStore {
    /// The oldest undelivered events, with their sequence numbers.
    pub fn outbox_peek(&self, limit: usize) -> Result<Vec<(u64, DomainEvent)>, StoreError> {
        self.read(|txn| {
            let t = txn
                .open_table(OUTBOX)
                .map_err(|e| unavailable("outbox", e))?;
            let mut out = Vec::new();
            for entry in t.iter().map_err(|e| unavailable("outbox", e))?.take(limit) {
                let (k, v) = entry.map_err(|e| unavailable("outbox", e))?;
                out.push((k.value(), from_json("outbox", v.value())?));
            }
            Ok(out)
        })
    }

    /// Forgets delivered events.
    pub async fn outbox_ack(&self, seqs: Vec<u64>) -> Result<(), StoreError> {
        self.write(move |txn| {
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
}
