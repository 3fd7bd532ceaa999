//! A minimal OCPP-J client: one connection, one CALL in flight, answers to calls from the CSMS.
//! It assumes nothing beyond OCPP-J, so it works against any CSMS.

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
    ) -> anyhow::Result<Self> {
        let url = format!("{}/{id}", base_url.trim_end_matches('/'));
        let mut req = url.as_str().into_client_request().context("charger URL")?;
        let h = req.headers_mut();
        h.insert(
            "Sec-WebSocket-Protocol",
            HeaderValue::from_static(version.subprotocol()),
        );
        if let Some(p) = password {
            let token = base64::engine::general_purpose::STANDARD.encode(format!("{id}:{p}"));
            h.insert(
                "Authorization",
                HeaderValue::from_str(&format!("Basic {token}"))?,
            );
        }
        let (ws, _) = tokio::time::timeout(timeout, tokio_tungstenite::connect_async(req))
            .await
            .map_err(|_| anyhow!("connect timed out"))?
            .with_context(|| format!("connecting {url}"))?;
        Ok(Client {
            ws,
            next: 0,
            timeout,
        })
    }

    /// Sends a CALL and waits for its answer; returns it with the round-trip time.
    pub async fn call(
        &mut self,
        action: &str,
        payload: Value,
    ) -> anyhow::Result<(Reply, Duration)> {
        self.next += 1;
        let id = self.next.to_string();
        let frame = json!([2, id, action, payload]).to_string();
        let started = Instant::now();
        self.ws
            .send(Message::text(frame))
            .await
            .context("sending")?;
        let deadline = started + self.timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let msg = tokio::time::timeout(left, self.ws.next())
                .await
                .map_err(|_| anyhow!("{action}: no answer within {:?}", self.timeout))?;
            let text = match msg {
                Some(Ok(Message::Text(t))) => t.to_string(),
                Some(Ok(Message::Binary(b))) => String::from_utf8_lossy(&b).into_owned(),
                Some(Ok(Message::Close(c))) => {
                    bail!("{action}: connection closed by the CSMS ({c:?})")
                }
                Some(Ok(_)) => continue,
                Some(Err(e)) => bail!("{action}: {e}"),
                None => bail!("{action}: connection closed"),
            };
            let v: Value =
                serde_json::from_str(&text).with_context(|| format!("unreadable frame {text}"))?;
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
                (Some(2), Some(r)) => {
                    // A call from the CSMS: this simulator implements no CSMS-initiated action.
                    let answer = json!([
                        4,
                        r,
                        "NotImplemented",
                        "not implemented by the simulator",
                        {}
                    ]);
                    self.ws.send(Message::text(answer.to_string())).await?;
                }
                _ => {}
            }
        }
    }

    /// Closes the connection.
    pub async fn close(mut self) {
        let _ = self.ws.close(None).await;
    }
}
