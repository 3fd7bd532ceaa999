//! The charger quirks of PROTOCOLS.md: each is tolerated, recorded, and loses no session.

mod common;

use common::Harness;
use cpms_domain::OcppVersion::{V16, V201};
use cpms_domain::session::SessionStatus;
use cpms_domain::token::TokenStatus;
use rust_decimal::Decimal;
use serde_json::json;

async fn started(h: &Harness, c: &common::Conn, meter: i64, ts: &str) -> String {
    let r = h
        .call(
            c,
            "StartTransaction",
            json!({"connectorId": 1, "idTag": "T", "meterStart": meter, "timestamp": ts}),
        )
        .await;
    r[2]["transactionId"].as_i64().unwrap().to_string()
}

async fn setup() -> (Harness, common::Conn) {
    let h = Harness::new().await;
    h.register("CP1").await;
    h.token("T", TokenStatus::Accepted).await;
    let c = h.connect("CP1", V16).await;
    h.boot(&c).await;
    (h, c)
}

#[tokio::test]
async fn meter_values_as_numbers_fractions_and_typos() {
    let (h, c) = setup().await;
    let tx = started(&h, &c, 1000, "2025-03-01T08:00:00Z").await;
    let r = h
        .call(
            &c,
            "MeterValues",
            json!({"connectorId": 1, "transactionId": tx.parse::<i64>().unwrap(),
        "meterValue": [{"timestamp": "2025-03-01T08:10:00Z", "sampledValue": [
            {"value": 2500.0, "measurand": "energy.active.import.register"},
            {"value": "21", "measurand": "Temperature", "unit": "Celcius"},
            {"value": 71.5, "measurand": "SoC", "unit": "percent"}]}]}),
        )
        .await;
    assert_eq!(r[0], 3, "{r}");
    let r = h
        .call(
            &c,
            "StopTransaction",
            json!({"transactionId": tx.parse::<i64>().unwrap(),
        "meterStop": 3000.7, "timestamp": "2025-03-01T08:20:00Z"}),
        )
        .await;
    assert_eq!(r[0], 3, "{r}");
    let s = h.session("CP1", &tx).await;
    assert_eq!(s.energy_wh, Some(Decimal::from(2001)));
    assert_eq!(s.latest.soc_percent, Some(Decimal::new(715, 1)));
    for q in ["number_as_string", "enum_typo", "fractional_integer"] {
        assert!(s.has_anomaly(q), "{q}: {:?}", s.anomalies);
    }
}

#[tokio::test]
async fn negative_values_and_kwh_labelled_wh() {
    let (h, c) = setup().await;
    let tx = started(&h, &c, 250_000, "2025-03-01T08:00:00Z").await;
    let txn: i64 = tx.parse().unwrap();
    h.call(&c, "MeterValues", json!({"connectorId": 1, "transactionId": txn, "meterValue": [{"timestamp": "2025-03-01T08:10:00Z",
        "sampledValue": [{"value": "-5"}]}]})).await;
    h.call(&c, "MeterValues", json!({"connectorId": 1, "transactionId": txn, "meterValue": [{"timestamp": "2025-03-01T08:20:00Z",
        "sampledValue": [{"value": "252.5", "unit": "Wh"}]}]})).await;
    let s = h.session("CP1", &tx).await;
    assert_eq!(s.energy_wh, Some(Decimal::from(2500)));
    assert!(s.has_anomaly("negative_value") && s.has_anomaly("unit_mislabelled"));
}

#[tokio::test]
async fn clocks_from_1970_and_days_old_messages() {
    let (h, c) = setup().await;
    let tx = started(&h, &c, 0, "1970-01-01T00:00:12Z").await;
    let s = h.session("CP1", &tx).await;
    assert_eq!(s.started_at, Some(common::t0()));
    assert!(s.has_anomaly("clock_not_set"));
    // a stop delivered three days late keeps its own time
    h.clock.advance(chrono::Duration::days(3));
    h.call(
        &c,
        "StopTransaction",
        json!({"transactionId": tx.parse::<i64>().unwrap(), "meterStop": 10,
        "timestamp": "2025-03-01T09:00:00Z"}),
    )
    .await;
    let s = h.session("CP1", &tx).await;
    assert_eq!(
        s.ended_at.unwrap().to_rfc3339(),
        "2025-03-01T09:00:00+00:00"
    );
}

#[tokio::test]
async fn a_register_that_restarts_each_session() {
    let (h, c) = setup().await;
    let tx = started(&h, &c, 88_000, "2025-03-01T08:00:00Z").await;
    h.call(
        &c,
        "StopTransaction",
        json!({"transactionId": tx.parse::<i64>().unwrap(), "meterStop": 4_200,
        "timestamp": "2025-03-01T09:00:00Z"}),
    )
    .await;
    let s = h.session("CP1", &tx).await;
    assert_eq!(s.energy_wh, Some(Decimal::from(4200)));
    assert!(s.has_anomaly("register_reset"));
}

#[tokio::test]
async fn leading_comma_and_truncated_json() {
    let (h, c) = setup().await;
    let r = h.raw(&c, br#"[2,"a1","Heartbeat",{,}]"#).await.unwrap();
    assert_eq!(r[0], 3, "{r}");
    let r = h
        .raw(
            &c,
            br#"[2,"a2","StatusNotification",{"connectorId":1,"status":"Avail"#,
        )
        .await
        .unwrap();
    assert_eq!(
        (r[0].clone(), r[1].clone(), r[2].clone()),
        (json!(4), json!("a2"), json!("FormationViolation"))
    );
    let r = h.call(&c, "Heartbeat", json!({})).await;
    assert_eq!(r[0], 3, "the connection is still usable");
}

#[tokio::test]
async fn status_flapping_keeps_the_latest_report() {
    let (h, c) = setup().await;
    for (status, ts) in [
        ("Available", "2025-03-01T08:00:01Z"),
        ("Unavailable", "2025-03-01T08:00:02Z"),
        ("Available", "2025-03-01T08:00:00Z"),
    ] {
        h.call(
            &c,
            "StatusNotification",
            json!({"connectorId": 1, "status": status, "errorCode": "NoError", "timestamp": ts}),
        )
        .await;
    }
    assert_eq!(
        h.charger("CP1").await.connectors[0].ocpp_status,
        "Unavailable"
    );
}

#[tokio::test]
async fn a_2_0_1_session_that_only_ever_sends_updated_and_ended() {
    let h = Harness::new().await;
    h.register("CS1").await;
    let c = h.connect("CS1", V201).await;
    h.boot(&c).await;
    for (kind, seq) in [("Updated", 5), ("Ended", 6)] {
        let r = h
            .call(
                &c,
                "TransactionEvent",
                json!({"eventType": kind, "timestamp": "2025-03-01T08:00:00Z",
            "triggerReason": "ChargingStateChanged", "seqNo": seq, "offline": true,
            "transactionInfo": {"transactionId": "offline-1"}}),
            )
            .await;
        assert_eq!(r[0], 3);
    }
    let s = h.session("CS1", "offline-1").await;
    assert_eq!(s.status, SessionStatus::Reconciled);
    assert!(s.offline);
}

#[tokio::test]
async fn a_new_start_on_the_same_connector_reconciles_the_abandoned_session() {
    let (h, c) = setup().await;
    let old = started(&h, &c, 0, "2025-03-01T08:00:00Z").await;
    h.call(
        &c,
        "MeterValues",
        json!({"connectorId": 1, "transactionId": old.parse::<i64>().unwrap(),
        "meterValue": [{"timestamp": "2025-03-01T08:30:00Z", "sampledValue": [{"value": "700"}]}]}),
    )
    .await;
    let new = started(&h, &c, 900, "2025-03-01T10:00:00Z").await;
    // the reconciler consumes the session.started event of the new session
    let events = h.store.outbox_peek(100).unwrap();
    let mut closed = 0;
    for (_, ev) in events {
        closed += cpms_app::consumers::reconcile(&h.csms, &ev).await.unwrap();
    }
    assert_eq!(closed, 1);
    let s = h.session("CP1", &old).await;
    assert_eq!(
        (s.status, s.energy_wh),
        (SessionStatus::Reconciled, Some(Decimal::from(700)))
    );
    assert_eq!(s.stop_reason.as_deref(), Some("Superseded"));
    assert_eq!(h.session("CP1", &new).await.status, SessionStatus::Active);
}
