//! The real `cpms serve` binary killed with SIGKILL mid-session loses nothing it acknowledged: a charger
//! that got its answer never resends, so every answered message must be in the store after a restart.

use std::time::Duration;

use serde_json::{Value, json};

mod common;

use common::{Server, Ws, call, free_port, start};

async fn connect(s: &Server) -> Ws {
    connect_as(s, "CRASH1", "ocpp1.6").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_session_loses_nothing_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let (wsp, httpp) = (free_port(), free_port());
    let mut s = start(dir.path(), wsp, httpp).await;
    let api = format!("http://127.0.0.1:{}", s.http);
    common::register_charger(&api, "CRASH1", "crash-password-0001").await;
    assert_eq!(
        common::post(&api, "/v1/tokens", json!({"id": "ANY"})).await,
        201
    );
    let mut ws = connect(&s).await;
    call(
        &mut ws,
        "b",
        "BootNotification",
        json!({"chargePointVendor": "V", "chargePointModel": "M"}),
    )
    .await;
    let st = call(&mut ws, "s", "StartTransaction", json!({"connectorId": 1, "idTag": "ANY", "meterStart": 0, "timestamp": "2025-01-01T00:00:00Z"})).await;
    let tx = st[2]["transactionId"].as_i64().unwrap();
    for i in 1..=20 {
        let r = call(&mut ws, &format!("m{i}"), "MeterValues", json!({"connectorId": 1, "transactionId": tx,
            "meterValue": [{"timestamp": format!("2025-01-01T00:{i:02}:00Z"), "sampledValue": [{"value": (i * 100).to_string()}]}]})).await;
        assert_eq!(r[0], 3);
    }
    s.kill();
    drop(s);

    let s = start(dir.path(), wsp, httpp).await;
    let mut ws = connect(&s).await;
    let r = call(
        &mut ws,
        "e",
        "StopTransaction",
        json!({"transactionId": tx, "meterStop": 2500, "timestamp": "2025-01-01T01:00:00Z"}),
    )
    .await;
    assert_eq!(r[0], 3);
    let session = common::get(&api, &format!("/v1/sessions/CRASH1~{tx}")).await;
    assert_eq!(session["sample_count"], 20, "{session}");
    assert_eq!(session["energy_wh"], 2500);
    assert_eq!(session["status"], "completed");
}

async fn connect_as(s: &Server, id: &str, protocol: &'static str) -> Ws {
    common::connect_charger(s.ws, id, "crash-password-0001", protocol)
        .await
        .unwrap()
}

/// One charger's session: started, then (once every charger has started) stopped.
async fn one_session(s: &Server, id: String, v201: bool, all_started: &tokio::sync::Barrier) {
    let mut ws = connect_as(s, &id, if v201 { "ocpp2.0.1" } else { "ocpp1.6" }).await;
    let boot = if v201 {
        json!({"reason": "PowerUp", "chargingStation": {"vendorName": "V", "model": "M"}})
    } else {
        json!({"chargePointVendor": "V", "chargePointModel": "M"})
    };
    call(&mut ws, "b", "BootNotification", boot).await;
    let tx = if v201 {
        let e = json!({"eventType": "Started", "timestamp": "2025-01-01T00:00:00Z",
            "triggerReason": "Authorized", "seqNo": 0, "transactionInfo": {"transactionId": "T1"},
            "idToken": {"idToken": "ANY", "type": "ISO14443"}, "evse": {"id": 1, "connectorId": 1},
            "meterValue": [{"timestamp": "2025-01-01T00:00:00Z", "sampledValue": [{"value": 0,
                "measurand": "Energy.Active.Import.Register"}]}]});
        call(&mut ws, "s", "TransactionEvent", e).await;
        "T1".to_string()
    } else {
        let r = call(
            &mut ws,
            "s",
            "StartTransaction",
            json!({"connectorId": 1,
            "idTag": "ANY", "meterStart": 0, "timestamp": "2025-01-01T00:00:00Z"}),
        )
        .await;
        r[2]["transactionId"].to_string()
    };
    all_started.wait().await;
    let r = if v201 {
        let e = json!({"eventType": "Ended", "timestamp": "2025-01-01T01:00:00Z",
            "triggerReason": "EVCommunicationLost", "seqNo": 1,
            "transactionInfo": {"transactionId": tx, "stoppedReason": "EVDisconnected"},
            "meterValue": [{"timestamp": "2025-01-01T01:00:00Z", "sampledValue": [{"value": 7000,
                "measurand": "Energy.Active.Import.Register", "context": "Transaction.End"}]}]});
        call(&mut ws, "e", "TransactionEvent", e).await
    } else {
        call(
            &mut ws,
            "e",
            "StopTransaction",
            json!({"transactionId": tx.parse::<i64>().unwrap(),
            "meterStop": 7000, "timestamp": "2025-01-01T01:00:00Z"}),
        )
        .await
    };
    assert_eq!(r[0], 3, "{r}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_right_after_a_burst_of_stops_loses_no_cdr() {
    let dir = tempfile::tempdir().unwrap();
    let (wsp, httpp) = (free_port(), free_port());
    let mut s = start(dir.path(), wsp, httpp).await;
    let api = format!("http://127.0.0.1:{}", s.http);
    let ids: Vec<(String, bool)> = (0..50).map(|i| (format!("BURST{i}"), i % 2 == 1)).collect();
    for (id, _) in &ids {
        common::register_charger(&api, id, "crash-password-0001").await;
    }
    assert_eq!(
        common::post(&api, "/v1/tokens", json!({"id": "ANY"})).await,
        201
    );
    let barrier = tokio::sync::Barrier::new(ids.len());
    let runs: Vec<_> = ids
        .iter()
        .map(|(id, v201)| one_session(&s, id.clone(), *v201, &barrier))
        .collect();
    futures_util::future::join_all(runs).await;
    // Every stop was answered: the sessions are durable, their CDRs may not be made yet.
    s.kill();
    drop(s);

    let _s = start(dir.path(), wsp, httpp).await;
    let mut cdrs = Value::Null;
    for _ in 0..100 {
        cdrs = common::get(&api, "/v1/cdrs?limit=500").await;
        if cdrs["items"].as_array().is_some_and(|a| a.len() >= 50) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut sessions: Vec<String> = cdrs["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["session_id"].as_str().unwrap().to_string())
        .collect();
    sessions.sort();
    let n = sessions.len();
    sessions.dedup();
    assert_eq!(
        (n, sessions.len()),
        (50, 50),
        "one CDR per completed session: {sessions:?}"
    );
}
