//! The operator API against its own OpenAPI document, on the real server with real data: the document
//! is valid OpenAPI 3.1, a generated Python client works, every documented operation answers as the
//! document says, and schemathesis finds nothing (tests/python/openapi_check.py).

use std::time::Duration;

use cpms_tests::{Charger, KEY, Stack, python, root};

use serde_json::json;
use tokio_tungstenite::tungstenite::Message;

/// Runs a script of tests/python with the test virtualenv's Python.
async fn run_python(script: &'static str, args: Vec<String>) -> std::process::Output {
    tokio::task::spawn_blocking(move || {
        std::process::Command::new(python())
            .arg(root().join("tests/python").join(script))
            .args(args)
            .output()
            .expect("python runs")
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_operation_answers_as_its_document_says() {
    let stack = Stack::start().await;
    stack.register("OA-CP").await;
    stack.token("OA-TAG").await;
    let mut cp = Charger::connect(&stack, "OA-CP", "ocpp1.6").await.unwrap();
    cp.boot(false).await;
    let tx = cp
        .call(
            "StartTransaction",
            json!({"connectorId": 1, "idTag": "OA-TAG", "meterStart": 0,
            "timestamp": "2026-11-30T10:00:00Z"}),
        )
        .await[2]["transactionId"]
        .as_i64()
        .unwrap();
    cp.call(
        "MeterValues",
        json!({"connectorId": 1, "transactionId": tx, "meterValue": [
        {"timestamp": "2026-11-30T10:30:00Z", "sampledValue": [{"value": "3000"}]}]}),
    )
    .await;
    cp.call(
        "StopTransaction",
        json!({"transactionId": tx, "meterStop": 6000,
        "timestamp": "2026-11-30T11:00:00Z"}),
    )
    .await;
    stack
        .wait_for("/v1/cdrs", |v| {
            v["items"].as_array().is_some_and(|a| !a.is_empty())
        })
        .await;
    // A fault: an open incident for the incident operations.
    cp.call(
        "StatusNotification",
        json!({"connectorId": 1, "status": "Faulted", "errorCode": "GroundFailure"}),
    )
    .await;
    stack
        .wait_for("/v1/incidents", |v| {
            v["items"].as_array().is_some_and(|a| !a.is_empty())
        })
        .await;
    // The charger answers whatever the CSMS sends it.
    let answering = tokio::spawn(async move {
        // (however long the walk leaves it without a frame: it ends with the connection)
        while let Some(frame) = cp.recv_within(Duration::from_secs(900)).await {
            eprintln!("charger got {frame}");
            if frame[0] == 2 {
                cp.send(Message::text(
                    json!([3, frame[1], {"status": "Accepted"}]).to_string(),
                ))
                .await;
            }
        }
        eprintln!("charger connection ended");
    });
    // A real eMSP, for the roaming operations to succeed against.
    let emsp = cpms_tests::ocpi::Emsp::start("oa-emsp-token-a").await;
    let out = run_python(
        "openapi_check.py",
        vec![
            "--api".into(),
            stack.api.clone(),
            "--key".into(),
            KEY.into(),
            "--charger".into(),
            "OA-CP".into(),
            "--emsp".into(),
            emsp.base.clone(),
            "--emsp-token".into(),
            "oa-emsp-token-a".into(),
        ],
    )
    .await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}");
    assert!(out.status.success(), "{stdout}\n{stderr}");
    answering.abort();
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_reference_page_renders_every_operation_in_a_real_browser() {
    let stack = Stack::start().await;
    let (_, doc) = stack.get("/v1/openapi.json").await;
    let operations: usize = doc["paths"]
        .as_object()
        .unwrap()
        .values()
        .map(|p| p.as_object().unwrap().len())
        .sum();
    let shot = std::env::temp_dir().join("cpms-docs.png");
    let args = vec![
        "--api".into(),
        stack.api.clone(),
        "--operations".into(),
        operations.to_string(),
        "--screenshot".into(),
        shot.display().to_string(),
    ];
    let out = run_python("docs_page.py", args).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "{stdout}\n{stderr}\n(the browser test needs Debian's chromium and chromium-driver: .ci/run installs them)"
    );
    stack.stop().await;
}
