//! The operator HTTP API (`/v1/...`): JSON in and out, `Authorization: Bearer <key>`, RFC 9457 problem
//! responses for every error, cursor pagination on lists. The same router serves `cpms serve` and (with
//! `lambda_http`) the operator-api Lambda.

mod auth;
mod chargers;
mod extract;
mod problem;
mod sessions;
mod tokens;
mod views;

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};

pub use auth::AdminKey;
pub use problem::Problem;

use crate::Csms;

/// Largest request body accepted.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// What the handlers share.
#[derive(Clone)]
pub struct ApiState {
    /// The application.
    pub csms: Arc<Csms>,
    /// The key that grants admin access to the default tenant.
    pub admin_key: Arc<AdminKey>,
}

/// The operator API.
pub fn router(state: ApiState) -> Router {
    let v1 = Router::new()
        .route("/chargers", post(chargers::create).get(chargers::list))
        .route("/chargers/{id}", get(chargers::get))
        .route("/chargers/{id}/events", get(chargers::events))
        .route("/connection-attempts", get(chargers::attempts))
        .route("/tokens", post(tokens::create).get(tokens::list))
        .route("/tokens/{id}", get(tokens::get).patch(tokens::update))
        .route("/sessions", get(sessions::list))
        .route("/sessions/{id}", get(sessions::get))
        .route("/sessions/{id}/samples", get(sessions::samples))
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::require_key,
        ));
    Router::new()
        .route(
            "/health",
            get(|| async { axum::Json(serde_json::json!({"status": "ok"})) }),
        )
        .nest("/v1", v1)
        .fallback(problem::not_found_route)
        .method_not_allowed_fallback(problem::method_not_allowed)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state)
}

#[cfg(test)]
mod tests;
