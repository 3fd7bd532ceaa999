//! Test support: the local stack on port 0 in this process, a WebSocket charger and an HTTP client that
//! talk to it over real sockets, and the Python interpreter that has the PyPI `ocpp` package.

pub mod aws;
pub mod moto;
pub mod ocpi;
pub mod throttle;

use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine;
use cpms::serve::{self, Running, ServeBackend, ServeConfig};
use cpms_app::CsmsConfig;
use cpms_embedded::Durability;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// The admin key of test stacks.
pub const KEY: &str = "test-admin-key";
/// The password test chargers are registered with.
pub const PASSWORD: &str = "test-password-0001";

/// A running local stack.
/// How a tuned stack differs from the default one.
#[derive(Default)]
pub struct Tuning {
    /// How chargers are answered.
    pub csms: CsmsConfig,
    /// An SMTP URL for e-mail notifications.
    pub smtp: Option<String>,
    /// The clock (embedded backend only).
    pub clock: Option<std::sync::Arc<dyn cpms_ports::Clock>>,
}

pub struct Stack {
    running: Option<Running>,
    /// `ws://127.0.0.1:PORT/ocpp`
    pub ws: String,
    /// `http://127.0.0.1:PORT`
    pub api: String,
    /// The management API, `http://127.0.0.1:PORT`.
    pub management: String,
    http: reqwest::Client,
    _tmp: Option<tempfile::TempDir>,
}

impl Stack {
    /// A stack on a fresh data directory.
    pub async fn start() -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let mut s = Self::start_in(tmp.path()).await;
        s._tmp = Some(tmp);
        s
    }

    /// A stack on `dir` (which may hold the data of an earlier stack).
    pub async fn start_in(dir: &Path) -> Self {
        Self::start_with(ServeBackend::Embedded {
            data_dir: dir.to_path_buf(),
            durability: Durability::Immediate,
            commit_window: std::time::Duration::from_millis(cpms::serve::DEFAULT_COMMIT_WINDOW_MS),
        })
        .await
    }

    /// A stack running the Lambda handlers on the DynamoDB `table` of the emulator at `endpoint`.
    pub async fn start_aws(endpoint: &str, table: &str) -> Self {
        Self::start_with(ServeBackend::Aws {
            settings: cpms_lambda::AwsSettings {
                table: table.into(),
                endpoint: Some(endpoint.into()),
                ..Default::default()
            },
            create_table: true,
        })
        .await
    }

    async fn start_with(backend: ServeBackend) -> Self {
        Self::start_configured(backend, Tuning::default()).await
    }

    /// A stack on a fresh data directory, tuned.
    pub async fn start_tuned(t: Tuning) -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let backend = ServeBackend::Embedded {
            data_dir: tmp.path().to_path_buf(),
            durability: Durability::Immediate,
            commit_window: std::time::Duration::from_millis(cpms::serve::DEFAULT_COMMIT_WINDOW_MS),
        };
        let mut s = Self::start_configured(backend, t).await;
        s._tmp = Some(tmp);
        s
    }

    /// The same on the DynamoDB `table` of the emulator at `endpoint` (its clock is the system's).
    pub async fn start_aws_tuned(endpoint: &str, table: &str, t: Tuning) -> Self {
        let backend = ServeBackend::Aws {
            settings: cpms_lambda::AwsSettings {
                table: table.into(),
                endpoint: Some(endpoint.into()),
                heartbeat_interval_s: Some(t.csms.heartbeat_interval.as_secs()),
                last_seen_every_s: Some(t.csms.last_seen_every.as_secs().max(1)),
                ..Default::default()
            },
            create_table: true,
        };
        Self::start_configured(backend, t).await
    }

    async fn start_configured(backend: ServeBackend, t: Tuning) -> Self {
        let Tuning { csms, smtp, clock } = t;
        let running = serve::start(ServeConfig {
            ws_addr: "127.0.0.1:0".parse().unwrap(),
            http_addr: "127.0.0.1:0".parse().unwrap(),
            management_addr: Some("127.0.0.1:0".parse().unwrap()),
            backend,
            admin_key: cpms_app::api::AdminKey::new(KEY),
            idle_timeout: Duration::from_secs(600),
            max_unauthenticated: 1000,
            header_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(30),
            csms,
            alert_sweep: Duration::from_millis(1000),
            smtp: smtp.map(|url| cpms_notify::SmtpConfig {
                url,
                from: "CPMS Alerts <alerts@cpms.test>".into(),
            }),
            clock,
            public_url: None,
        })
        .await
        .expect("the stack starts");
        Stack {
            management: format!("http://{}", running.management_addr.unwrap()),
            ws: format!("ws://{}/ocpp", running.ws_addr),
            api: format!("http://{}", running.http_addr),
            running: Some(running),
            http: reqwest::Client::new(),
            _tmp: None,
        }
    }

    /// The aws backend's meter of the capacity units its table requests consume.
    pub fn meter(&self) -> Option<std::sync::Arc<cpms_aws::dynamodb::Meter>> {
        self.running.as_ref().and_then(|r| r.meter.clone())
    }

    /// The application of the stack (to call its ports directly).
    pub fn csms(&self) -> &std::sync::Arc<cpms_app::Csms> {
        &self.running.as_ref().expect("running").csms
    }

    /// Stops the stack (connections are closed, the store is closed).
    pub async fn stop(mut self) {
        if let Some(r) = self.running.take() {
            r.shutdown().await;
        }
    }

    /// A request with the admin key.
    pub fn req(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, format!("{}{path}", self.api))
            .bearer_auth(KEY)
    }

    /// GET with the admin key; status and JSON body.
    pub async fn get(&self, path: &str) -> (u16, Value) {
        send(self.req(reqwest::Method::GET, path)).await
    }

    /// GETs `path` (admin key) until `check` holds of its body, for up to 10 s; returns that body.
    pub async fn wait_for(&self, path: &str, check: impl Fn(&Value) -> bool) -> Value {
        for _ in 0..200 {
            let (_, v) = self.get(path).await;
            if check(&v) {
                return v;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let (_, v) = self.get(path).await;
        panic!("{path} never reached the expected state: {v}");
    }

    /// POST JSON with the admin key.
    pub async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        send(self.req(reqwest::Method::POST, path).json(&body)).await
    }

    /// Registers a charger with [`PASSWORD`].
    pub async fn register(&self, id: &str) {
        let (s, b) = self
            .post("/v1/chargers", json!({"id": id, "password": PASSWORD}))
            .await;
        assert_eq!(s, 201, "{b}");
    }

    /// Registers an accepted token.
    pub async fn token(&self, id: &str) {
        let (s, b) = self
            .post("/v1/tokens", json!({"id": id, "status": "accepted"}))
            .await;
        assert_eq!(s, 201, "{b}");
    }
}

/// Sends a request; status and JSON body (`null` when empty).
pub async fn send(r: reqwest::RequestBuilder) -> (u16, Value) {
    let resp = r.send().await.expect("the API answers");
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap_or_default();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// A charger on a real WebSocket.
pub struct Charger {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    n: u64,
    /// The subprotocol the server chose.
    pub protocol: Option<String>,
}

impl Charger {
    /// Connects with Basic auth, offering `protocols`.
    pub async fn connect(stack: &Stack, id: &str, protocols: &str) -> anyhow::Result<Self> {
        Self::connect_with(stack, id, protocols, Some(PASSWORD)).await
    }

    /// Connects with the given password (or none).
    pub async fn connect_with(
        stack: &Stack,
        id: &str,
        protocols: &str,
        password: Option<&str>,
    ) -> anyhow::Result<Self> {
        let mut req = format!("{}/{id}", stack.ws).into_client_request()?;
        req.headers_mut()
            .insert("Sec-WebSocket-Protocol", HeaderValue::from_str(protocols)?);
        if let Some(p) = password {
            let t = base64::engine::general_purpose::STANDARD.encode(format!("{id}:{p}"));
            req.headers_mut().insert(
                "Authorization",
                HeaderValue::from_str(&format!("Basic {t}"))?,
            );
        }
        // Without Nagle: a charger's answer and its next call go out at once (as chargers' own stacks
        // mostly do), so latencies measured here are the server's, not delayed ACKs'.
        let (ws, resp) = tokio_tungstenite::connect_async_with_config(req, None, true).await?;
        let protocol = resp
            .headers()
            .get("Sec-WebSocket-Protocol")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        Ok(Charger { ws, n: 0, protocol })
    }

    /// Sends a CALL and returns the answer frame.
    pub async fn call(&mut self, action: &str, payload: Value) -> Value {
        self.n += 1;
        let id = format!("t{}", self.n);
        self.send(Message::text(json!([2, id, action, payload]).to_string()))
            .await;
        let reply = self.recv().await.expect("an answer");
        assert_eq!(reply[1], id, "{reply}");
        reply
    }

    /// Sends a raw message.
    pub async fn send(&mut self, m: Message) {
        self.ws.send(m).await.expect("send");
    }

    /// Sends a raw message; false when the connection is already gone.
    pub async fn try_send(&mut self, m: Message) -> bool {
        self.ws.send(m).await.is_ok()
    }

    /// The next text frame as JSON; `None` when the connection closed (or nothing came within 10 s).
    pub async fn recv(&mut self) -> Option<Value> {
        self.recv_within(Duration::from_secs(10)).await
    }

    /// The next text frame within `within` (`None`: none came, or the connection closed).
    pub async fn recv_within(&mut self, within: Duration) -> Option<Value> {
        loop {
            let m = tokio::time::timeout(within, self.ws.next()).await.ok()??;
            match m {
                Ok(Message::Text(t)) => return serde_json::from_str(&t).ok(),
                Ok(Message::Close(_)) | Err(_) => return None,
                Ok(_) => continue,
            }
        }
    }

    /// Boots and expects Accepted.
    pub async fn boot(&mut self, v201: bool) {
        let p = if v201 {
            json!({"reason": "PowerUp", "chargingStation": {"vendorName": "Test", "model": "T2"}})
        } else {
            json!({"chargePointVendor": "Test", "chargePointModel": "T1"})
        };
        let r = self.call("BootNotification", p).await;
        assert_eq!(r[2]["status"], "Accepted", "{r}");
    }

    /// Closes the connection.
    pub async fn close(mut self) {
        let _ = self.ws.close(None).await;
    }
}

/// The workspace root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// The Python interpreter with the `ocpp` and `websockets` packages: `$CPMS_PYTHON`, or the virtualenv
/// `scripts/test` creates in `.venv`.
/// A TCP port free on loopback now (for a process the test starts, which binds it itself).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port on loopback")
        .port()
}

/// The Python of the OCPI peer (`CPMS_OCPI_PYTHON`, or `.venv-ocpi`, which `scripts/test` creates
/// from tests/python/ocpi-requirements.txt: extrawest-ocpi cannot share `.venv`).
pub fn ocpi_python() -> PathBuf {
    if let Ok(p) = std::env::var("CPMS_OCPI_PYTHON") {
        return p.into();
    }
    let venv = root().join(".venv-ocpi/bin/python");
    assert!(
        venv.exists(),
        "no Python with extrawest-ocpi: run ./scripts/test (it creates .venv-ocpi) or set CPMS_OCPI_PYTHON"
    );
    venv
}

pub fn python() -> PathBuf {
    if let Ok(p) = std::env::var("CPMS_PYTHON") {
        return p.into();
    }
    let venv = root().join(".venv/bin/python");
    assert!(
        venv.exists(),
        "no Python with the `ocpp` package: run ./scripts/test (it creates .venv) or set CPMS_PYTHON"
    );
    venv
}
