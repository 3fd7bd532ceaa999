//! The API Gateway management API of the local WebSocket server, on its own listener (loopback by
//! default: it has no authentication, and chargers must not reach it):
//!
//! - `POST /@connections/{id}`: the body is sent to the connection as one text frame (200);
//! - `GET /@connections/{id}`: `{"connectedAt", "identity": {"sourceIp"}, "lastActiveAt"}` (200);
//! - `DELETE /@connections/{id}`: closes the connection (204);
//!
//! each answering 410 with `x-amzn-ErrorType: GoneException` when the connection is not open, as API
//! Gateway does. The AWS gateway adapter (aws-sdk-apigatewaymanagement) runs against it unchanged.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use cpms_ports::{ChargerGateway, GatewayError};
use serde_json::json;

use super::gateway::LocalGateway;

/// The management API router.
pub(crate) fn router(gateway: Arc<LocalGateway>) -> Router {
    Router::new()
        .route("/@connections/{id}", post(send).get(get).delete(close))
        .with_state(gateway)
}

fn gone() -> Response {
    let body = json!({"message": "the connection is gone"}).to_string();
    (
        StatusCode::GONE,
        [
            ("x-amzn-ErrorType", "GoneException"),
            ("content-type", "application/json"),
        ],
        body,
    )
        .into_response()
}

fn failed(e: GatewayError) -> Response {
    match e {
        GatewayError::Gone => gone(),
        GatewayError::Unavailable(m) => (StatusCode::INTERNAL_SERVER_ERROR, m).into_response(),
    }
}

async fn send(
    State(gw): State<Arc<LocalGateway>>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let Ok(text) = String::from_utf8(body.to_vec()) else {
        return (StatusCode::BAD_REQUEST, "frames are UTF-8 text").into_response();
    };
    match gw.send(&id, &text).await {
        Ok(()) => StatusCode::OK.into_response(),
        Err(e) => failed(e),
    }
}

async fn get(State(gw): State<Arc<LocalGateway>>, Path(id): Path<String>) -> Response {
    match gw.meta(&id) {
        Some(m) => axum::Json(json!({
            "connectedAt": m.connected_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            "identity": {"sourceIp": m.source_ip},
            "lastActiveAt": m.last_active_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        }))
        .into_response(),
        None => gone(),
    }
}

async fn close(State(gw): State<Arc<LocalGateway>>, Path(id): Path<String>) -> Response {
    match gw.close(&id).await {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => failed(e),
    }
}
