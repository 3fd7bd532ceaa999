//! Complete sessions over real WebSockets for both versions, read back through the operator API.

use cpms_tests::{Charger, PASSWORD, Stack};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const TS: &str = "2025-06-01T10:00:00Z";

async fn wait_for(stack: &Stack, path: &str, check: impl Fn(&Value) -> bool) -> Value {
    stack.wait_for(path, check).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_1_6_session_end_to_end() {
    let stack = Stack::start().await;
    stack.register("CP16").await;
    stack.token("RFID-1").await;
    let mut cp = Charger::connect(&stack, "CP16", "ocpp1.6").await.unwrap();
    assert_eq!(cp.protocol.as_deref(), Some("ocpp1.6"));
    cp.boot(false).await;
    cp.call(
        "StatusNotification",
        json!({"connectorId": 1, "status": "Preparing", "errorCode": "NoError", "timestamp": TS}),
    )
    .await;
    let a = cp.call("Authorize", json!({"idTag": "RFID-1"})).await;
    assert_eq!(a[2]["idTagInfo"]["status"], "Accepted");
    let s = cp
        .call(
            "StartTransaction",
            json!({"connectorId": 1, "idTag": "RFID-1", "meterStart": 100, "timestamp": TS}),
        )
        .await;
    let tx = s[2]["transactionId"].as_i64().unwrap();
    cp.call("StatusNotification", json!({"connectorId": 1, "status": "Charging", "errorCode": "NoError", "timestamp": "2025-06-01T10:00:01Z"})).await;
    for (i, wh) in ["1100", "2100"].iter().enumerate() {
        let at = format!("2025-06-01T10:0{}:00Z", i + 1);
        let r = cp
            .call(
                "MeterValues",
                json!({"connectorId": 1, "transactionId": tx, "meterValue": [{"timestamp": at,
            "sampledValue": [{"value": wh, "measurand": "Energy.Active.Import.Register"}]}]}),
            )
            .await;
        assert_eq!(r[0], 3);
    }
    let (_, charger) = stack.get("/v1/chargers/CP16").await;
    assert_eq!(charger["connected"], true);
    assert_eq!(charger["ocpp_version"], "1.6");
    assert_eq!(charger["connectors"][0]["ocpp_status"], "Charging");
    assert_eq!(charger["connectors"][0]["status"], "occupied");
    let (_, active) = stack
        .get("/v1/sessions?charger_id=CP16&status=active")
        .await;
    assert_eq!(active["items"][0]["energy_wh"], 2000);
    cp.call("StopTransaction", json!({"transactionId": tx, "meterStop": 3100, "timestamp": "2025-06-01T10:30:00Z", "idTag": "RFID-1"})).await;
    let (status, list) = stack.get("/v1/sessions?charger_id=CP16").await;
    assert_eq!(status, 200);
    let session = &list["items"][0];
    assert_eq!(session["id"], format!("CP16~{tx}"));
    assert_eq!(session["status"], "completed");
    assert_eq!(session["energy_wh"], 3000);
    assert_eq!(session["id_token"], "RFID-1");
    let (_, samples) = stack.get(&format!("/v1/sessions/CP16~{tx}/samples")).await;
    assert_eq!(samples["items"].as_array().unwrap().len(), 2);
    cp.close().await;
    let offline = wait_for(&stack, "/v1/chargers/CP16", |c| c["connected"] == false).await;
    assert_eq!(
        offline["ocpp_version"], "1.6",
        "the version is kept while offline"
    );
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_2_0_1_session_end_to_end() {
    let stack = Stack::start().await;
    stack.register("CS201").await;
    stack.token("EMAID-1").await;
    let mut cs = Charger::connect(&stack, "CS201", "ocpp1.6, ocpp2.0.1")
        .await
        .unwrap();
    assert_eq!(
        cs.protocol.as_deref(),
        Some("ocpp2.0.1"),
        "the newest offered version is chosen"
    );
    cs.boot(true).await;
    let token = json!({"idToken": "EMAID-1", "type": "eMAID"});
    let ev = |kind: &str, seq: u64, kwh: f64, extra: Value| {
        let mut p = json!({"eventType": kind, "timestamp": TS, "triggerReason": "MeterValuePeriodic", "seqNo": seq,
            "transactionInfo": {"transactionId": "0c5b2a"}, "meterValue": [{"timestamp": TS, "sampledValue": [
                {"value": kwh, "unitOfMeasure": {"unit": "kWh"}}]}]});
        for (k, v) in extra.as_object().unwrap() {
            p[k] = v.clone();
        }
        p
    };
    let r = cs
        .call(
            "TransactionEvent",
            ev(
                "Started",
                0,
                10.0,
                json!({"idToken": token, "evse": {"id": 1, "connectorId": 1}}),
            ),
        )
        .await;
    assert_eq!(r[2]["idTokenInfo"]["status"], "Accepted");
    cs.call("TransactionEvent", ev("Updated", 1, 12.0, json!({})))
        .await;
    cs.call(
        "TransactionEvent",
        ev(
            "Ended",
            2,
            15.5,
            json!({"transactionInfo": {"transactionId": "0c5b2a", "stoppedReason": "Remote"}}),
        ),
    )
    .await;
    let (_, s) = stack.get("/v1/sessions/CS201~0c5b2a").await;
    assert_eq!(s["status"], "completed");
    assert_eq!(s["energy_wh"], 5500);
    assert_eq!(s["stop_reason"], "Remote");
    assert_eq!(s["id_token_type"], "eMAID");
    assert_eq!(s["evse_id"], 1);
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handshakes_are_refused_with_the_right_status() {
    let stack = Stack::start().await;
    stack.register("CP1").await;
    let err = Charger::connect(&stack, "UNKNOWN", "ocpp1.6")
        .await
        .err()
        .unwrap();
    assert!(err.to_string().contains("404"), "{err}");
    let err = Charger::connect_with(&stack, "CP1", "ocpp1.6", Some("wrong-password"))
        .await
        .err()
        .unwrap();
    assert!(err.to_string().contains("401"), "{err}");
    let err = Charger::connect_with(&stack, "CP1", "ocpp1.6", None)
        .await
        .err()
        .unwrap();
    assert!(err.to_string().contains("401"), "{err}");
    let (_, attempts) = stack.get("/v1/connection-attempts").await;
    assert_eq!(attempts["items"][0]["identity"], "UNKNOWN");
    stack.stop().await;
}

/// Performs a handshake by hand; returns the response head.
async fn raw_handshake(stack: &Stack, id: &str, extra: &str) -> (String, tokio::net::TcpStream) {
    let addr = stack
        .ws
        .trim_start_matches("ws://")
        .trim_end_matches("/ocpp")
        .to_string();
    let mut tcp = tokio::net::TcpStream::connect(&addr).await.unwrap();
    use base64::Engine;
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("{id}:{PASSWORD}"));
    let req = format!(
        "GET /ocpp/{id} HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
         Authorization: Basic {auth}\r\n{extra}\r\n"
    );
    tcp.write_all(req.as_bytes()).await.unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        tcp.read_exact(&mut byte).await.unwrap();
        head.push(byte[0]);
    }
    (String::from_utf8_lossy(&head).to_lowercase(), tcp)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unsupported_subprotocols_get_a_handshake_without_one_then_a_close() {
    let stack = Stack::start().await;
    stack.register("CP1").await;
    let (head, mut tcp) = raw_handshake(
        &stack,
        "CP1",
        "Sec-WebSocket-Protocol: ocpp2.0, ocpp1.5\r\n",
    )
    .await;
    assert!(head.starts_with("http/1.1 101"), "{head}");
    assert!(!head.contains("sec-websocket-protocol"), "{head}");
    let mut frame = [0u8; 2];
    tcp.read_exact(&mut frame).await.unwrap();
    assert_eq!(frame[0], 0x88, "a close frame follows");
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn permessage_deflate_is_negotiated_without_context_takeover() {
    let stack = Stack::start().await;
    stack.register("CP1").await;
    let (head, _tcp) = raw_handshake(
        &stack,
        "CP1",
        "Sec-WebSocket-Protocol: ocpp2.0.1\r\nSec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n",
    )
    .await;
    assert!(head.contains("sec-websocket-protocol: ocpp2.0.1"), "{head}");
    assert!(head.contains("permessage-deflate"), "{head}");
    assert!(head.contains("server_no_context_takeover"), "{head}");
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_chargers_charge_at_once() {
    let stack = std::sync::Arc::new(Stack::start().await);
    stack.token("FLEET").await;
    let mut tasks = Vec::new();
    for i in 0..50 {
        let id = format!("FLEET-{i:02}");
        stack.register(&id).await;
        let stack = stack.clone();
        tasks.push(tokio::spawn(async move {
            let mut cp = Charger::connect(&stack, &id, "ocpp1.6").await.unwrap();
            cp.boot(false).await;
            let s = cp
                .call(
                    "StartTransaction",
                    json!({"connectorId": 1, "idTag": "FLEET", "meterStart": 0, "timestamp": TS}),
                )
                .await;
            let tx = s[2]["transactionId"].as_i64().unwrap();
            cp.call(
                "StopTransaction",
                json!({"transactionId": tx, "meterStop": i * 10, "timestamp": TS}),
            )
            .await;
            cp.close().await;
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let (_, list) = stack.get("/v1/sessions?status=completed&limit=100").await;
    assert_eq!(list["items"].as_array().unwrap().len(), 50);
    std::sync::Arc::try_unwrap(stack).ok().unwrap().stop().await;
}

async fn sample_count(stack: &Stack, session: &str) -> usize {
    let (s, v) = stack
        .get(&format!("/v1/sessions/{session}/samples?limit=500"))
        .await;
    assert_eq!(s, 200, "{v}");
    v["items"].as_array().unwrap().len()
}

#[tokio::test]
async fn retransmitted_meter_values_are_stored_once_in_both_versions() {
    let stack = Stack::start().await;
    stack.register("DUP16").await;
    stack.register("DUP201").await;
    stack.token("RFID-D").await;
    // 1.6: the same readings again under new message ids, also after many other messages.
    let mut cp = Charger::connect(&stack, "DUP16", "ocpp1.6").await.unwrap();
    cp.boot(false).await;
    let s = cp
        .call(
            "StartTransaction",
            json!({"connectorId": 1, "idTag": "RFID-D", "meterStart": 0, "timestamp": TS}),
        )
        .await;
    let tx = s[2]["transactionId"].as_i64().unwrap();
    let mv = |minute: u32, wh: u32| {
        json!({"connectorId": 1, "transactionId": tx, "meterValue": [{"timestamp": format!("2025-06-01T10:{minute:02}:00Z"),
            "sampledValue": [{"value": wh.to_string()}, {"value": "7.2", "measurand": "Power.Active.Import", "unit": "kW"}]}]})
    };
    for m in 1..=20 {
        cp.call("MeterValues", mv(m, m * 100)).await;
    }
    let session = format!("DUP16~{tx}");
    assert_eq!(sample_count(&stack, &session).await, 40);
    cp.call("MeterValues", mv(20, 2000)).await; // right after
    cp.call("MeterValues", mv(2, 200)).await; // 18 messages later
    assert_eq!(sample_count(&stack, &session).await, 40, "nothing doubled");
    cp.call("MeterValues", mv(21, 2100)).await;
    assert_eq!(
        sample_count(&stack, &session).await,
        42,
        "new readings kept"
    );
    let (_, v) = stack.get(&format!("/v1/sessions/{session}")).await;
    assert_eq!(v["energy_wh"], 2100, "{v}");

    // 2.0.1: an Updated event resent with a new seqNo.
    let mut cp = Charger::connect(&stack, "DUP201", "ocpp2.0.1")
        .await
        .unwrap();
    cp.boot(true).await;
    let ev = |kind: &str, seq: u32, minute: u32, wh: u32| {
        json!({"eventType": kind, "timestamp": format!("2025-06-01T10:{minute:02}:00Z"), "triggerReason": "MeterValuePeriodic",
            "seqNo": seq, "transactionInfo": {"transactionId": "TX-D"}, "evse": {"id": 1, "connectorId": 1},
            "idToken": {"idToken": "RFID-D", "type": "ISO14443"},
            "meterValue": [{"timestamp": format!("2025-06-01T10:{minute:02}:00Z"), "sampledValue": [{"value": wh}]}]})
    };
    cp.call("TransactionEvent", ev("Started", 0, 0, 0)).await;
    cp.call("TransactionEvent", ev("Updated", 1, 1, 500)).await;
    cp.call("TransactionEvent", ev("Updated", 2, 1, 500)).await;
    cp.call("TransactionEvent", ev("Updated", 3, 2, 900)).await;
    assert_eq!(sample_count(&stack, "DUP201~TX-D").await, 3);
    stack.stop().await;
}

#[tokio::test]
async fn sessions_of_a_charger_with_an_unset_clock_get_their_own_transaction_ids() {
    let stack = Stack::start().await;
    stack.register("CLK1970").await;
    stack.token("RFID-C").await;
    let mut cp = Charger::connect(&stack, "CLK1970", "ocpp1.6")
        .await
        .unwrap();
    cp.boot(false).await;
    let start = json!({"connectorId": 1, "idTag": "RFID-C", "meterStart": 0, "timestamp": "1970-01-01T00:00:00Z"});
    let stop = |tx: i64, wh: u32| json!({"transactionId": tx, "meterStop": wh, "timestamp": "1970-01-01T00:00:00Z"});
    let first = cp.call("StartTransaction", start.clone()).await[2]["transactionId"]
        .as_i64()
        .unwrap();
    // A resend before the id was used is the same transaction.
    let resent = cp.call("StartTransaction", start.clone()).await[2]["transactionId"]
        .as_i64()
        .unwrap();
    assert_eq!(first, resent);
    cp.call("StopTransaction", stop(first, 3000)).await;
    let mut ids = vec![first];
    for wh in [4000, 5000] {
        let tx = cp.call("StartTransaction", start.clone()).await[2]["transactionId"]
            .as_i64()
            .unwrap();
        assert!(!ids.contains(&tx), "{tx} was given before: {ids:?}");
        cp.call("StopTransaction", stop(tx, wh)).await;
        ids.push(tx);
    }
    for (tx, wh) in ids.iter().zip([3000, 4000, 5000]) {
        let (_, v) = stack.get(&format!("/v1/sessions/CLK1970~{tx}")).await;
        assert_eq!(
            (v["energy_wh"].clone(), v["status"].clone()),
            (json!(wh), json!("completed")),
            "{v}"
        );
    }
    stack.stop().await;
}

#[tokio::test]
async fn a_real_stop_after_reconciliation_completes_the_session() {
    let stack = Stack::start().await;
    stack.register("REC16").await;
    stack.token("RFID-R").await;
    let mut cp = Charger::connect(&stack, "REC16", "ocpp1.6").await.unwrap();
    cp.boot(false).await;
    let start = |meter: u32, ts: &str| json!({"connectorId": 1, "idTag": "RFID-R", "meterStart": meter, "timestamp": ts});
    let old = cp
        .call("StartTransaction", start(0, "2025-06-01T08:00:00Z"))
        .await[2]["transactionId"]
        .as_i64()
        .unwrap();
    cp.call("StartTransaction", start(900, "2025-06-01T10:00:00Z"))
        .await;
    let path = format!("/v1/sessions/REC16~{old}");
    wait_for(&stack, &path, |s| s["status"] == "reconciled").await;
    cp.call(
        "StopTransaction",
        json!({"transactionId": old, "meterStop": 800, "timestamp": "2025-06-01T09:00:00Z"}),
    )
    .await;
    let s = wait_for(&stack, &path, |s| s["status"] == "completed").await;
    assert_eq!(s["energy_wh"], 800, "{s}");
    assert_eq!(s["ended_at"], "2025-06-01T09:00:00Z", "{s}");
    stack.stop().await;
}
