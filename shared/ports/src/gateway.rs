//! The charger gateway: "send this frame to that connection" (API Gateway's management API on AWS, the
//! local WebSocket server in `cpms serve`).

use async_trait::async_trait;

/// Why a frame could not be delivered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GatewayError {
    /// The connection no longer exists: the charger is gone.
    #[error("connection gone")]
    Gone,
    /// The gateway could not be reached or failed; retrying may help.
    #[error("gateway unavailable: {0}")]
    Unavailable(String),
}

/// Sends frames to connected chargers.
#[async_trait]
pub trait ChargerGateway: Send + Sync {
    /// Sends one text frame to a connection.
    async fn send(&self, connection_id: &str, frame: &str) -> Result<(), GatewayError>;
    /// Closes a connection.
    async fn close(&self, connection_id: &str) -> Result<(), GatewayError>;
}
