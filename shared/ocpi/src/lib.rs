//! OCPI 2.2.1 as the CPO side speaks it: the objects of the modules (versions, credentials, locations
//! with their EVSEs and connectors, sessions, CDRs, tariffs, tokens, commands, charging profiles), the
//! response envelope and its status codes, pagination, the routing and tracing headers, and
//! `Authorization: Token`. Pure protocol: no I/O. Money is `Decimal`; times are RFC 3339 UTC (a time
//! without a zone is read as UTC, as the specification says); string lengths are the specification's,
//! checked by [`check::Check`] on what a partner sends.
//!
//! 2.1.1 is read where a partner only speaks it for the handshake ([`credentials::CredentialsV211`]);
//! the functional modules are 2.2.1.

pub mod auth;
pub mod cdrs;
pub mod charging_profiles;
pub mod check;
pub mod commands;
pub mod credentials;
pub mod envelope;
pub mod headers;
pub mod locations;
pub mod page;
pub mod sessions;
pub mod status;
pub mod tariffs;
pub mod tokens;
pub mod types;
pub mod versions;

#[cfg(test)]
mod tests;

pub use envelope::Envelope;
pub use status::StatusCode;
