//! The eMSP peer of the OCPI tests (tests/python/ocpi_emsp.py, on extrawest-ocpi) as a process the test
//! starts and stops, and its control API.

use std::io::BufRead;
use std::time::{Duration, Instant};

use serde_json::Value;

/// The eMSP process, stopped when dropped.
pub struct Emsp {
    child: std::process::Child,
    /// `http://127.0.0.1:PORT`
    pub base: String,
    /// Its party (`NL-EXA` by default).
    pub party: (String, String),
    http: reqwest::Client,
}

impl Drop for Emsp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Emsp {
    /// Starts an eMSP of party NL*EXA that takes `token_a` for registrations with it.
    pub async fn start(token_a: &str) -> Emsp {
        Self::start_as(token_a, "NL", "EXA").await
    }

    /// Starts an eMSP of party `country`*`party`.
    pub async fn start_as(token_a: &str, country: &str, party: &str) -> Emsp {
        let port = crate::free_port();
        let mut child = std::process::Command::new(crate::ocpi_python())
            .arg(crate::root().join("tests/python/ocpi_emsp.py"))
            .args(["--port", &port.to_string(), "--token-a", token_a])
            .args(["--country", country, "--party", party])
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("the OCPI peer's Python (tests/python/ocpi-requirements.txt)");
        let stderr = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for l in std::io::BufReader::new(stderr)
                .lines()
                .map_while(Result::ok)
            {
                eprintln!("emsp: {l}");
            }
        });
        let base = format!("http://127.0.0.1:{port}");
        let end = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < end, "the eMSP did not start");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Emsp {
            child,
            base,
            party: (country.into(), party.into()),
            http: reqwest::Client::new(),
        }
    }

    /// Its versions endpoint.
    pub fn versions_url(&self) -> String {
        format!("{}/ocpi/versions", self.base)
    }

    /// What it has received and holds (`GET /control/state`).
    pub async fn state(&self) -> Value {
        crate::send(self.http.get(format!("{}/control/state", self.base)))
            .await
            .1
    }

    /// POSTs to its control API.
    pub async fn control(&self, path: &str, body: Value) -> (u16, Value) {
        crate::send(
            self.http
                .post(format!("{}/control/{path}", self.base))
                .json(&body),
        )
        .await
    }
}

/// `Authorization: Token <base64>` as 2.2.1 sends it.
pub fn token_header(token: &str) -> String {
    use base64::Engine;
    format!(
        "Token {}",
        base64::engine::general_purpose::STANDARD.encode(token)
    )
}
