//! Domain events to an EventBridge bus. Each event becomes one entry: source `cpms`, detail-type the
//! event's versioned type name (`session.ended.v1`), detail the whole event as JSON (with its id, which
//! consumers deduplicate on). Rules on the bus route types to the consumers' queues.

use async_trait::async_trait;
use aws_sdk_eventbridge::Client;
use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use cpms_domain::events::DomainEvent;
use cpms_ports::{EventPublisher, StoreError};

/// The event source name on the bus.
pub const SOURCE: &str = "cpms";

/// Entries per PutEvents request (the service's limit).
const BATCH: usize = 10;

/// Publishes to one bus.
#[derive(Clone)]
pub struct EventBridgePublisher {
    client: Client,
    bus: String,
}

impl EventBridgePublisher {
    /// A publisher to `bus`.
    pub fn new(client: Client, bus: &str) -> Self {
        EventBridgePublisher {
            client,
            bus: bus.to_string(),
        }
    }
}

/// The `type` of an event (`session.ended.v1`).
pub fn type_name(e: &DomainEvent) -> String {
    serde_json::to_value(&e.body)
        .ok()
        .and_then(|v| v.get("type").and_then(|t| t.as_str()).map(str::to_string))
        .unwrap_or_default()
}

#[async_trait]
impl EventPublisher for EventBridgePublisher {
    async fn publish(&self, events: &[DomainEvent]) -> Result<(), StoreError> {
        for chunk in events.chunks(BATCH) {
            let mut req = self.client.put_events();
            for e in chunk {
                let detail =
                    serde_json::to_string(e).map_err(|e| StoreError::Unavailable(e.to_string()))?;
                req = req.entries(
                    PutEventsRequestEntry::builder()
                        .source(SOURCE)
                        .detail_type(type_name(e))
                        .detail(detail)
                        .event_bus_name(&self.bus)
                        .build(),
                );
            }
            let out = req.send().await.map_err(|e| {
                StoreError::Unavailable(format!("eventbridge: {}", crate::describe(&e)))
            })?;
            if out.failed_entry_count > 0 {
                return Err(StoreError::Unavailable(format!(
                    "eventbridge refused {} of {} events",
                    out.failed_entry_count,
                    chunk.len()
                )));
            }
        }
        Ok(())
    }
}
