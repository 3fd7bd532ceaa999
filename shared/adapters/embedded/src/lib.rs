//! Embedded adapters: what `cpms serve` runs on. A persistent store in one redb file (group commit: each
//! answer to a charger waits for its write to be durable, and concurrent writes share one fsync), its
//! outbox feeding an in-process event bus, and an in-memory registry of live connections.

pub mod bus;
pub mod registry;
pub mod store;

pub use bus::{InProcessBus, OutboxRelay};
pub use registry::MemoryRegistry;
pub use store::{Durability, EmbeddedStore};
