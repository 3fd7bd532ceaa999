//! Errors of the domain: invalid identifiers and values given by operators or chargers.

/// Checks a text field an operator gives: 1 to `max` characters once trimmed, none of them control
/// characters.
pub(crate) fn check_text(field: &'static str, v: &str, max: usize) -> Result<(), DomainError> {
    let n = v.trim().chars().count();
    if n == 0 || n > max || v.chars().any(char::is_control) {
        return Err(DomainError::Invalid {
            field,
            reason: format!("must be 1 to {max} printable characters"),
        });
    }
    Ok(())
}

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
