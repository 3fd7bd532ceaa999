//! The local gateway in front of the Lambda handlers: each connect, frame and disconnect becomes the
//! API Gateway WebSocket event the deployed functions receive (`$connect` with the identity in the
//! `chargePointId` query parameter, as the stack's CloudFront function puts it), handled by the same code
//! the functions run (`cpms_lambda::websocket`), and the Lambda response becomes the handshake answer or
//! the route response. No AWS tool emulates WebSocket APIs locally; this does.

use std::net::SocketAddr;

use aws_lambda_events::apigw::{ApiGatewayProxyResponse, ApiGatewayWebsocketProxyRequest};
use aws_lambda_events::encodings::Body;
use base64::Engine;
use cpms_app::{ConnectOutcome, Csms, MessageOutcome};
use cpms_lambda::websocket::{Route, handle};
use http::HeaderMap;

fn event(route: Route, connection_id: &str, peer: SocketAddr) -> ApiGatewayWebsocketProxyRequest {
    let mut e = ApiGatewayWebsocketProxyRequest::default();
    let (key, kind) = match route {
        Route::Connect => ("$connect", "CONNECT"),
        Route::Message => ("$default", "MESSAGE"),
        Route::Disconnect => ("$disconnect", "DISCONNECT"),
    };
    e.request_context.route_key = Some(key.into());
    e.request_context.event_type = Some(kind.into());
    e.request_context.connection_id = Some(connection_id.into());
    e.request_context.identity.source_ip = Some(peer.ip().to_string());
    e
}

/// Percent-encodes a query parameter value.
fn encode(v: &str) -> String {
    v.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// `$connect` through the Lambda handler.
pub(crate) async fn connect(
    csms: &Csms,
    connection_id: &str,
    identity: &str,
    headers: &HeaderMap,
    peer: SocketAddr,
) -> ConnectOutcome {
    let mut e = event(Route::Connect, connection_id, peer);
    e.headers = headers.clone();
    e.multi_value_headers = headers.clone();
    e.query_string_parameters = format!("chargePointId={}", encode(identity))
        .parse()
        .unwrap_or_default();
    let r: ApiGatewayProxyResponse = handle(Route::Connect, csms, &e).await;
    if r.status_code == 200 {
        let subprotocol = r
            .headers
            .get("sec-websocket-protocol")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let version = subprotocol
            .as_deref()
            .and_then(cpms_domain::OcppVersion::from_subprotocol)
            .unwrap_or(cpms_domain::OcppVersion::V16);
        ConnectOutcome::Accept {
            subprotocol,
            version,
        }
    } else {
        ConnectOutcome::Reject {
            status: r.status_code as u16,
            reason: "refused by ocpp-connect".into(),
        }
    }
}

/// `$default` through the Lambda handler.
pub(crate) async fn message(
    csms: &Csms,
    connection_id: &str,
    frame: &[u8],
    peer: SocketAddr,
) -> MessageOutcome {
    let mut e = event(Route::Message, connection_id, peer);
    match std::str::from_utf8(frame) {
        Ok(text) => e.body = Some(text.to_string()),
        Err(_) => {
            e.body = Some(base64::engine::general_purpose::STANDARD.encode(frame));
            e.is_base64_encoded = true;
        }
    }
    let r = handle(Route::Message, csms, &e).await;
    let reply = match r.body {
        Some(Body::Text(t)) if !t.is_empty() => Some(t),
        Some(Body::Binary(b)) if !b.is_empty() => Some(String::from_utf8_lossy(&b).into_owned()),
        _ => None,
    };
    MessageOutcome {
        reply,
        close: false,
    }
}

/// `$disconnect` through the Lambda handler.
pub(crate) async fn disconnect(csms: &Csms, connection_id: &str, peer: SocketAddr) {
    let e = event(Route::Disconnect, connection_id, peer);
    handle(Route::Disconnect, csms, &e).await;
}
