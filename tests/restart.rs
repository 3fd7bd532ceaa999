//! A restart loses nothing: stop the stack mid-session, start it again on the same data directory,
//! finish the session, and find all of it.

use cpms_tests::{Charger, Stack};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let stack = Stack::start_in(dir.path()).await;
    stack.register("CP1").await;
    stack.token("TAG").await;
    let mut cp = Charger::connect(&stack, "CP1", "ocpp1.6").await.unwrap();
    cp.boot(false).await;
    let s = cp.call("StartTransaction", json!({"connectorId": 1, "idTag": "TAG", "meterStart": 500, "timestamp": "2025-06-01T10:00:00Z"})).await;
    let tx = s[2]["transactionId"].as_i64().unwrap();
    cp.call("MeterValues", json!({"connectorId": 1, "transactionId": tx, "meterValue": [{"timestamp": "2025-06-01T10:10:00Z",
        "sampledValue": [{"value": "1500"}]}]})).await;
    stack.stop().await;
    assert!(
        cp.recv().await.is_none(),
        "the charger saw its connection close"
    );

    let stack = Stack::start_in(dir.path()).await;
    // the charger reconnects and goes on without booting again (it was accepted before)
    let mut cp = Charger::connect(&stack, "CP1", "ocpp1.6").await.unwrap();
    let r = cp.call("MeterValues", json!({"connectorId": 1, "transactionId": tx, "meterValue": [{"timestamp": "2025-06-01T10:20:00Z",
        "sampledValue": [{"value": "2500"}]}]})).await;
    assert_eq!(r[0], 3, "{r}");
    let r = cp
        .call(
            "StopTransaction",
            json!({"transactionId": tx, "meterStop": 3500, "timestamp": "2025-06-01T10:30:00Z"}),
        )
        .await;
    assert_eq!(r[0], 3, "{r}");
    let (_, s) = stack.get(&format!("/v1/sessions/CP1~{tx}")).await;
    assert_eq!(s["status"], "completed");
    assert_eq!(s["energy_wh"], 3000);
    assert_eq!(s["sample_count"], 2);
    let (_, t) = stack.get("/v1/tokens/TAG").await;
    assert_eq!(t["status"], "accepted");
    stack.stop().await;
}
