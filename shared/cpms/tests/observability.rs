//! What an operator sees of a running server: info logs of connections, boots, sessions, commands and
//! API requests (plain text, no colours when stderr is not a terminal, never a secret), and Prometheus
//! metrics at /metrics.

mod common;

use std::io::Read;
use std::process::Stdio;
use std::time::Duration;

use common::{KEY, call, command, free_port, up};
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_and_metrics_tell_an_operator_what_happens() {
    let dir = tempfile::tempdir().unwrap();
    let (wsp, httpp) = (free_port(), free_port());
    let mut cmd = command(dir.path(), wsp, httpp, &[]);
    cmd.env("CPMS_ADMIN_KEY", KEY)
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut s = up(cmd.spawn().unwrap(), wsp, httpp).await;
    let api = s.api();
    let http = reqwest::Client::new();
    let password = "observe-password-0001";
    common::register_charger(&api, "OBS-1", password).await;
    assert_eq!(
        common::post(&api, "/v1/tokens", json!({"id": "OBS-TAG"})).await,
        201
    );
    let mut ws = common::connect_charger(wsp, "OBS-1", password, "ocpp1.6")
        .await
        .unwrap();
    call(
        &mut ws,
        "b",
        "BootNotification",
        json!({"chargePointVendor": "Obs", "chargePointModel": "O1"}),
    )
    .await;
    let tx = call(
        &mut ws,
        "s",
        "StartTransaction",
        json!({"connectorId": 1, "idTag": "OBS-TAG",
        "meterStart": 0, "timestamp": "2026-11-30T10:00:00Z"}),
    )
    .await[2]["transactionId"]
        .as_i64()
        .unwrap();
    call(
        &mut ws,
        "e",
        "StopTransaction",
        json!({"transactionId": tx, "meterStop": 7000,
        "timestamp": "2026-11-30T11:00:00Z"}),
    )
    .await;
    call(&mut ws, "x", "NoSuchAction", json!({})).await;
    // A command the charger never answers: it times out.
    let r = http
        .post(format!(
            "{api}/v1/chargers/OBS-1/commands?timeout_s=5&wait=10"
        ))
        .bearer_auth(KEY)
        .json(&json!({"type": "clear_cache"}))
        .send()
        .await
        .unwrap();
    let c: Value = r.json().await.unwrap();
    assert_eq!(c["state"], "timed_out", "{c}");
    let metrics = http
        .get(format!("{api}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for name in [
        "cpms_connected_chargers 1",
        "cpms_frames_total{action=\"StartTransaction\",version=\"1.6\"} 1",
        "cpms_call_errors_total{action=\"unknown\",code=\"NotImplemented\"} 1",
        "cpms_frame_seconds_bucket{action=\"MeterValues\"",
        "cpms_store_commit_seconds_bucket",
        "cpms_sessions_total{event=\"ended\",version=\"1.6\"} 1",
        "cpms_commands_total{outcome=\"timed_out\"} 1",
        "cpms_consumer_queue_depth{consumer=\"billing\"}",
        "cpms_api_requests_total{method=\"POST\",status=\"201\"}",
    ] {
        let base = name.split(['{', ' ']).next().unwrap();
        assert!(
            metrics.contains(name) || (name.contains("MeterValues") && metrics.contains(base)),
            "{name} not in\n{metrics}"
        );
    }
    drop(ws);
    tokio::time::sleep(Duration::from_millis(300)).await;
    // SIGTERM: a clean shutdown, then read what it logged.
    unsafe { libc_kill(s.child.id() as i32, 15) };
    let _ = s.child.wait();
    let mut logs = String::new();
    s.child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut logs)
        .unwrap();
    assert!(
        !logs.contains('\u{1b}'),
        "no ANSI colours in a pipe:\n{logs}"
    );
    for want in [
        "charger connected",
        "boot",
        "session started",
        "session ended",
        "energy_wh=7000",
        "command sent",
        "command ended",
        "outcome=\"timed_out\"",
        "api request",
        "method=POST path=\"/v1/chargers\" status=201",
        "key=\"default/bootstrap\"",
        "connection closed",
    ] {
        assert!(logs.contains(want), "{want:?} not logged:\n{logs}");
    }
    assert!(
        !logs.contains(KEY) && !logs.contains(password),
        "no secret in the logs:\n{logs}"
    );
}

unsafe extern "C" {
    #[link_name = "kill"]
    fn libc_kill(pid: i32, sig: i32) -> i32;
}
