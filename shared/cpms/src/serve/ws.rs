//! The local WebSocket endpoint, `ws://ADDR/ocpp/{chargePointId}`, with API Gateway's semantics: every
//! connection gets an id; the connect handler decides the handshake; every frame goes to the message
//! handler, whose answer is written back (the route response); closing runs the disconnect handler.
//! Like API Gateway, it refuses messages over 128 KiB and closes connections idle for 10 minutes.
//!
//! permessage-deflate (required of a 2.0.1 CSMS) is offered without context takeover and with a shared
//! compressor pool, so an idle connection holds no compression state.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Extension;
use axum::body::Body;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use cpms_app::{ConnectOutcome, ConnectRequest, Csms};
use futures_util::SinkExt;
use tokio::sync::{mpsc, watch};
use tokio_util::task::TaskTracker;
use yawc::frame::{Frame, OpCode};
use yawc::{CompressionLevel, DeflatePool, IncomingUpgrade, Options};

use super::gateway::{LocalGateway, Outbound};
use super::listener::Handshake;

/// API Gateway's message limit.
pub const MAX_MESSAGE_BYTES: usize = 128 * 1024;

/// Who handles connections.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// The application, called directly.
    Direct,
    /// The Lambda handlers, fed API Gateway events.
    Lambda,
}

/// What the endpoint needs.
#[derive(Clone)]
pub(crate) struct WsState {
    pub csms: Arc<Csms>,
    pub mode: Mode,
    pub gateway: Arc<LocalGateway>,
    pub tasks: TaskTracker,
    pub stop: watch::Receiver<bool>,
    pub idle_timeout: Duration,
    pub options: Options,
}

/// WebSocket options shared by every connection.
pub(crate) fn options() -> Options {
    Options::default()
        .with_limits(MAX_MESSAGE_BYTES + 1, MAX_MESSAGE_BYTES + 1)
        .with_compression_level(CompressionLevel::fast())
        .server_no_context_takeover()
        .client_no_context_takeover()
        .with_deflate_pool(DeflatePool::new(16))
        .with_compression_threshold(512)
        .with_read_buffer_capacity(2048)
        .with_write_buffer_capacity(2048)
        .with_no_delay()
}

fn connection_id() -> String {
    URL_SAFE_NO_PAD.encode(rand::random::<[u8; 12]>())
}

/// `GET /ocpp/{id}` with a WebSocket upgrade.
pub(crate) async fn upgrade(
    State(st): State<WsState>,
    Path(identity): Path<String>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Extension(handshake): Extension<Handshake>,
    headers: HeaderMap,
    ws: IncomingUpgrade,
) -> Response {
    let id = connection_id();
    let req = ConnectRequest {
        connection_id: id.clone(),
        identity,
        authorization: headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string),
        subprotocols: headers
            .get_all(header::SEC_WEBSOCKET_PROTOCOL)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .map(str::to_string)
            .collect(),
        remote_addr: Some(peer.to_string()),
    };
    let outcome = match st.mode {
        Mode::Direct => st.csms.connect(req).await,
        Mode::Lambda => super::lambda::connect(&st.csms, &id, &req.identity, &headers, peer).await,
    };
    let (subprotocol, unsupported) = match outcome {
        ConnectOutcome::Accept { subprotocol, .. } => {
            handshake.authenticated();
            (subprotocol, false)
        }
        ConnectOutcome::Unsupported { .. } => (None, true),
        ConnectOutcome::Reject { status, reason } => {
            tracing::debug!(peer = %peer, status, reason, "handshake refused");
            let mut r = StatusCode::from_u16(status)
                .unwrap_or(StatusCode::FORBIDDEN)
                .into_response();
            if status == 401 {
                r.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Basic realm=\"ocpp\""),
                );
            }
            return r;
        }
    };
    let (response, fut) = match ws.upgrade(st.options.clone()) {
        Ok(x) => x,
        Err(e) => {
            tracing::warn!(error = %e, "websocket upgrade failed");
            st.disconnect(&id, peer).await;
            return StatusCode::BAD_REQUEST.into_response();
        }
    };
    let mut response = response.map(Body::new);
    if let Some(p) = subprotocol.and_then(|p| HeaderValue::from_str(&p).ok()) {
        response
            .headers_mut()
            .insert(header::SEC_WEBSOCKET_PROTOCOL, p);
    }
    let task_state = st.clone();
    st.tasks.spawn(async move {
        match fut.await {
            Ok(socket) if unsupported => {
                // OCPP-J: finish the handshake without a subprotocol, then close.
                let mut socket = socket;
                let _ = socket
                    .send(Frame::close(
                        yawc::close::CloseCode::Protocol,
                        b"no supported OCPP version",
                    ))
                    .await;
            }
            Ok(socket) => run(task_state, id, peer, socket).await,
            Err(e) => {
                tracing::info!(error = %e, "upgrade did not complete");
                task_state.disconnect(&id, peer).await;
            }
        }
    });
    response
}

/// One connection, from upgrade to close.
async fn run<S>(st: WsState, id: String, peer: SocketAddr, mut socket: yawc::WebSocket<S>)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let (tx, mut rx) = mpsc::channel::<Outbound>(32);
    st.gateway.insert(&id, tx, peer.ip().to_string());
    metrics::gauge!("cpms_connected_chargers").increment(1.0);
    let mut stop = st.stop.clone();
    let mut why = "the charger closed it";
    loop {
        tokio::select! {
            frame = socket.next_frame() => {
                let frame = match frame {
                    Ok(f) => f,
                    Err(e) => {
                        // A frame the peer got wrong: say why before the connection goes (RFC 6455:
                        // 1009 too big, 1002 protocol error, 1007 bad UTF-8). The WebSocket layer queues
                        // its own Close for some errors (1003 for an unknown opcode); that one goes first.
                        why = "the connection was lost";
                        if let Some((code, text)) = close_for(&e) {
                            why = text;
                            tracing::info!(peer = %peer, error = %e, "closing a connection that broke the WebSocket protocol");
                            let send = socket.send(Frame::close(code, text));
                            let _ = tokio::time::timeout(Duration::from_secs(2), send).await;
                        }
                        break;
                    }
                };
                match frame.opcode() {
                    OpCode::Text | OpCode::Binary => {
                        st.gateway.touch(&id);
                        let out = st.message(&id, frame.payload(), peer).await;
                        if let Some(reply) = out.reply
                            && socket.send(Frame::text(reply)).await.is_err()
                        {
                            break;
                        }
                        if out.close {
                            why = "unknown connection";
                            let _ = socket.send(Frame::close(yawc::close::CloseCode::Policy, b"unknown connection")).await;
                            break;
                        }
                    }
                    OpCode::Close => break,
                    _ => {}
                }
            }
            out = rx.recv() => match out {
                Some(Outbound::Frame(text)) => {
                    st.gateway.touch(&id);
                    if socket.send(Frame::text(text)).await.is_err() {
                        break;
                    }
                }
                Some(Outbound::Close) | None => {
                    why = "closed by the CSMS (a newer connection, or the management API)";
                    let _ = socket.send(Frame::close(yawc::close::CloseCode::Normal, b"")).await;
                    break;
                }
            },
            _ = tokio::time::sleep(st.idle_timeout) => {
                why = "idle";
                let _ = socket.send(Frame::close(yawc::close::CloseCode::Away, b"idle")).await;
                break;
            }
            _ = stop.changed() => {
                why = "server shutting down";
                let _ = socket.send(Frame::close(yawc::close::CloseCode::Away, b"server shutting down")).await;
                break;
            }
        }
    }
    metrics::gauge!("cpms_connected_chargers").decrement(1.0);
    tracing::info!(peer = %peer, connection = %id, reason = why, "connection closed");
    st.gateway.remove(&id);
    st.disconnect(&id, peer).await;
}

/// The close code for a frame the peer got wrong (`None`: the connection is just gone).
fn close_for(e: &yawc::WebSocketError) -> Option<(yawc::close::CloseCode, &'static str)> {
    use yawc::WebSocketError as E;
    use yawc::close::CloseCode;
    match e {
        E::FrameTooLarge => Some((CloseCode::Size, "message over 128 KiB")),
        E::InvalidUTF8 => Some((CloseCode::Invalid, "text frame is not UTF-8")),
        E::ConnectionClosed | E::IoError(_) => None,
        _ => Some((CloseCode::Protocol, "protocol error")),
    }
}

/// Frames this large are handled on a thread of their own (a big frame costs a millisecond or more of
/// parsing and schema checks; the executor's threads keep serving every other charger meanwhile).
const LARGE_FRAME_BYTES: usize = 16 * 1024;

impl WsState {
    async fn message(
        &self,
        id: &str,
        payload: &[u8],
        peer: SocketAddr,
    ) -> cpms_app::MessageOutcome {
        let handle = async {
            match self.mode {
                Mode::Direct => self.csms.message(id, payload).await,
                Mode::Lambda => super::lambda::message(&self.csms, id, payload, peer).await,
            }
        };
        let rt = tokio::runtime::Handle::current();
        if payload.len() > LARGE_FRAME_BYTES
            && rt.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread
        {
            tokio::task::block_in_place(|| rt.block_on(handle))
        } else {
            handle.await
        }
    }

    async fn disconnect(&self, id: &str, peer: SocketAddr) {
        match self.mode {
            Mode::Direct => self.csms.disconnect(id).await,
            Mode::Lambda => super::lambda::disconnect(&self.csms, id, peer).await,
        }
    }
}
