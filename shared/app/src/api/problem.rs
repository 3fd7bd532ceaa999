//! RFC 9457 problem responses: `application/problem+json` with a type, a title, the status and a detail
//! sentence a user can act on.

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use cpms_ports::StoreError;
use serde::Serialize;

/// A problem response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct Problem {
    /// URI naming the kind of problem.
    #[serde(rename = "type")]
    pub kind: String,
    /// Short summary of the kind.
    pub title: String,
    /// HTTP status.
    pub status: u16,
    /// What went wrong here.
    pub detail: String,
}

impl Problem {
    /// A problem of kind `slug` with `status`.
    pub fn new(status: StatusCode, slug: &str, detail: impl Into<String>) -> Self {
        Problem {
            kind: format!("urn:cpms:problem:{slug}"),
            title: status.canonical_reason().unwrap_or("Error").to_string(),
            status: status.as_u16(),
            detail: detail.into(),
        }
    }

    /// 400: the request is malformed or a value is invalid.
    pub fn bad_request(detail: impl Into<String>) -> Self {
        Problem::new(StatusCode::BAD_REQUEST, "invalid-request", detail)
    }

    /// 404: no such resource.
    pub fn not_found(what: impl Into<String>) -> Self {
        Problem::new(StatusCode::NOT_FOUND, "not-found", what)
    }

    /// 409: the resource exists or changed concurrently.
    pub fn conflict(detail: impl Into<String>) -> Self {
        Problem::new(StatusCode::CONFLICT, "conflict", detail)
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = serde_json::to_vec(&self).unwrap_or_default();
        (
            status,
            [(header::CONTENT_TYPE, "application/problem+json")],
            body,
        )
            .into_response()
    }
}

impl From<StoreError> for Problem {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict => {
                Problem::conflict("the resource changed while the request was processed; retry it")
            }
            StoreError::BadCursor => Problem::bad_request("cursor is not one this API issued"),
            StoreError::Unavailable(_) | StoreError::Corrupt { .. } => {
                tracing::error!(error = %e, "storage failure in the operator API");
                Problem::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "storage-unavailable",
                    "storage is unavailable; retry later",
                )
            }
        }
    }
}

impl From<cpms_domain::DomainError> for Problem {
    fn from(e: cpms_domain::DomainError) -> Self {
        Problem::bad_request(e.to_string())
    }
}

/// Fallback for unknown paths.
pub(crate) async fn not_found_route(uri: axum::http::Uri) -> Problem {
    Problem::not_found(format!("no such endpoint: {}", uri.path()))
}

/// Fallback for known paths with the wrong method.
pub(crate) async fn method_not_allowed(
    method: axum::http::Method,
    uri: axum::http::Uri,
) -> Problem {
    Problem::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method-not-allowed",
        format!("{method} is not allowed on {}", uri.path()),
    )
}
