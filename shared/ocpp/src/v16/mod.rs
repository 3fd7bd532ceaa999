//! OCPP 1.6J messages (core profiles and the security extension).

pub mod schema;
pub mod types;
