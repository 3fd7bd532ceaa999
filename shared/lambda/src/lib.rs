//! What the Lambda functions share: reading their configuration once at start (failing fast), building
//! the application on the configured adapters, and translating API Gateway WebSocket events to and from
//! the application's connect / message / disconnect handlers.

pub mod backend;
pub mod websocket;

pub use backend::{Backend, ConfigError};

/// JSON logs to stdout (CloudWatch), level from `RUST_LOG` (default `info`).
pub fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(false)
        .without_time()
        .init();
}
