//! The domain: chargers and their connectors, tokens and authorization, charging sessions (one model for
//! OCPP 1.6 and 2.0.1), meter samples in SI units, and the domain events derived from committed changes.
//! Pure: no I/O; time is passed in by the caller, who reads it from the injected clock.

pub mod access;
pub mod allocation;
pub mod audit;
pub mod billing;
pub mod charger;
pub mod command;
pub mod credentials;
pub mod error;
pub mod events;
pub mod ids;
pub mod incidents;
pub mod log;
pub mod meter;
pub mod normalize;
pub mod roaming;
pub mod session;
pub mod settings;
pub mod site;
pub mod tariff;
pub mod token;

pub use cpms_ocpp::OcppVersion;
pub use error::DomainError;
pub use ids::{ChargerId, SessionId, TenantId};
