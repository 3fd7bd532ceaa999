//! The status timeline through the local stack over real sockets: 1.6 status reports (late ones in
//! their place, resends once), 2.0.1 status and NotifyEvent faults with `cleared`, connections and
//! disconnections, read back per charger and per connector; bad queries are refused with problems.

use cpms_tests::{Charger, Stack};
use serde_json::{Value, json};

fn ago(min: i64) -> String {
    (chrono::Utc::now() - chrono::Duration::minutes(min))
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

async fn status16(c: &mut Charger, connector: u32, status: &str, code: &str, at: &str) {
    let mut p =
        json!({"connectorId": connector, "status": status, "errorCode": code, "timestamp": at});
    if code != "NoError" {
        p["info"] = json!("ground fault detector tripped");
        p["vendorId"] = json!("com.acme");
        p["vendorErrorCode"] = json!("E-GF12");
    }
    let r = c.call("StatusNotification", p).await;
    assert_eq!(r[0], 3, "{r}");
}

fn kinds(v: &Value) -> Vec<String> {
    v["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| match e["kind"].as_str().unwrap() {
            "status" => e["ocpp_status"].as_str().unwrap().to_string(),
            k => k.to_string(),
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_reports_events_and_connections_land_in_the_chargers_order() {
    reports_in_order(Stack::start().await).await;
}

/// The same on the AWS backend (the emulator): the handlers write the timeline to DynamoDB.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_reports_land_in_order_on_aws() {
    let m = cpms_tests::moto::moto();
    reports_in_order(Stack::start_aws(&m.endpoint, &cpms_tests::moto::unique("timeline")).await)
        .await;
}

async fn reports_in_order(stack: Stack) {
    stack.register("TL-16").await;
    let mut c = Charger::connect(&stack, "TL-16", "ocpp1.6").await.unwrap();
    c.boot(false).await;
    status16(&mut c, 1, "Available", "NoError", &ago(30)).await;
    status16(&mut c, 1, "Faulted", "GroundFailure", &ago(10)).await;
    // A report from before the fault arrives after it: it lands in its place, marked late.
    let late = ago(20);
    status16(&mut c, 1, "Preparing", "NoError", &late).await;
    // The same report again (a resend after a lost answer) is kept once.
    status16(&mut c, 1, "Preparing", "NoError", &late).await;
    status16(&mut c, 2, "Available", "NoError", &ago(5)).await;
    c.close().await;

    let from = ago(25);
    let tl = stack
        .wait_for(
            &format!(
                "/v1/chargers/TL-16/timeline?from={}",
                from.replace('+', "%2B")
            ),
            |v| kinds(v).iter().any(|k| k == "disconnected"),
        )
        .await;
    // Connected is at the time received (now), after the reports' own (older) times.
    assert_eq!(
        kinds(&tl),
        [
            "Preparing",
            "Faulted",
            "Available",
            "connected",
            "disconnected"
        ],
        "{tl}"
    );
    let e = &tl["entries"].as_array().unwrap();
    assert_eq!(e[0]["late"], true, "{tl}");
    assert_eq!(e[1]["late"], false, "{tl}");
    assert_eq!(e[1]["status"], "faulted");
    assert_eq!(e[1]["error_code"], "GroundFailure");
    assert_eq!(e[1]["vendor_id"], "com.acme");
    assert_eq!(e[1]["vendor_error_code"], "E-GF12");
    assert_eq!(e[1]["info"], "ground fault detector tripped");
    // What was in force at `from`: connector 1 Available (reported 30 minutes ago).
    assert_eq!(tl["initial"][0]["ocpp_status"], "Available", "{tl}");

    // One connector: EVSE 2's report is left out, the charger's own entries stay.
    let one = stack
        .get(&format!(
            "/v1/chargers/TL-16/timeline?from={}&evse_id=1&connector_id=1",
            from.replace('+', "%2B")
        ))
        .await
        .1;
    assert_eq!(
        kinds(&one),
        ["Preparing", "Faulted", "connected", "disconnected"],
        "{one}"
    );
    let two = stack
        .get(&format!(
            "/v1/chargers/TL-16/timeline?from={}&limit=2",
            from.replace('+', "%2B")
        ))
        .await
        .1;
    assert_eq!(two["entries"].as_array().unwrap().len(), 2);
    assert_eq!(two["truncated"], true);

    // Bad queries are problems, not panics or empty answers.
    for q in [
        "?from=2026-13-01T00:00:00Z",
        "?from=2026-01-10T00:00:00Z&to=2026-01-01T00:00:00Z",
        "?from=2026-01-01T00:00:00Z&to=2026-03-01T00:00:00Z",
        "?connector_id=1",
        "?limit=0",
        "?limit=99999999999999999999999",
        "?evse_id=-1",
        "?colour=red",
    ] {
        let (s, b) = stack.get(&format!("/v1/chargers/TL-16/timeline{q}")).await;
        assert_eq!(s, 400, "{q}: {b}");
        assert!(
            b["type"].as_str().unwrap().starts_with("urn:cpms:problem:"),
            "{b}"
        );
    }
    let (s, b) = stack.get("/v1/chargers/NOPE/timeline").await;
    assert_eq!(s, 404, "{b}");
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_2_0_1_chargers_status_and_device_faults_are_on_its_timeline() {
    let stack = Stack::start().await;
    stack.register("TL-201").await;
    let mut c = Charger::connect(&stack, "TL-201", "ocpp2.0.1")
        .await
        .unwrap();
    c.boot(true).await;
    let r = c
        .call(
            "StatusNotification",
            json!({"timestamp": ago(9), "connectorStatus": "Faulted", "evseId": 1, "connectorId": 1}),
        )
        .await;
    assert_eq!(r[0], 3, "{r}");
    let event = |id: i64, at: String, cleared: bool| {
        json!({"eventId": id, "timestamp": at, "trigger": "Alerting", "actualValue": if cleared {"false"} else {"true"},
            "techCode": "OVT-3", "cleared": cleared, "eventNotificationType": "HardWiredNotification",
            "component": {"name": "ConnectorPlugRetentionLock", "evse": {"id": 1, "connectorId": 1}},
            "variable": {"name": "Problem"}})
    };
    let r = c
        .call(
            "NotifyEvent",
            json!({"generatedAt": ago(0), "seqNo": 0, "eventData": [event(7, ago(8), false), event(8, ago(2), true)]}),
        )
        .await;
    assert_eq!(r[0], 3, "{r}");
    // A NotifyEvent that breaks the schema is a CallError, and nothing is recorded.
    let r = c
        .call(
            "NotifyEvent",
            json!({"generatedAt": ago(0), "seqNo": 1, "eventData": [{"eventId": "x"}]}),
        )
        .await;
    assert_eq!(r[0], 4, "{r}");
    let tl = stack
        .get(&format!(
            "/v1/chargers/TL-201/timeline?from={}&evse_id=1",
            ago(15).replace('+', "%2B")
        ))
        .await
        .1;
    let e = tl["entries"].as_array().unwrap();
    // (Connected is at the time received: after the reports' own, older, times.)
    assert_eq!(
        kinds(&tl),
        ["Faulted", "event", "event", "connected"],
        "{tl}"
    );
    assert_eq!(e[1]["component"], "ConnectorPlugRetentionLock");
    assert_eq!(e[1]["cleared"], false);
    assert_eq!(e[2]["cleared"], true);
    assert_eq!(e[2]["tech_code"], "OVT-3");
    assert_eq!(e[2]["connector_id"], 1);
    stack.stop().await;
}
