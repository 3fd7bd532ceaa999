//! API authentication: `Authorization: Bearer <key>`.

use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

use super::{ApiState, Problem};

/// The admin key, kept only as its SHA-256.
pub struct AdminKey([u8; 32]);

impl AdminKey {
    /// From the key's text.
    pub fn new(key: &str) -> Self {
        AdminKey(Sha256::digest(key.as_bytes()).into())
    }

    /// Whether `presented` is the key (digests are compared, so timing tells nothing about the key).
    pub fn matches(&self, presented: &str) -> bool {
        let d: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
        d.iter()
            .zip(self.0.iter())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
    }
}

/// Refuses requests without the right bearer key.
pub(crate) async fn require_key(
    State(state): State<ApiState>,
    req: Request,
    next: Next,
) -> Response {
    let presented = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim);
    match presented {
        Some(k) if state.admin_key.matches(k) => next.run(req).await,
        Some(_) => unauthorized("the API key is not valid"),
        None => unauthorized("send the API key as 'Authorization: Bearer <key>'"),
    }
}

fn unauthorized(detail: &str) -> Response {
    let mut r = Problem::new(StatusCode::UNAUTHORIZED, "unauthorized", detail).into_response();
    r.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        header::HeaderValue::from_static("Bearer"),
    );
    r
}
