//! `Authorization: Token <token>`: 2.2.1 sends the token Base64-encoded, 2.1.1 as it is.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::versions::VersionNumber;

/// The most bytes a credentials token has (`string(64)`).
pub const MAX_TOKEN_LEN: usize = 64;

/// Why an `Authorization` header is not usable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// There is none.
    #[error("no Authorization header")]
    Missing,
    /// It is not `Token <token>`.
    #[error("the Authorization header is not \"Token <token>\"")]
    Malformed,
}

/// The header value for `token` in `version`.
pub fn header_value(token: &str, version: VersionNumber) -> String {
    if version.encodes_tokens() {
        format!("Token {}", STANDARD.encode(token))
    } else {
        format!("Token {token}")
    }
}

/// The token of an `Authorization` header. 2.2.1 partners send it Base64-encoded; a value that does not
/// decode to a printable token is taken as it is (2.1.1, and 2.2.1 peers that forgot to encode), so both
/// are tried by the caller's lookup: see [`candidates`].
pub fn parse(header: Option<&str>) -> Result<String, AuthError> {
    let h = header.ok_or(AuthError::Missing)?.trim();
    let (scheme, rest) = h.split_once(' ').ok_or(AuthError::Malformed)?;
    let token = rest.trim();
    if !scheme.eq_ignore_ascii_case("token") || token.is_empty() || token.len() > 2 * MAX_TOKEN_LEN
    {
        return Err(AuthError::Malformed);
    }
    Ok(token.to_string())
}

/// The tokens a header's value may stand for: its Base64 decoding (when it decodes to printable
/// text of at most 64 bytes) first, then the value as sent.
pub fn candidates(raw: &str) -> Vec<String> {
    let mut out = Vec::with_capacity(2);
    if let Ok(bytes) = STANDARD.decode(raw)
        && let Ok(text) = String::from_utf8(bytes)
        && !text.is_empty()
        && text.len() <= MAX_TOKEN_LEN
        && text.chars().all(|c| c.is_ascii_graphic())
    {
        out.push(text);
    }
    if raw.len() <= MAX_TOKEN_LEN && !out.iter().any(|t| t == raw) {
        out.push(raw.to_string());
    }
    out
}
