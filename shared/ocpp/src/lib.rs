//! OCPP-J for both supported versions: the RPC frames, CallError codes with each version's spelling,
//! the typed messages (generated from the official JSON schemas) and a validator that checks payloads
//! against those schemas and says which CallError a violation deserves.

pub mod datetime;
pub mod error;
pub mod frame;
pub mod lenient;
pub mod number;
pub mod schema;
pub mod v16;
pub mod v201;
mod version;

pub use error::{CallError, ErrorCode};
pub use frame::{Call, CallErrorFrame, CallResult, Frame, FrameError};
pub use schema::{Direction, Violation, ViolationKind};
pub use version::OcppVersion;

/// The schema of an action's CALL (`response == false`) or CALLRESULT payload, `None` for an action the
/// version does not define.
pub fn schema(
    version: OcppVersion,
    action: &str,
    response: bool,
) -> Option<&'static schema::Schema> {
    match (version, response) {
        (OcppVersion::V16, false) => v16::schema::request(action),
        (OcppVersion::V16, true) => v16::schema::response(action),
        (OcppVersion::V201, false) => v201::schema::request(action),
        (OcppVersion::V201, true) => v201::schema::response(action),
    }
}

/// Which side sends the CALL of `action`, `None` for an action the version does not define.
pub fn direction(version: OcppVersion, action: &str) -> Option<Direction> {
    action_entry(version, action).map(|(_, d)| d)
}

/// The version's own name of `action` (a `'static` string, e.g. for metric labels), `None` for an action
/// the version does not define.
pub fn action_name(version: OcppVersion, action: &str) -> Option<&'static str> {
    action_entry(version, action).map(|(n, _)| n)
}

fn action_entry(version: OcppVersion, action: &str) -> Option<(&'static str, Direction)> {
    let table = actions(version);
    table
        .binary_search_by(|(name, _)| (*name).cmp(action))
        .ok()
        .map(|i| table[i])
}

/// Every action of `version`, sorted by name.
pub fn actions(version: OcppVersion) -> &'static [(&'static str, Direction)] {
    match version {
        OcppVersion::V16 => v16::schema::ACTIONS,
        OcppVersion::V201 => v201::schema::ACTIONS,
    }
}

/// Parses `payload` into the typed message of `action` and serializes it again (see `cpms ocpp check`).
pub fn roundtrip(
    version: OcppVersion,
    action: &str,
    response: bool,
    payload: serde_json::Value,
) -> Option<Result<serde_json::Value, serde_json::Error>> {
    match version {
        OcppVersion::V16 => v16::schema::roundtrip(action, response, payload),
        OcppVersion::V201 => v201::schema::roundtrip(action, response, payload),
    }
}
