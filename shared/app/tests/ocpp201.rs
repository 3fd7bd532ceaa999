//! OCPP 2.0.1 charger messages through the application, frame in, frame out.

mod common;

use common::Harness;
use cpms_domain::OcppVersion::V201;
use cpms_domain::session::SessionStatus;
use cpms_domain::token::TokenStatus;
use rust_decimal::Decimal;
use serde_json::{Value, json};

fn tx_event(kind: &str, seq: u64, at: &str, wh: f64, extra: Value) -> Value {
    let mut p = json!({"eventType": kind, "timestamp": at, "triggerReason": "MeterValuePeriodic",
        "seqNo": seq, "transactionInfo": {"transactionId": "TX-1"},
        "meterValue": [{"timestamp": at, "sampledValue": [{"value": wh,
            "measurand": "Energy.Active.Import.Register", "unitOfMeasure": {"unit": "kWh"}}]}]});
    if let (Some(p), Some(e)) = (p.as_object_mut(), extra.as_object()) {
        for (k, v) in e {
            if k == "transactionInfo" {
                for (k2, v2) in v.as_object().unwrap() {
                    p["transactionInfo"]
                        .as_object_mut()
                        .unwrap()
                        .insert(k2.clone(), v2.clone());
                }
            } else {
                p.insert(k.clone(), v.clone());
            }
        }
    }
    p
}

#[tokio::test]
async fn a_session_with_events_out_of_order_and_resent() {
    let h = Harness::new().await;
    h.register("CS1").await;
    h.token("AABBCC", TokenStatus::Accepted).await;
    let c = h.connect("CS1", V201).await;
    h.boot(&c).await;
    let st = h.call(&c, "StatusNotification", json!({"timestamp": "2025-03-01T08:00:00Z", "connectorStatus": "Occupied", "evseId": 1, "connectorId": 1})).await;
    assert_eq!(st[2], json!({}));
    let auth = h
        .call(
            &c,
            "Authorize",
            json!({"idToken": {"idToken": "aabbcc", "type": "ISO14443"}}),
        )
        .await;
    assert_eq!(auth[2]["idTokenInfo"]["status"], "Accepted");
    let ended = tx_event(
        "Ended",
        2,
        "2025-03-01T09:00:00Z",
        7.5,
        json!({"triggerReason": "EVDeparted",
        "transactionInfo": {"stoppedReason": "EVDisconnected"}}),
    );
    let r = h.call(&c, "TransactionEvent", ended.clone()).await;
    assert_eq!(r[2], json!({}), "no idTokenInfo without an idToken");
    let started = tx_event(
        "Started",
        0,
        "2025-03-01T08:00:00Z",
        1.0,
        json!({"triggerReason": "Authorized",
        "idToken": {"idToken": "AABBCC", "type": "ISO14443"}, "evse": {"id": 1, "connectorId": 1},
        "transactionInfo": {"chargingState": "Charging"}}),
    );
    let r = h.call(&c, "TransactionEvent", started).await;
    assert_eq!(r[2]["idTokenInfo"]["status"], "Accepted");
    h.call(
        &c,
        "TransactionEvent",
        tx_event("Updated", 1, "2025-03-01T08:30:00Z", 4.0, json!({})),
    )
    .await;
    h.call(&c, "TransactionEvent", ended).await;
    let s = h.session("CS1", "TX-1").await;
    assert_eq!(s.status, SessionStatus::Completed);
    assert_eq!(s.energy_wh, Some(Decimal::from(6500)));
    assert_eq!(s.sample_count, 3, "the resent Ended added nothing");
    assert_eq!(
        (s.evse_id, s.stop_reason.as_deref()),
        (Some(1), Some("EVDisconnected"))
    );
    assert_eq!(s.id_token.unwrap().kind.as_deref(), Some("ISO14443"));
}

#[tokio::test]
async fn errors_use_the_2_0_1_spelling() {
    let h = Harness::new().await;
    h.register("CS1").await;
    let c = h.connect("CS1", V201).await;
    let r = h.call(&c, "Heartbeat", json!({})).await;
    assert_eq!(r[2], "SecurityError");
    h.boot(&c).await;
    for (action, payload, code) in [
        (
            "StatusNotification",
            json!({"connectorStatus": "Available", "evseId": 1, "connectorId": 1}),
            "OccurrenceConstraintViolation",
        ),
        (
            "StatusNotification",
            json!({"timestamp": "2025-03-01T08:00:00Z", "connectorStatus": "Available", "evseId": 1, "connectorId": 1, "bogus": true}),
            "FormatViolation",
        ),
        (
            "Authorize",
            json!({"idToken": {"idToken": "X", "type": "Passport"}}),
            "PropertyConstraintViolation",
        ),
        ("StartTransaction", json!({}), "NotImplemented"),
        ("RequestStartTransaction", json!({}), "NotSupported"),
    ] {
        let r = h.call(&c, action, payload).await;
        assert_eq!(r[2], code, "{action}: {r}");
    }
    let r = h.raw(&c, br#"[6,"x","Heartbeat",{}]"#).await.unwrap();
    assert_eq!(r[2], "MessageTypeNotSupported");
    let r = h.raw(&c, b"[2,\"x\",\"Heartbeat\",{").await.unwrap();
    assert_eq!(r[2], "FormatViolation");
    let r = h.raw(&c, b"not json at all").await.unwrap();
    assert_eq!(
        (r[1].clone(), r[2].clone()),
        (json!("-1"), json!("RpcFrameworkError"))
    );
}

#[tokio::test]
async fn every_charger_initiated_action_is_answered_with_a_schema_valid_result() {
    let h = Harness::new().await;
    h.register("CS1").await;
    let c = h.connect("CS1", V201).await;
    h.boot(&c).await;
    let at = "2025-03-01T08:00:00Z";
    let calls = [
        (
            "ClearedChargingLimit",
            json!({"chargingLimitSource": "EMS"}),
        ),
        (
            "DataTransfer",
            json!({"vendorId": "com.acme", "data": {"a": [1, 2]}}),
        ),
        (
            "FirmwareStatusNotification",
            json!({"status": "Installed", "requestId": 1}),
        ),
        (
            "Get15118EVCertificate",
            json!({"iso15118SchemaVersion": "urn:iso:15118:2:2013:MsgDef", "action": "Install", "exiRequest": "AAA"}),
        ),
        (
            "GetCertificateStatus",
            json!({"ocspRequestData": {"hashAlgorithm": "SHA256", "issuerNameHash": "a", "issuerKeyHash": "b", "serialNumber": "c", "responderURL": "http://x"}}),
        ),
        (
            "LogStatusNotification",
            json!({"status": "Uploaded", "requestId": 2}),
        ),
        (
            "MeterValues",
            json!({"evseId": 0, "meterValue": [{"timestamp": at, "sampledValue": [{"value": 123.4}]}]}),
        ),
        (
            "NotifyChargingLimit",
            json!({"chargingLimit": {"chargingLimitSource": "SO"}}),
        ),
        (
            "NotifyCustomerInformation",
            json!({"data": "x", "seqNo": 0, "generatedAt": at, "requestId": 1}),
        ),
        ("NotifyDisplayMessages", json!({"requestId": 1})),
        (
            "NotifyEVChargingNeeds",
            json!({"evseId": 1, "chargingNeeds": {"requestedEnergyTransfer": "DC"}}),
        ),
        (
            "NotifyEVChargingSchedule",
            json!({"timeBase": at, "evseId": 1, "chargingSchedule": {"id": 1, "chargingRateUnit": "W", "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 11000.0}]}}),
        ),
        (
            "NotifyEvent",
            json!({"generatedAt": at, "seqNo": 0, "eventData": [{"eventId": 1, "timestamp": at, "trigger": "Alerting", "actualValue": "Faulted", "component": {"name": "Connector"}, "variable": {"name": "AvailabilityState"}, "eventNotificationType": "HardWiredNotification"}]}),
        ),
        (
            "NotifyMonitoringReport",
            json!({"requestId": 1, "seqNo": 0, "generatedAt": at}),
        ),
        (
            "NotifyReport",
            json!({"requestId": 1, "generatedAt": at, "seqNo": 0, "tbc": false, "reportData": [{"component": {"name": "Clock"}, "variable": {"name": "DateTime"}, "variableAttribute": [{"value": at}]}]}),
        ),
        (
            "PublishFirmwareStatusNotification",
            json!({"status": "Published"}),
        ),
        (
            "ReportChargingProfiles",
            json!({"requestId": 1, "chargingLimitSource": "CSO", "evseId": 1, "chargingProfile": [{"id": 1, "stackLevel": 0, "chargingProfilePurpose": "TxDefaultProfile", "chargingProfileKind": "Absolute", "chargingSchedule": [{"id": 1, "chargingRateUnit": "A", "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 16.0}]}]}]}),
        ),
        (
            "ReservationStatusUpdate",
            json!({"reservationId": 1, "reservationUpdateStatus": "Expired"}),
        ),
        (
            "SecurityEventNotification",
            json!({"type": "StartupOfTheDevice", "timestamp": at}),
        ),
        ("SignCertificate", json!({"csr": "x"})),
    ];
    for (action, payload) in calls {
        let r = h.call(&c, action, payload).await;
        assert_eq!(r[0], 3, "{action}: {r}");
    }
    let cp = h.charger("CS1").await;
    assert_eq!(cp.firmware.unwrap().status, "Installed");
}
