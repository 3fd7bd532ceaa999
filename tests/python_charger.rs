//! A charger written with the PyPI `ocpp` library (which validates every answer against the official
//! schemas) runs a 1.6 session and a 2.0.1 session against the local stack; the sessions are then read
//! back through the operator API.

use std::process::Command;

use cpms_tests::{PASSWORD, Stack, python, root};
use serde_json::Value;

async fn run_charger(stack: &Stack, id: &str, version: &str) -> Value {
    let script = root().join("tests/python/charger.py");
    let (ws, id2, version2) = (stack.ws.clone(), id.to_string(), version.to_string());
    let out = tokio::task::spawn_blocking(move || {
        Command::new(python())
            .arg(script)
            .args([
                "--url",
                &ws,
                "--id",
                &id2,
                "--password",
                PASSWORD,
                "--version",
                &version2,
                "--tag",
                "PYTAG",
            ])
            .output()
            .expect("python runs")
    })
    .await
    .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "the {version} charger failed:\n{stderr}"
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|_| panic!("summary: {stderr}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_1_6_charger_we_did_not_write() {
    let stack = Stack::start().await;
    stack.register("PY16").await;
    stack.token("PYTAG").await;
    let summary = run_charger(&stack, "PY16", "1.6").await;
    let tx = summary["transaction_id"].as_str().unwrap();
    let (s, session) = stack.get(&format!("/v1/sessions/PY16~{tx}")).await;
    assert_eq!(s, 200, "{session}");
    assert_eq!(session["status"], "completed");
    assert_eq!(session["energy_wh"], 6000);
    assert_eq!(session["stop_reason"], "EVDisconnected");
    let (_, cp) = stack.get("/v1/chargers/PY16").await;
    assert_eq!(cp["boot"]["vendor"], "PyPI-ocpp");
    assert_eq!(cp["firmware"]["status"], "Idle");
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_2_0_1_charger_we_did_not_write_with_permessage_deflate() {
    let stack = Stack::start().await;
    stack.register("PY201").await;
    stack.token("PYTAG").await;
    let summary = run_charger(&stack, "PY201", "2.0.1").await;
    assert!(
        summary["extensions"]
            .as_str()
            .unwrap()
            .contains("permessage-deflate"),
        "{summary}"
    );
    let tx = summary["transaction_id"].as_str().unwrap();
    let (s, session) = stack.get(&format!("/v1/sessions/PY201~{tx}")).await;
    assert_eq!(s, 200, "{session}");
    assert_eq!(session["status"], "completed");
    assert_eq!(session["energy_wh"], 10250);
    assert_eq!(session["meter_start_wh"], 20000);
    assert_eq!(session["soc_percent"], 57);
    assert_eq!(session["power_w"], 11000);
    let (_, events) = stack.get("/v1/chargers/PY201/events").await;
    let kinds: Vec<&str> = events["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    for k in ["device_event", "report", "security_event", "data_transfer"] {
        assert!(kinds.contains(&k), "{k} in {kinds:?}");
    }
    stack.stop().await;
}
