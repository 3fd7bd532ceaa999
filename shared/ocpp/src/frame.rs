//! OCPP-J RPC frames: `[2, id, action, payload]`, `[3, id, payload]`, `[4, id, code, description, details]`.
//!
//! Parsing never panics: whatever arrives becomes a [`Frame`] or a [`FrameError`] that names the CallError
//! to answer with and, when it can be read, the message id to answer to (`"-1"` otherwise, as OCPP 2.0.1
//! prescribes). A stray comma right after an opening bracket or before a closing one, which some
//! chargers write, is tolerated: the frame is read as if it were not there and [`Frame::repaired`]
//! reports it.

use serde::Serialize;
use serde_json::{Map, Value};

use crate::{CallError, ErrorCode, OcppVersion};

/// The longest message id OCPP-J allows.
pub const MAX_MESSAGE_ID_CHARS: usize = 36;

/// The id answered to when a frame's own id cannot be read.
pub const UNKNOWN_MESSAGE_ID: &str = "-1";

/// A CALL.
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    /// Message id.
    pub id: String,
    /// Action name.
    pub action: String,
    /// Payload (an object once validated).
    pub payload: Value,
}

/// A CALLRESULT.
#[derive(Debug, Clone, PartialEq)]
pub struct CallResult {
    /// Id of the CALL it answers.
    pub id: String,
    /// Payload.
    pub payload: Value,
}

/// A CALLERROR as received from a peer.
#[derive(Debug, Clone, PartialEq)]
pub struct CallErrorFrame {
    /// Id of the CALL it answers.
    pub id: String,
    /// The code as written (either version's spelling, or anything a peer invents).
    pub code: String,
    /// Description.
    pub description: String,
    /// Details.
    pub details: Value,
}

impl CallErrorFrame {
    /// The code, if it is one OCPP-J defines.
    pub fn error_code(&self) -> Option<ErrorCode> {
        ErrorCode::parse(&self.code)
    }
}

/// One parsed frame.
#[derive(Debug, Clone, PartialEq)]
pub enum Frame {
    /// A request.
    Call(Call),
    /// A successful answer.
    CallResult(CallResult),
    /// An error answer.
    CallError(CallErrorFrame),
}

/// Why a frame could not be read, and what to answer.
#[derive(Debug, Clone, PartialEq)]
pub struct FrameError {
    /// The id to answer to: the frame's own when it could be read, else `"-1"`.
    pub message_id: String,
    /// Whether the frame was a CALL (only a CALL is answered; a broken answer is dropped).
    pub answerable: bool,
    /// The error to answer with.
    pub error: CallError,
}

/// A parsed frame and whether it needed a repair.
#[derive(Debug, Clone, PartialEq)]
pub struct Parsed {
    /// The frame.
    pub frame: Frame,
    /// True when stray commas had to be skipped to read it.
    pub repaired: bool,
}

impl Frame {
    /// Reads one frame from the bytes of a WebSocket message.
    pub fn parse(bytes: &[u8]) -> Result<Parsed, FrameError> {
        match serde_json::from_slice::<Value>(bytes) {
            Ok(value) => Self::from_value(value, bytes).map(|frame| Parsed {
                frame,
                repaired: false,
            }),
            Err(first) => {
                if let Some(fixed) = skip_stray_commas(bytes)
                    && let Ok(value) = serde_json::from_slice::<Value>(&fixed)
                {
                    return Self::from_value(value, bytes).map(|frame| Parsed {
                        frame,
                        repaired: true,
                    });
                }
                let id = sniff_message_id(bytes);
                let (code, what) = if id.is_some() {
                    (ErrorCode::FormatViolation, "the frame is not valid JSON")
                } else {
                    (
                        ErrorCode::RpcFrameworkError,
                        "the frame is not valid JSON and its message id cannot be read",
                    )
                };
                Err(FrameError {
                    answerable: sniff_is_call(bytes),
                    message_id: id.unwrap_or_else(|| UNKNOWN_MESSAGE_ID.to_string()),
                    error: CallError::new(code, format!("{what}: {first}")),
                })
            }
        }
    }

    fn from_value(value: Value, raw: &[u8]) -> Result<Frame, FrameError> {
        let Value::Array(mut items) = value else {
            return Err(rpc_error(
                None,
                sniff_is_call(raw),
                "a frame must be a JSON array",
            ));
        };
        let type_id = items.first().and_then(Value::as_u64);
        let id = match items.get(1) {
            Some(Value::String(s)) => Some(s.clone()),
            _ => None,
        };
        let Some(type_id) = type_id else {
            // `["2", ...]`: a CALL with its type written as text still deserves an answer.
            let call_as_text = matches!(items.first(), Some(Value::String(t)) if t.trim() == "2");
            return Err(rpc_error(
                id,
                call_as_text,
                "the first element must be the message type number",
            ));
        };
        let Some(id) = id else {
            return Err(rpc_error(
                None,
                type_id == 2,
                "the second element must be the message id string",
            ));
        };
        if id.chars().count() > MAX_MESSAGE_ID_CHARS || id.is_empty() {
            return Err(rpc_error(
                Some(id),
                type_id == 2,
                "the message id must be 1 to 36 characters",
            ));
        }
        match (type_id, items.len()) {
            (2, 4) => {
                let payload = items.pop().unwrap_or(Value::Null);
                let Some(Value::String(action)) = items.pop() else {
                    return Err(rpc_error(
                        Some(id),
                        true,
                        "the third element of a CALL must be the action name",
                    ));
                };
                Ok(Frame::Call(Call {
                    id,
                    action,
                    payload,
                }))
            }
            (3, 3) => Ok(Frame::CallResult(CallResult {
                id,
                payload: items.pop().unwrap_or(Value::Null),
            })),
            (4, 4 | 5) => {
                let details = if items.len() == 5 {
                    items.pop().unwrap_or(Value::Null)
                } else {
                    Value::Object(Map::new())
                };
                let description = match items.pop() {
                    Some(Value::String(s)) => s,
                    _ => String::new(),
                };
                let code = match items.pop() {
                    Some(Value::String(s)) => s,
                    _ => String::new(),
                };
                Ok(Frame::CallError(CallErrorFrame {
                    id,
                    code,
                    description,
                    details,
                }))
            }
            (2..=4, n) => Err(rpc_error(
                Some(id),
                type_id == 2,
                &format!("a frame of message type {type_id} cannot have {n} elements"),
            )),
            _ => Err(FrameError {
                message_id: id,
                answerable: true,
                error: CallError::new(
                    ErrorCode::MessageTypeNotSupported,
                    format!("message type {type_id} is not supported"),
                ),
            }),
        }
    }
}

fn rpc_error(id: Option<String>, answerable: bool, what: &str) -> FrameError {
    FrameError {
        message_id: id.unwrap_or_else(|| UNKNOWN_MESSAGE_ID.to_string()),
        answerable,
        error: CallError::new(ErrorCode::RpcFrameworkError, what),
    }
}

/// Writes a CALL.
pub fn call(id: &str, action: &str, payload: &impl Serialize) -> String {
    serde_json::to_string(&(2, id, action, payload)).unwrap_or_default()
}

/// Writes a CALLRESULT.
pub fn call_result(id: &str, payload: &impl Serialize) -> String {
    serde_json::to_string(&(3, id, payload)).unwrap_or_default()
}

/// Writes a CALLERROR with the code spelled for `version`.
pub fn call_error(id: &str, version: OcppVersion, error: &CallError) -> String {
    serde_json::to_string(&(
        4,
        id,
        error.code.as_str(version),
        error.wire_description(),
        &error.details,
    ))
    .unwrap_or_default()
}

/// Best effort: the message id of a frame that is not valid JSON (`[2,"id",...`).
fn sniff_message_id(bytes: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(bytes.get(..bytes.len().min(256))?).ok()?;
    let rest = text.trim_start().strip_prefix('[')?;
    let rest = rest
        .trim_start()
        .trim_start_matches(|c: char| c.is_ascii_digit());
    let rest = rest.trim_start().strip_prefix(',')?.trim_start();
    let rest = rest.strip_prefix('"')?;
    let end = rest.find('"')?;
    let id = &rest[..end];
    (!id.is_empty() && id.chars().count() <= MAX_MESSAGE_ID_CHARS && !id.contains('\\'))
        .then(|| id.to_string())
}

/// Best effort: whether an unreadable frame starts like a CALL (and so deserves an answer).
fn sniff_is_call(bytes: &[u8]) -> bool {
    let start: Vec<u8> = bytes
        .iter()
        .take(16)
        .filter(|b| !b.is_ascii_whitespace())
        .copied()
        .collect();
    start.starts_with(b"[2,") || !start.starts_with(b"[")
}

/// Removes commas that directly follow `[`/`{` or directly precede `]`/`}` outside strings (and commas
/// that follow a removed one). `None` when there is none to remove. Linear in the frame: the last
/// significant byte kept is carried along, and each run of whitespace is looked ahead over once.
fn skip_stray_commas(bytes: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut in_string = false;
    let mut escaped = false;
    let mut changed = false;
    // The last byte kept that is not whitespace.
    let mut last: Option<u8> = None;
    for (i, &b) in bytes.iter().enumerate() {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            out.push(b);
            last = Some(b);
            continue;
        }
        match b {
            b'"' => in_string = true,
            b',' => {
                let next = bytes[i + 1..].iter().find(|c| !c.is_ascii_whitespace());
                if matches!(last, Some(b'[' | b'{' | b',')) || matches!(next, Some(b']' | b'}')) {
                    changed = true;
                    continue;
                }
            }
            _ => {}
        }
        out.push(b);
        if !b.is_ascii_whitespace() {
            last = Some(b);
        }
    }
    changed.then_some(out)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn err(bytes: &[u8]) -> FrameError {
        Frame::parse(bytes).unwrap_err()
    }

    #[test]
    fn reads_the_three_frame_types() {
        let call = Frame::parse(br#"[2,"a1","Heartbeat",{}]"#).unwrap();
        assert_eq!(
            call.frame,
            Frame::Call(Call {
                id: "a1".into(),
                action: "Heartbeat".into(),
                payload: json!({})
            })
        );
        assert!(!call.repaired);
        let res = Frame::parse(br#"[3,"a1",{"x":1}]"#).unwrap().frame;
        assert!(matches!(res, Frame::CallResult(r) if r.payload == json!({"x":1})));
        let e = Frame::parse(br#"[4,"a1","FormationViolation","bad",{}]"#)
            .unwrap()
            .frame;
        let Frame::CallError(e) = e else { panic!() };
        assert_eq!(e.error_code(), Some(ErrorCode::FormatViolation));
    }

    #[test]
    fn broken_json_with_a_readable_id_is_a_format_violation() {
        let e = err(br#"[2,"abc","Heartbeat",{"#);
        assert_eq!(e.message_id, "abc");
        assert_eq!(e.error.code, ErrorCode::FormatViolation);
        assert!(e.answerable);
    }

    #[test]
    fn unreadable_frames_answer_to_minus_one() {
        for bytes in [
            &b"\xff\xfe garbage"[..],
            b"",
            b"{}",
            b"42",
            b"[]",
            b"[2]",
            b"[2,5]",
        ] {
            let e = err(bytes);
            assert_eq!(e.message_id, "-1", "{bytes:?}");
        }
        assert_eq!(
            err(b"[2,5,\"Heartbeat\",{}]").error.code,
            ErrorCode::RpcFrameworkError
        );
    }

    #[test]
    fn a_call_whose_type_is_text_is_answered() {
        let e = err(br#"["2","s","Heartbeat",{}]"#);
        assert!(e.answerable);
        assert_eq!(e.message_id, "s");
        assert_eq!(e.error.code, ErrorCode::RpcFrameworkError);
        assert!(
            !err(br#"["3","s",{}]"#).answerable,
            "answers are never answered"
        );
    }

    #[test]
    fn wrong_arity_and_unknown_types() {
        assert_eq!(
            err(br#"[2,"a","Heartbeat"]"#).error.code,
            ErrorCode::RpcFrameworkError
        );
        assert_eq!(
            err(br#"[2,"a",{},{}]"#).error.code,
            ErrorCode::RpcFrameworkError
        );
        let e = err(br#"[7,"a","x",{}]"#);
        assert_eq!(e.error.code, ErrorCode::MessageTypeNotSupported);
        assert_eq!(e.message_id, "a");
        let long = format!(r#"[2,"{}","Heartbeat",{{}}]"#, "x".repeat(37));
        assert_eq!(
            err(long.as_bytes()).error.code,
            ErrorCode::RpcFrameworkError
        );
    }

    #[test]
    fn stray_commas_are_skipped_and_reported() {
        let p = Frame::parse(br#"[2,"a","Authorize",{,"idTag":"X,}"},]"#).unwrap();
        assert!(p.repaired);
        let Frame::Call(c) = p.frame else { panic!() };
        assert_eq!(c.payload, json!({"idTag": "X,}"}));
    }

    #[test]
    fn a_frame_of_stray_commas_is_repaired() {
        // (It took a second before: every comma looked back over all the whitespace kept so far. The
        // bench `frames` measures it.)
        let junk = format!("[2,\"j\",\"Heartbeat\",{{{}}}]", " ,".repeat(61_000));
        let p = Frame::parse(junk.as_bytes()).unwrap();
        assert!(p.repaired);
        assert!(matches!(p.frame, Frame::Call(c) if c.payload == json!({})));
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let deep = format!(
            "[2,\"a\",\"X\",{}{}]",
            "[".repeat(100_000),
            "]".repeat(100_000)
        );
        assert_eq!(err(deep.as_bytes()).error.code, ErrorCode::FormatViolation);
    }

    #[test]
    fn writes_frames() {
        assert_eq!(call_result("a", &json!({})), r#"[3,"a",{}]"#);
        let e = CallError::new(ErrorCode::OccurrenceConstraintViolation, "missing");
        assert_eq!(
            call_error("a", OcppVersion::V16, &e),
            r#"[4,"a","OccurenceConstraintViolation","missing",{}]"#
        );
        assert_eq!(
            call("b", "Reset", &json!({"type": "Hard"})),
            r#"[2,"b","Reset",{"type":"Hard"}]"#
        );
    }
}
