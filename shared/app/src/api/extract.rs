//! Extractors whose rejections are problem responses (axum's own answer in plain text).

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use super::Problem;

/// A JSON object body. Malformed JSON, anything but an object (serde would take a struct's fields
/// from an array too), unknown fields, wrong types and oversized bodies become problems.
pub(crate) struct Body<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + schemars::JsonSchema + 'static> FromRequest<S>
    for Body<T>
{
    type Rejection = Problem;

    async fn from_request(req: Request, state: &S) -> Result<Self, Problem> {
        let v = match axum::Json::<serde_json::Value>::from_request(req, state).await {
            Ok(axum::Json(v)) => v,
            Err(rej) => {
                return Err(Problem::new(rej.status(), "invalid-body", rej.body_text()));
            }
        };
        if !v.is_object() {
            return Err(Problem::new(
                axum::http::StatusCode::UNPROCESSABLE_ENTITY,
                "invalid-body",
                "the body must be a JSON object",
            ));
        }
        if let Some(at) = super::shape::array_for_object::<T>(&v) {
            return Err(Problem::new(
                axum::http::StatusCode::UNPROCESSABLE_ENTITY,
                "invalid-body",
                format!("{at}: an object is expected here, not an array"),
            ));
        }
        serde_json::from_value(v).map(Body).map_err(|e| {
            Problem::new(
                axum::http::StatusCode::UNPROCESSABLE_ENTITY,
                "invalid-body",
                format!("Failed to deserialize the JSON body into the target type: {e}"),
            )
        })
    }
}

/// Query parameters.
pub(crate) struct Params<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for Params<T> {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Problem> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(v)) => Ok(Params(v)),
            Err(rej) => Err(Problem::new(rej.status(), "invalid-query", rej.body_text())),
        }
    }
}

/// One path parameter.
pub(crate) struct Id(pub String);

impl<S: Send + Sync> FromRequestParts<S> for Id {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Problem> {
        match axum::extract::Path::<String>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(v)) => Ok(Id(v)),
            Err(rej) => Err(Problem::new(rej.status(), "invalid-path", rej.body_text())),
        }
    }
}

/// `limit` and `cursor` of list endpoints.
#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct PageQuery {
    /// Items per page (1 to 500, default 50).
    pub limit: Option<usize>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// Default and largest page sizes.
pub(crate) const DEFAULT_LIMIT: usize = 50;
pub(crate) const MAX_LIMIT: usize = 500;

impl PageQuery {
    /// The page request, refusing limits outside 1..=500.
    pub fn page(&self) -> Result<cpms_ports::PageRequest, Problem> {
        let limit = self.limit.unwrap_or(DEFAULT_LIMIT);
        if !(1..=MAX_LIMIT).contains(&limit) {
            return Err(Problem::bad_request(format!(
                "limit must be between 1 and {MAX_LIMIT}"
            )));
        }
        Ok(cpms_ports::PageRequest {
            limit,
            cursor: self.cursor.clone(),
        })
    }
}
