//! The status codes of the response envelope: 1xxx success, 2xxx client errors, 3xxx server errors,
//! 4xxx hub errors; and the HTTP status each goes with.

use serde::{Deserialize, Serialize};

/// An OCPI status code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(from = "u16", into = "u16")]
pub enum StatusCode {
    /// 1000: success.
    Success,
    /// 2000: a generic client error.
    ClientError,
    /// 2001: invalid or missing parameters (a malformed body or query).
    InvalidParameters,
    /// 2002: not enough information (e.g. an authorization without the location it needs).
    NotEnoughInformation,
    /// 2003: unknown location.
    UnknownLocation,
    /// 2004: unknown token.
    UnknownToken,
    /// 3000: a generic server error.
    ServerError,
    /// 3001: the server could not use the partner's API.
    UnableToUseClientApi,
    /// 3002: unsupported version.
    UnsupportedVersion,
    /// 3003: no matching endpoints or expected endpoints missing.
    NoMatchingEndpoints,
    /// 4000: a generic hub error.
    HubError,
    /// 4001: unknown receiver (routing headers).
    UnknownReceiver,
    /// 4002: timeout on a forwarded request.
    Timeout,
    /// 4003: connection problem.
    ConnectionProblem,
    /// Any other code a partner sends.
    Other(u16),
}

impl StatusCode {
    /// The number.
    pub fn code(self) -> u16 {
        match self {
            StatusCode::Success => 1000,
            StatusCode::ClientError => 2000,
            StatusCode::InvalidParameters => 2001,
            StatusCode::NotEnoughInformation => 2002,
            StatusCode::UnknownLocation => 2003,
            StatusCode::UnknownToken => 2004,
            StatusCode::ServerError => 3000,
            StatusCode::UnableToUseClientApi => 3001,
            StatusCode::UnsupportedVersion => 3002,
            StatusCode::NoMatchingEndpoints => 3003,
            StatusCode::HubError => 4000,
            StatusCode::UnknownReceiver => 4001,
            StatusCode::Timeout => 4002,
            StatusCode::ConnectionProblem => 4003,
            StatusCode::Other(c) => c,
        }
    }

    /// Whether it says the request succeeded (1xxx).
    pub fn is_success(self) -> bool {
        (1000..2000).contains(&self.code())
    }

    /// The HTTP status that goes with it: 200 for success; client errors 400, except where the
    /// specification uses 404 (an unknown object) or 401 (authorization, set by the caller); server
    /// errors 500.
    pub fn http_status(self) -> u16 {
        match self.code() {
            1000..=1999 => 200,
            2003 | 2004 => 404,
            2000..=2999 => 400,
            _ => 500,
        }
    }

    /// Its words, for `status_message` when nothing more precise is said.
    pub fn message(self) -> &'static str {
        match self {
            StatusCode::Success => "Success",
            StatusCode::ClientError => "Client error",
            StatusCode::InvalidParameters => "Invalid or missing parameters",
            StatusCode::NotEnoughInformation => "Not enough information",
            StatusCode::UnknownLocation => "Unknown location",
            StatusCode::UnknownToken => "Unknown token",
            StatusCode::ServerError => "Server error",
            StatusCode::UnableToUseClientApi => "Unable to use the client's API",
            StatusCode::UnsupportedVersion => "Unsupported version",
            StatusCode::NoMatchingEndpoints => {
                "No matching endpoints or expected endpoints missing"
            }
            StatusCode::HubError => "Hub error",
            StatusCode::UnknownReceiver => "Unknown receiver",
            StatusCode::Timeout => "Timeout on forwarded request",
            StatusCode::ConnectionProblem => "Connection problem",
            StatusCode::Other(_) => "",
        }
    }
}

impl From<u16> for StatusCode {
    fn from(c: u16) -> Self {
        match c {
            1000 => StatusCode::Success,
            2000 => StatusCode::ClientError,
            2001 => StatusCode::InvalidParameters,
            2002 => StatusCode::NotEnoughInformation,
            2003 => StatusCode::UnknownLocation,
            2004 => StatusCode::UnknownToken,
            3000 => StatusCode::ServerError,
            3001 => StatusCode::UnableToUseClientApi,
            3002 => StatusCode::UnsupportedVersion,
            3003 => StatusCode::NoMatchingEndpoints,
            4000 => StatusCode::HubError,
            4001 => StatusCode::UnknownReceiver,
            4002 => StatusCode::Timeout,
            4003 => StatusCode::ConnectionProblem,
            c => StatusCode::Other(c),
        }
    }
}

impl From<StatusCode> for u16 {
    fn from(s: StatusCode) -> u16 {
        s.code()
    }
}
