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
