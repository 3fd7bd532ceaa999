//! CallError codes, spelled the way each OCPP version spells them, and the CallError a CSMS answers with.

use serde_json::{Map, Value};

use crate::OcppVersion;

/// The RPC framework error codes of OCPP-J.
///
/// 1.6 spells two of them differently (`FormationViolation`, `OccurenceConstraintViolation`: the 1.6
/// errata keeps the typos). 2.0.1 adds `MessageTypeNotSupported` and `RpcFrameworkError`; a 1.6 peer gets
/// `FormationViolation` for those (the frame does not conform to the PDU structure).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// Requested action is not known by the receiver.
    NotImplemented,
    /// Requested action is recognized but not supported by the receiver.
    NotSupported,
    /// The receiver failed while processing the action.
    InternalError,
    /// Payload for the action is incomplete.
    ProtocolError,
    /// The sender is not allowed to call the action (e.g. before its BootNotification was accepted).
    SecurityError,
    /// Payload is syntactically incorrect or does not conform to the PDU structure.
    FormatViolation,
    /// A field contains an invalid value (enumeration, length, range).
    PropertyConstraintViolation,
    /// A field occurs too often or too rarely (required field missing, array bounds).
    OccurrenceConstraintViolation,
    /// A field has the wrong data type.
    TypeConstraintViolation,
    /// Any other error.
    GenericError,
    /// The message type number is not one the receiver supports (2.0.1).
    MessageTypeNotSupported,
    /// The content is not a valid RPC request, e.g. the message id cannot be read (2.0.1).
    RpcFrameworkError,
}

impl ErrorCode {
    /// The code as `version` spells it on the wire.
    pub fn as_str(self, version: OcppVersion) -> &'static str {
        use ErrorCode::*;
        let v16 = version == OcppVersion::V16;
        match self {
            NotImplemented => "NotImplemented",
            NotSupported => "NotSupported",
            InternalError => "InternalError",
            ProtocolError => "ProtocolError",
            SecurityError => "SecurityError",
            FormatViolation if v16 => "FormationViolation",
            FormatViolation => "FormatViolation",
            PropertyConstraintViolation => "PropertyConstraintViolation",
            OccurrenceConstraintViolation if v16 => "OccurenceConstraintViolation",
            OccurrenceConstraintViolation => "OccurrenceConstraintViolation",
            TypeConstraintViolation => "TypeConstraintViolation",
            GenericError => "GenericError",
            MessageTypeNotSupported | RpcFrameworkError if v16 => "FormationViolation",
            MessageTypeNotSupported => "MessageTypeNotSupported",
            RpcFrameworkError => "RpcFrameworkError",
        }
    }

    /// Reads a code in either version's spelling.
    pub fn parse(code: &str) -> Option<Self> {
        use ErrorCode::*;
        Some(match code {
            "NotImplemented" => NotImplemented,
            "NotSupported" => NotSupported,
            "InternalError" => InternalError,
            "ProtocolError" => ProtocolError,
            "SecurityError" => SecurityError,
            "FormationViolation" | "FormatViolation" => FormatViolation,
            "PropertyConstraintViolation" => PropertyConstraintViolation,
            "OccurenceConstraintViolation" | "OccurrenceConstraintViolation" => {
                OccurrenceConstraintViolation
            }
            "TypeConstraintViolation" => TypeConstraintViolation,
            "GenericError" => GenericError,
            "MessageTypeNotSupported" => MessageTypeNotSupported,
            "RpcFrameworkError" => RpcFrameworkError,
            _ => return None,
        })
    }
}

/// The longest errorDescription OCPP-J allows.
pub const MAX_DESCRIPTION_CHARS: usize = 255;

/// A CallError the CSMS answers a CALL with.
#[derive(Debug, Clone, PartialEq)]
pub struct CallError {
    /// The error code.
    pub code: ErrorCode,
    /// Human-readable description, at most 255 characters once written.
    pub description: String,
    /// Extra details; written as `{}` when empty.
    pub details: Map<String, Value>,
}

impl CallError {
    /// A CallError with a description and no details.
    pub fn new(code: ErrorCode, description: impl Into<String>) -> Self {
        CallError {
            code,
            description: description.into(),
            details: Map::new(),
        }
    }

    /// Adds one detail entry.
    pub fn with_detail(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.details.insert(key.to_string(), value.into());
        self
    }

    /// The description cut to the 255 characters OCPP-J allows (at a character boundary).
    pub fn wire_description(&self) -> &str {
        match self.description.char_indices().nth(MAX_DESCRIPTION_CHARS) {
            Some((i, _)) => &self.description[..i],
            None => &self.description,
        }
    }
}

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}: {}", self.code, self.description)
    }
}

impl std::error::Error for CallError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_version_gets_its_own_spelling() {
        use ErrorCode::*;
        assert_eq!(
            FormatViolation.as_str(OcppVersion::V16),
            "FormationViolation"
        );
        assert_eq!(FormatViolation.as_str(OcppVersion::V201), "FormatViolation");
        assert_eq!(
            OccurrenceConstraintViolation.as_str(OcppVersion::V16),
            "OccurenceConstraintViolation"
        );
        assert_eq!(
            OccurrenceConstraintViolation.as_str(OcppVersion::V201),
            "OccurrenceConstraintViolation"
        );
        assert_eq!(
            MessageTypeNotSupported.as_str(OcppVersion::V201),
            "MessageTypeNotSupported"
        );
        assert_eq!(
            MessageTypeNotSupported.as_str(OcppVersion::V16),
            "FormationViolation"
        );
    }

    #[test]
    fn both_spellings_are_read() {
        for s in [
            "FormationViolation",
            "FormatViolation",
            "OccurenceConstraintViolation",
            "OccurrenceConstraintViolation",
        ] {
            assert!(ErrorCode::parse(s).is_some(), "{s}");
        }
        assert_eq!(ErrorCode::parse("Bogus"), None);
    }

    #[test]
    fn description_is_cut_at_255_characters() {
        let e = CallError::new(ErrorCode::GenericError, "é".repeat(300));
        assert_eq!(e.wire_description().chars().count(), 255);
    }
}
