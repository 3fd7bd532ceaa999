//! API Gateway WebSocket events to and from the application.
//!
//! - `$connect`: the charger identity comes from the `chargePointId` query parameter (the stack's
//!   CloudFront function moves it there from `/ocpp/{id}`, since API Gateway refuses extra path
//!   segments), else from a `chargePointId` path parameter or an `X-Charge-Point-Id` header. The chosen
//!   subprotocol goes back in `Sec-WebSocket-Protocol`; a refusal is the HTTP status of the response.
//!   API Gateway cannot complete a handshake and then close it from `$connect`, so an offer of only
//!   unsupported versions is refused with 400 instead.
//! - `$default`: the frame is the body (base64 when binary); the answer is the route response body.
//! - `$disconnect`: forgets the connection.

use aws_lambda_events::apigw::{ApiGatewayProxyResponse, ApiGatewayWebsocketProxyRequest};
use aws_lambda_events::encodings::Body;
use base64::Engine;
use cpms_app::{ConnectOutcome, ConnectRequest, Csms};
use http::{HeaderMap, HeaderValue};

fn response(status: i64, body: Option<String>) -> ApiGatewayProxyResponse {
    let mut r = ApiGatewayProxyResponse::default();
    r.status_code = status;
    r.body = body.map(Body::Text);
    r
}

fn header_values(e: &ApiGatewayWebsocketProxyRequest, name: &str) -> Vec<String> {
    let from = |h: &HeaderMap| -> Vec<String> {
        h.get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .map(str::to_string)
            .collect()
    };
    let multi = from(&e.multi_value_headers);
    if multi.is_empty() {
        from(&e.headers)
    } else {
        multi
    }
}

fn identity(e: &ApiGatewayWebsocketProxyRequest) -> Option<String> {
    e.query_string_parameters
        .first("chargePointId")
        .map(str::to_string)
        .or_else(|| e.path_parameters.get("chargePointId").cloned())
        .or_else(|| header_values(e, "x-charge-point-id").into_iter().next())
}

/// The routes of the WebSocket API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// `$connect`.
    Connect,
    /// `$default`.
    Message,
    /// `$disconnect`.
    Disconnect,
}

/// Handles an event of `route`.
pub async fn handle(
    route: Route,
    csms: &Csms,
    e: &ApiGatewayWebsocketProxyRequest,
) -> ApiGatewayProxyResponse {
    match route {
        Route::Connect => on_connect(csms, e).await,
        Route::Message => on_message(csms, e).await,
        Route::Disconnect => on_disconnect(csms, e).await,
    }
}

/// `$connect`.
pub async fn on_connect(
    csms: &Csms,
    e: &ApiGatewayWebsocketProxyRequest,
) -> ApiGatewayProxyResponse {
    let Some(connection_id) = e.request_context.connection_id.clone() else {
        return response(400, None);
    };
    let Some(identity) = identity(e) else {
        tracing::info!(connection_id, "connect without a charger identity");
        return response(400, None);
    };
    let req = ConnectRequest {
        connection_id,
        identity,
        authorization: header_values(e, "authorization").into_iter().next(),
        subprotocols: header_values(e, "sec-websocket-protocol"),
        remote_addr: e.request_context.identity.source_ip.clone(),
    };
    match csms.connect(req).await {
        ConnectOutcome::Accept { subprotocol, .. } => {
            let mut r = response(200, None);
            if let Some(p) = subprotocol.and_then(|p| HeaderValue::from_str(&p).ok()) {
                r.headers.insert("sec-websocket-protocol", p);
            }
            r
        }
        ConnectOutcome::Reject { status, .. } => response(i64::from(status), None),
        ConnectOutcome::Unsupported { .. } => response(400, None),
    }
}

/// `$default`.
pub async fn on_message(
    csms: &Csms,
    e: &ApiGatewayWebsocketProxyRequest,
) -> ApiGatewayProxyResponse {
    let Some(connection_id) = e.request_context.connection_id.as_deref() else {
        return response(400, None);
    };
    let body = e.body.as_deref().unwrap_or_default();
    let bytes = if e.is_base64_encoded {
        base64::engine::general_purpose::STANDARD
            .decode(body)
            .unwrap_or_else(|_| body.as_bytes().to_vec())
    } else {
        body.as_bytes().to_vec()
    };
    let out = csms.message(connection_id, &bytes).await;
    if out.close {
        let _ = csms.ports().gateway.close(connection_id).await;
    }
    response(200, out.reply)
}

/// `$disconnect`.
pub async fn on_disconnect(
    csms: &Csms,
    e: &ApiGatewayWebsocketProxyRequest,
) -> ApiGatewayProxyResponse {
    if let Some(id) = e.request_context.connection_id.as_deref() {
        csms.disconnect(id).await;
    }
    response(200, None)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use aws_lambda_events::apigw::ApiGatewayWebsocketProxyRequest;
    use cpms_app::{Csms, hash_password};
    use cpms_domain::charger::Charger;
    use cpms_domain::{ChargerId, TenantId};
    use cpms_ports::{ChargerStore, Expected};

    use super::*;
    use crate::Backend;

    fn event(name: &str) -> ApiGatewayWebsocketProxyRequest {
        let path = format!("{}/../../events/{name}", env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        serde_json::from_str(&text).unwrap()
    }

    async fn csms(dir: &tempfile::TempDir) -> Arc<Csms> {
        let csms = Backend::Embedded {
            data_dir: dir.path().into(),
        }
        .csms()
        .await
        .unwrap();
        let mut c = Charger::register(
            TenantId::default_tenant(),
            ChargerId::new("CP-LAMBDA-1").unwrap(),
            chrono::Utc::now(),
        );
        c.password_hash = Some(hash_password("lambda-password-001"));
        csms.ports()
            .chargers
            .put(&c, Expected::Absent, &[])
            .await
            .unwrap();
        csms
    }

    #[tokio::test]
    async fn the_sample_events_run_a_connection() {
        let dir = tempfile::tempdir().unwrap();
        let csms = csms(&dir).await;
        let r = on_connect(&csms, &event("ocpp-connect.json")).await;
        assert_eq!(r.status_code, 200);
        assert_eq!(r.headers["sec-websocket-protocol"], "ocpp2.0.1");
        let r = on_message(&csms, &event("ocpp-message-boot.json")).await;
        let Some(Body::Text(reply)) = r.body else {
            panic!("no reply")
        };
        let frame: serde_json::Value = serde_json::from_str(&reply).unwrap();
        assert_eq!(frame[1], "19223201");
        assert_eq!(frame[2]["status"], "Accepted");
        let r = on_disconnect(&csms, &event("ocpp-disconnect.json")).await;
        assert_eq!(r.status_code, 200);
        let cp = ChargerStore::get(
            &*csms.ports().chargers,
            &ChargerId::new("CP-LAMBDA-1").unwrap(),
        )
        .await
        .unwrap()
        .unwrap();
        assert!(cp.value.connection.is_none());
        assert_eq!(cp.value.boot.unwrap().vendor, "VendorX");
    }

    #[tokio::test]
    async fn connects_without_identity_or_with_bad_credentials_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let csms = csms(&dir).await;
        let mut e = event("ocpp-connect.json");
        e.query_string_parameters = Default::default();
        assert_eq!(on_connect(&csms, &e).await.status_code, 400);
        let mut e = event("ocpp-connect.json");
        e.headers.insert(
            "authorization",
            HeaderValue::from_static("Basic Q1AtTEFNQkRBLTE6d3Jvbmc="),
        );
        e.multi_value_headers.remove("authorization");
        assert_eq!(on_connect(&csms, &e).await.status_code, 401);
        let mut e = event("ocpp-connect.json");
        e.query_string_parameters = "chargePointId=NOBODY".parse().unwrap();
        assert_eq!(on_connect(&csms, &e).await.status_code, 404);
    }

    #[tokio::test]
    async fn malformed_and_binary_bodies_are_answered() {
        let dir = tempfile::tempdir().unwrap();
        let csms = csms(&dir).await;
        on_connect(&csms, &event("ocpp-connect.json")).await;
        let mut e = event("ocpp-message-boot.json");
        e.body = Some("[2,\"x\",\"Heartbeat\"".into());
        let Some(Body::Text(reply)) = on_message(&csms, &e).await.body else {
            panic!()
        };
        assert!(reply.contains("FormatViolation"), "{reply}");
        e.body =
            Some(base64::engine::general_purpose::STANDARD.encode(b"[2,\"y\",\"Heartbeat\",{}]"));
        e.is_base64_encoded = true;
        let Some(Body::Text(reply)) = on_message(&csms, &e).await.body else {
            panic!()
        };
        assert!(reply.contains("SecurityError"), "not booted yet: {reply}");
        let mut e = event("ocpp-message-boot.json");
        e.request_context.connection_id = Some("unknown".into());
        assert!(on_message(&csms, &e).await.body.is_none());
    }
}
