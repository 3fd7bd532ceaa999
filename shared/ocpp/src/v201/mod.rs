//! OCPP 2.0.1 messages.

pub mod schema;
pub mod types;
