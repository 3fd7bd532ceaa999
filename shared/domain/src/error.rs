//! Errors of the domain: invalid identifiers and values given by operators or chargers.

/// A value the domain refuses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DomainError {
    /// An identifier that breaks its format rules.
    #[error("invalid {what}: {reason}")]
    InvalidId {
        /// Which identifier.
        what: &'static str,
        /// Why.
        reason: String,
    },
    /// Any other invalid value.
    #[error("invalid {field}: {reason}")]
    Invalid {
        /// Which field.
        field: &'static str,
        /// Why.
        reason: String,
    },
}
