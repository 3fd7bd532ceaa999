//! Running the real `cpms serve` binary for tests: on free ports, a data directory of the test's, an
//! optional open-files limit; killed (SIGKILL) when dropped.

#![allow(dead_code)]

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The admin key of test servers.
pub const KEY: &str = "crash-test-key";

/// A port nobody listens on now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A running `cpms serve`.
pub struct Server {
    pub child: Child,
    pub ws: u16,
    pub http: u16,
}

impl Server {
    /// SIGKILL, no chance to flush anything.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// The API's base URL.
    pub fn api(&self) -> String {
        format!("http://127.0.0.1:{}", self.http)
    }

    /// How many descriptors the server process has open now.
    pub fn open_fds(&self) -> usize {
        std::fs::read_dir(format!("/proc/{}/fd", self.child.id()))
            .map(|d| d.count())
            .unwrap_or(0)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Starts `cpms serve` on `dir` and waits for its health check.
pub async fn start(dir: &std::path::Path, ws: u16, http: u16) -> Server {
    start_with(dir, ws, http, &[], None).await
}

/// Starts `cpms serve` with extra arguments and, if given, an open-files limit (soft and hard).
pub async fn start_with(
    dir: &std::path::Path,
    ws: u16,
    http: u16,
    extra: &[&str],
    nofile: Option<u64>,
) -> Server {
    let mut cmd = command(dir, ws, http, extra);
    cmd.env("CPMS_ADMIN_KEY", KEY).stdout(Stdio::null());
    if let Some(n) = nofile {
        use std::os::unix::process::CommandExt;
        // SAFETY: setrlimit is async-signal-safe; nothing else runs between fork and exec.
        unsafe {
            cmd.pre_exec(move || {
                rlimit::setrlimit(rlimit::Resource::NOFILE, n, n)?;
                Ok(())
            });
        }
    }
    let child = cmd.spawn().expect("cpms starts");
    up(child, ws, http).await
}

/// The `cpms serve` command on `dir` and the given ports (standard error discarded).
pub fn command(dir: &std::path::Path, ws: u16, http: u16, extra: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_cpms"));
    cmd.args([
        "serve",
        "--ws-addr",
        &format!("127.0.0.1:{ws}"),
        "--http-addr",
        &format!("127.0.0.1:{http}"),
        "--management-addr",
        "127.0.0.1:0",
    ])
    .args(extra)
    .arg("--data-dir")
    .arg(dir)
    .env_remove("CPMS_ADMIN_KEY")
    .stderr(Stdio::null());
    cmd
}

/// Waits for a started server's health check.
pub async fn up(mut child: Child, ws: u16, http: u16) -> Server {
    let client = reqwest::Client::new();
    for _ in 0..100 {
        if client
            .get(format!("http://127.0.0.1:{http}/health"))
            .send()
            .await
            .is_ok()
        {
            return Server { child, ws, http };
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("cpms serve did not come up");
}

/// A WebSocket client connection.
pub type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Connects charger `id` to the server on `ws_port` with Basic auth, offering `protocol`.
pub async fn connect_charger(
    ws_port: u16,
    id: &str,
    password: &str,
    protocol: &str,
) -> Result<Ws, tokio_tungstenite::tungstenite::Error> {
    use base64::Engine;
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let mut req = format!("ws://127.0.0.1:{ws_port}/ocpp/{id}").into_client_request()?;
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("{id}:{password}"));
    let h = req.headers_mut();
    h.insert(
        "Authorization",
        format!("Basic {auth}").parse().expect("header"),
    );
    h.insert("Sec-WebSocket-Protocol", protocol.parse().expect("header"));
    tokio_tungstenite::connect_async(req)
        .await
        .map(|(ws, _)| ws)
}

/// POSTs `body` to the API at `api` with the admin key; the status.
pub async fn post(api: &str, path: &str, body: serde_json::Value) -> u16 {
    reqwest::Client::new()
        .post(format!("{api}{path}"))
        .bearer_auth(KEY)
        .json(&body)
        .send()
        .await
        .expect("the API answers")
        .status()
        .as_u16()
}

/// Registers a charger with `password` (201), through the API at `api`.
pub async fn register_charger(api: &str, id: &str, password: &str) {
    let status = post(
        api,
        "/v1/chargers",
        serde_json::json!({"id": id, "password": password}),
    )
    .await;
    assert_eq!(status, 201, "registering {id}");
}

/// Sends a CALL on `ws` and returns the answer to it (CALLRESULT or CALLERROR; other frames are skipped).
pub async fn call(
    ws: &mut Ws,
    id: &str,
    action: &str,
    payload: serde_json::Value,
) -> serde_json::Value {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    let frame = serde_json::json!([2, id, action, payload]).to_string();
    ws.send(Message::text(frame)).await.expect("send");
    loop {
        if let Some(Ok(Message::Text(t))) = ws.next().await {
            let v: serde_json::Value = serde_json::from_str(&t).expect("JSON");
            if (v[0] == 3 || v[0] == 4) && v[1] == id {
                return v;
            }
        }
    }
}

/// GETs `path` from the API at `api` with the admin key; the JSON body.
pub async fn get(api: &str, path: &str) -> serde_json::Value {
    reqwest::Client::new()
        .get(format!("{api}{path}"))
        .bearer_auth(KEY)
        .send()
        .await
        .expect("the API answers")
        .json()
        .await
        .expect("a JSON body")
}
