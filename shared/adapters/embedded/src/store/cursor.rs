//! Page cursors: the last key of a page, opaque to API users (base64url of its JSON).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use cpms_ports::StoreError;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// Encodes the key a page ended at.
pub(crate) fn encode<T: Serialize>(key: &T) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(key).unwrap_or_default())
}

/// Decodes a cursor; `BadCursor` for anything this store did not issue.
pub(crate) fn decode<T: DeserializeOwned>(cursor: &str) -> Result<T, StoreError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(cursor)
        .map_err(|_| StoreError::BadCursor)?;
    serde_json::from_slice(&bytes).map_err(|_| StoreError::BadCursor)
}

/// Sets `next` when the page is full, so the caller knows more may follow.
pub(crate) fn next_if_full<T, K: Serialize>(
    items: &[T],
    limit: usize,
    last: Option<K>,
) -> Option<String> {
    (items.len() >= limit && limit > 0)
        .then_some(last)
        .flatten()
        .map(|k| encode(&k))
}
