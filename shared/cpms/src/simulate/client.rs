//! A minimal OCPP-J client: one connection, one CALL in flight, and the CSMS's calls answered at any
//! time, while it waits for an answer and while it is idle (so WebSocket pings are answered too). It
//! assumes nothing beyond OCPP-J, so it works against any CSMS.

use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail};
use base64::Engine;
use cpms_ocpp::OcppVersion;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// How a CALL ended.
#[derive(Debug)]
pub enum Reply {
    /// CALLRESULT payload.
    Result(Value),
    /// CALLERROR code and description.
    Error(String, String),
}

/// Why a connection could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// The CSMS does not know the charger (HTTP 404 at the handshake).
    #[error("the CSMS does not know this charger (HTTP 404)")]
    Unknown,
    /// Wrong credentials (HTTP 401).
    #[error("the CSMS refused its credentials (HTTP 401)")]
    Unauthorized,
    /// Anything else (refused, unreachable, timed out): worth trying again later.
    #[error("{0}")]
    Other(String),
}

/// Answers a call of the CSMS: `Ok(payload)` for a CALLRESULT, `Err((code, description))` for a CALLERROR.
pub type Handler<'a> = dyn FnMut(&str, &Value) -> Result<Value, (String, String)> + Send + 'a;

/// A connected charger.
pub struct Client {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    next: u64,
    timeout: Duration,
}

impl Client {
    /// Connects `base_url/{id}` offering `version`, with Basic auth when a password is given.
    pub async fn connect(
        base_url: &str,
        id: &str,
        version: OcppVersion,
        password: Option<&str>,
        timeout: Duration,
    ) -> Result<Self, ConnectError> {
        let url = format!("{}/{id}", base_url.trim_end_matches('/'));
        let other = |e: String| ConnectError::Other(e);
        let mut req = url
            .as_str()
            .into_client_request()
            .map_err(|e| other(format!("charger URL {url}: {e}")))?;
        let h = req.headers_mut();
        h.insert(
            "Sec-WebSocket-Protocol",
            HeaderValue::from_static(version.subprotocol()),
        );
        if let Some(p) = password {
            let token = base64::engine::general_purpose::STANDARD.encode(format!("{id}:{p}"));
            let v = HeaderValue::from_str(&format!("Basic {token}"))
                .map_err(|e| other(e.to_string()))?;
            h.insert("Authorization", v);
        }
        // Without Nagle: an answer followed by a call must not wait for the server's delayed ACK.
        let connected = tokio::time::timeout(
            timeout,
            tokio_tungstenite::connect_async_with_config(req, None, true),
        )
        .await
        .map_err(|_| other(format!("connecting {url} timed out")))?;
        match connected {
            Ok((ws, _)) => Ok(Client {
                ws,
                next: 0,
                timeout,
            }),
            Err(tokio_tungstenite::tungstenite::Error::Http(r)) if r.status() == 404 => {
                Err(ConnectError::Unknown)
            }
            Err(tokio_tungstenite::tungstenite::Error::Http(r)) if r.status() == 401 => {
                Err(ConnectError::Unauthorized)
            }
            Err(e) => Err(other(format!("connecting {url}: {e}"))),
        }
    }

    /// Sends a CALL and waits for its answer, answering the CSMS's calls meanwhile; returns the answer
    /// with the round-trip time.
    pub async fn call(
        &mut self,
        action: &str,
        payload: Value,
        handler: &mut Handler<'_>,
    ) -> anyhow::Result<(Reply, Duration)> {
        self.next += 1;
        let id = format!("s{}", self.next);
        let frame = json!([2, id, action, payload]).to_string();
        let started = Instant::now();
        self.ws
            .send(Message::text(frame))
            .await
            .context("sending")?;
        let deadline = started + self.timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let v = tokio::time::timeout(left, self.frame())
                .await
                .map_err(|_| anyhow!("{action}: no answer within {:?}", self.timeout))?
                .with_context(|| action.to_string())?;
            match (
                v.get(0).and_then(Value::as_u64),
                v.get(1).and_then(Value::as_str),
            ) {
                (Some(3), Some(r)) if r == id => {
                    return Ok((Reply::Result(v[2].clone()), started.elapsed()));
                }
                (Some(4), Some(r)) if r == id => {
                    let code = v[2].as_str().unwrap_or_default().to_string();
                    let desc = v[3].as_str().unwrap_or_default().to_string();
                    return Ok((Reply::Error(code, desc), started.elapsed()));
                }
                (Some(2), Some(_)) => self.answer(&v, handler).await?,
                _ => {}
            }
        }
    }

    /// Waits `how_long`, answering the CSMS's calls (and pings) as they come; returns early, with true,
    /// after a call the handler answered (the caller may have something to do about it).
    pub async fn idle(
        &mut self,
        how_long: Duration,
        handler: &mut Handler<'_>,
    ) -> anyhow::Result<bool> {
        let until = tokio::time::Instant::now() + how_long;
        loop {
            let v = tokio::select! {
                v = self.frame() => v?,
                _ = tokio::time::sleep_until(until) => return Ok(false),
            };
            if v.get(0).and_then(Value::as_u64) == Some(2) {
                self.answer(&v, handler).await?;
                return Ok(true);
            }
        }
    }

    /// The next JSON frame (pings are answered on the way).
    async fn frame(&mut self) -> anyhow::Result<Value> {
        loop {
            let text = match self.ws.next().await {
                Some(Ok(Message::Text(t))) => t.to_string(),
                Some(Ok(Message::Binary(b))) => String::from_utf8_lossy(&b).into_owned(),
                Some(Ok(Message::Ping(_))) => {
                    // The pong is queued by the library; send it now, not with the next frame.
                    self.ws.flush().await.context("answering a ping")?;
                    continue;
                }
                Some(Ok(Message::Close(c))) => bail!("connection closed by the CSMS ({c:?})"),
                Some(Ok(_)) => continue,
                Some(Err(e)) => bail!("{e}"),
                None => bail!("connection closed"),
            };
            match serde_json::from_str(&text) {
                Ok(v) => return Ok(v),
                Err(_) => continue, // not OCPP-J: nothing to answer
            }
        }
    }

    async fn answer(&mut self, call: &Value, handler: &mut Handler<'_>) -> anyhow::Result<()> {
        let id = call[1].as_str().unwrap_or("-1");
        let action = call[2].as_str().unwrap_or("");
        let payload = call.get(3).cloned().unwrap_or(json!({}));
        let frame = match handler(action, &payload) {
            Ok(result) => json!([3, id, result]),
            Err((code, description)) => json!([4, id, code, description, {}]),
        };
        self.ws
            .send(Message::text(frame.to_string()))
            .await
            .context("answering the CSMS")
    }

    /// Closes the connection.
    pub async fn close(mut self) {
        let _ = self.ws.close(None).await;
    }
}
