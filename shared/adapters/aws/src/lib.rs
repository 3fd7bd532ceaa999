//! AWS adapters of the CPMS ports: the DynamoDB single-table store (every store port and the
//! connection registry), the EventBridge event publisher, the API Gateway management API as the charger
//! gateway, and the relay that turns the table's stream into domain events.

pub mod config;
pub mod dynamodb;
pub mod eventbridge;
pub mod gateway;
pub mod relay;

pub use dynamodb::DynamoStore;
pub use eventbridge::EventBridgePublisher;
pub use gateway::ApiGatewayManagement;

/// An SDK error as one line: what failed and each cause after it (the debug form dumps the response).
pub fn describe(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        out.push_str(": ");
        out.push_str(&c.to_string());
        cause = c.source();
    }
    out
}
