//! OCPP 1.6 charger messages through the application, frame in, frame out.

mod common;

use common::Harness;
use cpms_domain::OcppVersion::V16;
use cpms_domain::session::SessionStatus;
use cpms_domain::token::TokenStatus;
use rust_decimal::Decimal;
use serde_json::json;

const TS: &str = "2025-03-01T08:00:00Z";

fn mv(tx: i64, at: &str, wh: &str) -> serde_json::Value {
    json!({"connectorId": 1, "transactionId": tx, "meterValue": [{"timestamp": at, "sampledValue": [
        {"value": wh, "measurand": "Energy.Active.Import.Register", "unit": "Wh"},
        {"value": "11", "measurand": "Power.Active.Import", "unit": "kW"}]}]})
}

#[tokio::test]
async fn a_complete_session() {
    let h = Harness::new().await;
    h.register("CP1").await;
    h.token("TAG1", TokenStatus::Accepted).await;
    let c = h.connect("CP1", V16).await;
    let boot = h.boot(&c).await;
    assert_eq!(boot[2]["interval"], 300);
    let st = h.call(&c, "StatusNotification", json!({"connectorId": 1, "status": "Preparing", "errorCode": "NoError", "timestamp": TS})).await;
    assert_eq!(st[2], json!({}));
    let auth = h.call(&c, "Authorize", json!({"idTag": "tag1"})).await;
    assert_eq!(
        auth[2]["idTagInfo"]["status"], "Accepted",
        "id tags are case-insensitive"
    );
    let start = h
        .call(
            &c,
            "StartTransaction",
            json!({"connectorId": 1, "idTag": "TAG1", "meterStart": 1000, "timestamp": TS}),
        )
        .await;
    let tx = start[2]["transactionId"].as_i64().unwrap();
    assert!(tx > 0);
    assert_eq!(start[2]["idTagInfo"]["status"], "Accepted");
    h.call(&c, "MeterValues", mv(tx, "2025-03-01T08:30:00Z", "6000"))
        .await;
    let stop = h.call(&c, "StopTransaction", json!({"transactionId": tx, "idTag": "TAG1", "meterStop": 12000, "timestamp": "2025-03-01T09:00:00Z", "reason": "EVDisconnected"})).await;
    assert_eq!(stop[2]["idTagInfo"]["status"], "Accepted");
    let s = h.session("CP1", &tx.to_string()).await;
    assert_eq!(s.status, SessionStatus::Completed);
    assert_eq!(s.energy_wh, Some(Decimal::from(11000)));
    assert_eq!(s.stop_reason.as_deref(), Some("EVDisconnected"));
    assert_eq!(s.latest.power_w, Some(Decimal::from(11000)));
    let cp = h.charger("CP1").await;
    assert_eq!(cp.connectors[0].ocpp_status, "Preparing");
    assert_eq!(cp.boot.unwrap().vendor, "Acme");
}

#[tokio::test]
async fn calls_before_boot_are_security_errors_and_heartbeat_works_after() {
    let h = Harness::new().await;
    h.register("CP1").await;
    let c = h.connect("CP1", V16).await;
    let r = h.call(&c, "Heartbeat", json!({})).await;
    assert_eq!(
        (r[0].clone(), r[2].clone()),
        (json!(4), json!("SecurityError"))
    );
    h.boot(&c).await;
    let r = h.call(&c, "Heartbeat", json!({})).await;
    assert_eq!(r[0], 3);
    assert!(r[2]["currentTime"].as_str().unwrap().ends_with('Z'));
}

#[tokio::test]
async fn errors_use_the_1_6_spelling() {
    let h = Harness::new().await;
    h.register("CP1").await;
    let c = h.connect("CP1", V16).await;
    h.boot(&c).await;
    let cases = [
        (
            "StatusNotification",
            json!({"connectorId": 1, "status": "Available"}),
            "OccurenceConstraintViolation",
        ),
        (
            "StatusNotification",
            json!({"connectorId": "1", "status": "Available", "errorCode": "NoError"}),
            "TypeConstraintViolation",
        ),
        (
            "StatusNotification",
            json!({"connectorId": 1, "status": "Sleeping", "errorCode": "NoError"}),
            "PropertyConstraintViolation",
        ),
        (
            "StatusNotification",
            json!({"connectorId": 1, "status": "Available", "errorCode": "NoError", "extra": 1}),
            "FormationViolation",
        ),
        (
            "Authorize",
            json!({"idTag": "X".repeat(21)}),
            "PropertyConstraintViolation",
        ),
        ("Authorize", json!([]), "TypeConstraintViolation"),
        ("FlyToTheMoon", json!({}), "NotImplemented"),
        (
            "RemoteStartTransaction",
            json!({"idTag": "X"}),
            "NotSupported",
        ),
        ("TransactionEvent", json!({}), "NotImplemented"),
    ];
    for (action, payload, code) in cases {
        let r = h.call(&c, action, payload.clone()).await;
        assert_eq!(r[0], 4, "{action} {payload}");
        assert_eq!(r[2], code, "{action} {payload} -> {r}");
        assert!(r[3].as_str().unwrap().len() <= 255);
        assert!(r[4].is_object());
    }
    let r = h.raw(&c, b"[2,\"bad\",\"Heartbeat\",{").await.unwrap();
    assert_eq!(r, json!([4, "bad", "FormationViolation", r[3], {}]));
    let r = h.raw(&c, b"\xff\xfe").await.unwrap();
    assert_eq!(
        (r[1].clone(), r[2].clone()),
        (json!("-1"), json!("FormationViolation"))
    );
    assert!(
        h.raw(&c, br#"[3,"x",{}]"#).await.is_none(),
        "results are not answered"
    );
}

#[tokio::test]
async fn a_resent_start_gets_the_same_transaction_and_a_resent_meter_value_counts_once() {
    let h = Harness::new().await;
    h.register("CP1").await;
    h.token("TAG1", TokenStatus::Accepted).await;
    let c = h.connect("CP1", V16).await;
    h.boot(&c).await;
    let start = json!({"connectorId": 1, "idTag": "TAG1", "meterStart": 0, "timestamp": TS});
    let a = h
        .call_with_id(&c, "s1", "StartTransaction", start.clone())
        .await;
    // after a reconnect the charger resends the same start with a new message id
    let c2 = h.connect("CP1", V16).await;
    let b = h.call_with_id(&c2, "s2", "StartTransaction", start).await;
    assert_eq!(a[2], b[2]);
    let tx = a[2]["transactionId"].as_i64().unwrap();
    for _ in 0..3 {
        h.call_with_id(
            &c2,
            "m1",
            "MeterValues",
            mv(tx, "2025-03-01T08:10:00Z", "500"),
        )
        .await;
    }
    assert_eq!(h.session("CP1", &tx.to_string()).await.sample_count, 2);
    assert_eq!(
        *h.gateway.closed.lock().unwrap(),
        vec![c.id.clone()],
        "the stale connection is closed"
    );
}

#[tokio::test]
async fn a_blocked_tag_is_answered_and_its_session_marked_failed() {
    let h = Harness::new().await;
    h.register("CP1").await;
    h.token("STOLEN", TokenStatus::Blocked).await;
    let c = h.connect("CP1", V16).await;
    h.boot(&c).await;
    let r = h
        .call(
            &c,
            "StartTransaction",
            json!({"connectorId": 1, "idTag": "STOLEN", "meterStart": 0, "timestamp": TS}),
        )
        .await;
    assert_eq!(r[2]["idTagInfo"]["status"], "Blocked");
    let unknown = h.call(&c, "Authorize", json!({"idTag": "NOBODY"})).await;
    assert_eq!(unknown[2]["idTagInfo"]["status"], "Invalid");
    let tx = r[2]["transactionId"].as_i64().unwrap().to_string();
    assert_eq!(h.session("CP1", &tx).await.status, SessionStatus::Failed);
}

#[tokio::test]
async fn stops_for_unknown_transactions_are_acknowledged_and_kept() {
    let h = Harness::new().await;
    h.register("CP1").await;
    h.token("TAG1", TokenStatus::Accepted).await;
    let c = h.connect("CP1", V16).await;
    h.boot(&c).await;
    // an unknown id
    let r = h
        .call(
            &c,
            "StopTransaction",
            json!({"transactionId": 777, "meterStop": 5000, "timestamp": TS}),
        )
        .await;
    assert_eq!(r[0], 3);
    let s = h.session("CP1", "777").await;
    assert_eq!(s.status, SessionStatus::Reconciled);
    assert!(s.has_anomaly("unknown_transaction"));
    // -1 after an offline start: matched to the open session of the same tag
    let start = h
        .call(
            &c,
            "StartTransaction",
            json!({"connectorId": 2, "idTag": "TAG1", "meterStart": 100, "timestamp": TS}),
        )
        .await;
    let tx = start[2]["transactionId"].as_i64().unwrap().to_string();
    let r = h.call(&c, "StopTransaction", json!({"transactionId": -1, "idTag": "TAG1", "meterStop": 900, "timestamp": "2025-03-01T09:00:00Z"})).await;
    assert_eq!(r[2]["idTagInfo"]["status"], "Accepted");
    let s = h.session("CP1", &tx).await;
    assert_eq!(
        (s.status, s.energy_wh),
        (SessionStatus::Completed, Some(Decimal::from(800)))
    );
    assert!(s.has_anomaly("stop_with_unknown_transaction_id"));
    // the same stop resent: acknowledged, nothing changes twice
    let again = h.call(&c, "StopTransaction", json!({"transactionId": -1, "idTag": "TAG1", "meterStop": 900, "timestamp": "2025-03-01T09:00:00Z"})).await;
    assert_eq!(again[0], 3);
    assert_eq!(
        h.session("CP1", &tx).await.energy_wh,
        Some(Decimal::from(800))
    );
}

#[tokio::test]
async fn meter_values_outside_a_transaction_update_the_connector_register() {
    let h = Harness::new().await;
    h.register("CP1").await;
    let c = h.connect("CP1", V16).await;
    h.boot(&c).await;
    h.call(
        &c,
        "StatusNotification",
        json!({"connectorId": 1, "status": "Available", "errorCode": "NoError", "timestamp": TS}),
    )
    .await;
    h.call(&c, "MeterValues", json!({"connectorId": 1, "meterValue": [{"timestamp": TS, "sampledValue": [{"value": "1.5", "unit": "kWh", "context": "Sample.Clock"}]}]})).await;
    let cp = h.charger("CP1").await;
    assert_eq!(
        cp.connectors[0].meter.as_ref().unwrap().energy_wh,
        Decimal::from(1500)
    );
}

#[tokio::test]
async fn notifications_are_recorded() {
    let h = Harness::new().await;
    h.register("CP1").await;
    let c = h.connect("CP1", V16).await;
    h.boot(&c).await;
    for (action, payload) in [
        (
            "FirmwareStatusNotification",
            json!({"status": "Downloading"}),
        ),
        (
            "DiagnosticsStatusNotification",
            json!({"status": "Uploading"}),
        ),
        (
            "SecurityEventNotification",
            json!({"type": "FirmwareUpdated", "timestamp": TS}),
        ),
        (
            "DataTransfer",
            json!({"vendorId": "com.acme", "messageId": "x", "data": "{}"}),
        ),
        (
            "LogStatusNotification",
            json!({"status": "Uploaded", "requestId": 3}),
        ),
        (
            "SignedFirmwareStatusNotification",
            json!({"status": "Installed", "requestId": 4}),
        ),
        (
            "SignCertificate",
            json!({"csr": "-----BEGIN CERTIFICATE REQUEST-----"}),
        ),
    ] {
        let r = h.call(&c, action, payload).await;
        assert_eq!(r[0], 3, "{action}: {r}");
    }
    let cp = h.charger("CP1").await;
    assert_eq!(cp.firmware.unwrap().status, "Installed");
    assert_eq!(cp.diagnostics.unwrap().status, "Uploaded");
    let log = cpms_ports::LogStore::list(
        &h.store,
        &cp.tenant,
        &cp.id,
        &cpms_ports::PageRequest::first(10),
    )
    .await
    .unwrap();
    let kinds: Vec<_> = log.items.iter().map(|e| e.summary.clone()).collect();
    assert!(kinds.contains(&"FirmwareUpdated".to_string()), "{kinds:?}");
    assert!(
        kinds
            .iter()
            .any(|k| k.starts_with("DataTransfer: com.acme")),
        "{kinds:?}"
    );
}
