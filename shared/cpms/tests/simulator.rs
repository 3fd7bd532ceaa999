//! `cpms simulate` against the real server, as the README's quickstart uses it: it registers its
//! chargers, runs sessions with believable energy, answers the operator's commands while it holds (a
//! reset reboots the charger, a remote start starts a session and a remote stop ends it) and comes back
//! by itself after the server restarts.

mod common;

use std::process::Stdio;
use std::time::Duration;

use common::{KEY, free_port, start};
use serde_json::{Value, json};

async fn api(
    http: &reqwest::Client,
    method: reqwest::Method,
    url: String,
    body: Option<Value>,
) -> Value {
    let mut r = http.request(method, url).bearer_auth(KEY);
    if let Some(b) = body {
        r = r.json(&b);
    }
    r.send().await.unwrap().json().await.unwrap_or(Value::Null)
}

async fn until(what: &str, mut check: impl AsyncFnMut() -> bool) {
    for _ in 0..150 {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{what} did not happen");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_simulator_answers_commands_and_survives_a_restart() {
    for version in ["1.6", "2.0.1"] {
        let dir = tempfile::tempdir().unwrap();
        let (ws, httpp) = (free_port(), free_port());
        let mut server = start(dir.path(), ws, httpp).await;
        let base = server.api();
        let prefix = if version == "1.6" { "SIMA" } else { "SIMB" };
        let sim = tokio::process::Command::new(env!("CARGO_BIN_EXE_cpms"))
            .args([
                "simulate",
                "--url",
                &format!("ws://127.0.0.1:{ws}/ocpp"),
                "--api",
                &base,
            ])
            .args([
                "--admin-key",
                KEY,
                "--chargers",
                "2",
                "--ocpp",
                version,
                "--prefix",
                prefix,
            ])
            .args([
                "--interval-ms",
                "200",
                "--meter-values",
                "3",
                "--hold-secs",
                "20",
                "--json",
            ])
            .args(["--progress-secs", "1"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let http = reqwest::Client::new();
        let cp = format!("{prefix}-00001");
        // The automatic session ends in a CDR with a believable energy (3.7 to 150 kW for 20 minutes).
        until("a CDR", async || {
            let v = api(&http, reqwest::Method::GET, format!("{base}/v1/cdrs"), None).await;
            v["items"].as_array().is_some_and(|a| a.len() == 2)
        })
        .await;
        let cdrs = api(&http, reqwest::Method::GET, format!("{base}/v1/cdrs"), None).await;
        for c in cdrs["items"].as_array().unwrap() {
            let kwh = c["pricing"]["total_energy"].as_f64().unwrap();
            assert!((1.0..=60.0).contains(&kwh), "{kwh} kWh in {c}");
        }
        // A reset reboots it: it boots again.
        let cmd = |body: Value| {
            api(
                &http,
                reqwest::Method::POST,
                format!("{base}/v1/chargers/{cp}/commands?wait=10"),
                Some(body),
            )
        };
        let reset = if version == "1.6" {
            json!({"type": "reset", "kind": "hard"})
        } else {
            json!({"type": "reset", "when": "immediate"})
        };
        let r = cmd(reset).await;
        assert_eq!(
            (r["state"].as_str(), r["status"].as_str()),
            (Some("answered"), Some("Accepted")),
            "{r}"
        );
        until("a reboot", async || {
            let c = api(
                &http,
                reqwest::Method::GET,
                format!("{base}/v1/chargers/{cp}"),
                None,
            )
            .await;
            c["connected"] == true && (version == "1.6" || c["boot"]["reason"] == "RemoteReset")
        })
        .await;
        // A remote start starts a session, a remote stop ends it.
        until("the charger back", async || {
            let r =
                cmd(json!({"type": "start_session", "id_token": "SIMTAG01", "evse_id": 1})).await;
            r["status"] == "Accepted"
        })
        .await;
        let mut active = Value::Null;
        until("a remote session", async || {
            active = api(
                &http,
                reqwest::Method::GET,
                format!("{base}/v1/sessions?charger_id={cp}&status=active"),
                None,
            )
            .await;
            active["items"].as_array().is_some_and(|a| !a.is_empty())
        })
        .await;
        let tx = active["items"][0]["transaction_id"]
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| {
                active["items"][0]["id"]
                    .as_str()
                    .unwrap()
                    .split('~')
                    .nth(1)
                    .unwrap()
                    .to_string()
            });
        let r = cmd(json!({"type": "stop_session", "transaction_id": tx})).await;
        assert_eq!(r["status"], "Accepted", "{r}");
        until("the remote session's end", async || {
            let v = api(
                &http,
                reqwest::Method::GET,
                format!("{base}/v1/sessions/{cp}~{tx}"),
                None,
            )
            .await;
            v["status"] == "completed"
        })
        .await;
        // The server goes away and comes back: the chargers reconnect by themselves.
        server.kill();
        tokio::time::sleep(Duration::from_secs(2)).await;
        let server = start(dir.path(), ws, httpp).await;
        until("reconnected chargers", async || {
            let v = api(
                &http,
                reqwest::Method::GET,
                format!("{}/v1/chargers?connected=true", server.api()),
                None,
            )
            .await;
            v["items"].as_array().is_some_and(|a| a.len() == 2)
        })
        .await;
        let out = sim.wait_with_output().await.unwrap();
        let report: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
        let progress = String::from_utf8_lossy(&out.stderr);
        assert!(
            progress.contains("connected,"),
            "progress lines: {progress}"
        );
        assert_eq!(report["chargers_connected"], 2, "{report}");
        assert!(report["reconnects"].as_u64().unwrap() >= 2, "{report}");
        assert!(report["remote_sessions"].as_u64().unwrap() >= 1, "{report}");
        assert!(report["reboots"].as_u64().unwrap() >= 1, "{report}");
        assert!(
            report["csms_calls_answered"].as_u64().unwrap() >= 3,
            "{report}"
        );
        assert_eq!(report["call_errors"], 0, "{report}");
        assert!(out.status.success(), "{report}\n{progress}");
    }
}
