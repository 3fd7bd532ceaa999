//! Billing over the real path: simulated chargers on WebSockets, the local stack's event bus and its
//! billing consumer, read back through the operator API. A session ends in a CDR with the expected total;
//! a session closed by reconciliation whose real stop arrives later gets a credit CDR and a new CDR.

use std::time::Duration;

use cpms_tests::{Charger, Stack, send};
use reqwest::Method;
use serde_json::{Value, json};

async fn wait_for(stack: &Stack, path: &str, check: impl Fn(&Value) -> bool) -> Value {
    stack.wait_for(path, check).await
}

async fn put(stack: &Stack, path: &str, body: Value) -> (u16, Value) {
    send(stack.req(Method::PUT, path).json(&body)).await
}

fn items(v: &Value) -> Vec<Value> {
    v["items"].as_array().cloned().unwrap_or_default()
}

/// A 2.0.1 TransactionEvent of transaction `tx` with an energy register reading of `kwh`, plus `extra`
/// fields.
fn tx_event(tx: &str, kind: &str, seq: u64, at: &str, kwh: &str, extra: Value) -> Value {
    let kwh: Value = serde_json::from_str(kwh).unwrap();
    let mut p = json!({"eventType": kind, "timestamp": at, "triggerReason": "MeterValuePeriodic", "seqNo": seq,
        "transactionInfo": {"transactionId": tx}, "meterValue": [{"timestamp": at, "sampledValue": [
            {"value": kwh, "unitOfMeasure": {"unit": "kWh"}}]}]});
    for (k, v) in extra.as_object().unwrap() {
        p[k] = v.clone();
    }
    p
}

async fn setup(stack: &Stack) {
    let site = json!({"id": "s-ber", "name": "Berlin", "address": {"street": "1 Allee", "city": "Berlin", "country": "DEU"},
        "coordinates": {"latitude": 52.5, "longitude": 13.4}, "time_zone": "Europe/Berlin"});
    assert_eq!(stack.post("/v1/sites", site).await.0, 201);
    let tariff = json!({"id": "std", "name": "Standard", "currency": "EUR", "elements": [
        {"price_components": [{"type": "FLAT", "price": 0.50, "vat": 21, "step_size": 1},
                              {"type": "ENERGY", "price": 0.30, "vat": 21, "step_size": 1}]}]});
    let (s, b) = stack.post("/v1/tariffs", tariff).await;
    assert_eq!(s, 201, "{b}");
    assert_eq!(
        put(
            stack,
            "/v1/tariff-assignments/site:s-ber",
            json!({"tariff_id": "std"})
        )
        .await
        .0,
        200
    );
}

async fn charger_at_site(stack: &Stack, id: &str) -> Charger {
    stack.register(id).await;
    let (s, b) = send(
        stack
            .req(Method::PATCH, &format!("/v1/chargers/{id}"))
            .json(&json!({"site_id": "s-ber"})),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    let mut cp = Charger::connect(stack, id, "ocpp1.6").await.unwrap();
    cp.boot(false).await;
    cp
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_simulated_session_ends_in_a_cdr_with_the_expected_total() {
    let stack = Stack::start().await;
    setup(&stack).await;
    stack.token("RFID-B1").await;
    let mut cp = charger_at_site(&stack, "BILL-1").await;
    let s = cp
        .call(
            "StartTransaction",
            json!({"connectorId": 1, "idTag": "RFID-B1", "meterStart": 1000,
        "timestamp": "2026-06-01T08:00:00Z"}),
        )
        .await;
    let tx = s[2]["transactionId"].as_i64().unwrap();
    cp.call("MeterValues", json!({"connectorId": 1, "transactionId": tx, "meterValue": [{"timestamp": "2026-06-01T09:00:00Z",
        "sampledValue": [{"value": "11000", "measurand": "Energy.Active.Import.Register"}]}]})).await;
    // A running session's cost so far, by the same engine: 0.50 + 10 kWh x 0.30.
    let sid = format!("BILL-1~{tx}");
    let (s, live) = stack.get(&format!("/v1/sessions/{sid}/cost")).await;
    assert_eq!(s, 200, "{live}");
    assert_eq!(live["total_energy"], json!(10));
    cp.call("StopTransaction", json!({"transactionId": tx, "meterStop": 21000, "timestamp": "2026-06-01T10:00:00Z", "idTag": "RFID-B1"})).await;

    let cdrs = wait_for(&stack, "/v1/cdrs", |v| !items(v).is_empty()).await;
    let cdr = &items(&cdrs)[0];
    assert_eq!(cdr["session_id"], sid.as_str());
    assert_eq!(cdr["tariff_id"], "std");
    assert_eq!(cdr["site_id"], "s-ber");
    assert_eq!(cdr["time_zone"], "Europe/Berlin");
    assert_eq!(
        cdr["billed_party"],
        json!({"kind": "driver", "id": "RFID-B1"})
    );
    // 0.50 + 20 kWh x 0.30 = 6.50; with 21 % VAT 7.865, rounded once: 7.87.
    assert_eq!(
        cdr["pricing"]["total_cost"],
        json!({"excl_vat": 6.5, "incl_vat": 7.87}),
        "{cdr}"
    );
    assert_eq!(cdr["pricing"]["total_energy"], json!(20));
    assert_eq!(cdr["pricing"]["total_time"], json!(2));
    assert_eq!(cdr["review"], false, "{cdr}");
    // Its cost is now its CDR's, even if the tariff changes later.
    let (_, cost) = stack.get(&format!("/v1/sessions/{sid}/cost")).await;
    assert_eq!(cost, cdr["pricing"]);
    // Pricing it again changes nothing.
    let (s, again) = stack
        .post(&format!("/v1/sessions/{sid}/bill"), json!({}))
        .await;
    assert_eq!(
        (s, &again["outcome"]),
        (200, &json!("unchanged")),
        "{again}"
    );
    let (_, cdrs) = stack.get("/v1/cdrs").await;
    assert_eq!(items(&cdrs).len(), 1);
    // A running session cannot be billed; an unknown one is 404.
    let (s, b) = stack
        .post("/v1/sessions/BILL-1~999999/bill", json!({}))
        .await;
    assert_eq!(s, 404, "{b}");
    cp.close().await;
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reconciled_session_whose_stop_arrives_late_is_credited_and_priced_again() {
    let stack = Stack::start().await;
    setup(&stack).await;
    stack.token("RFID-B2").await;
    let mut cp = charger_at_site(&stack, "BILL-2").await;
    let s = cp
        .call(
            "StartTransaction",
            json!({"connectorId": 1, "idTag": "RFID-B2", "meterStart": 0,
        "timestamp": "2026-06-02T08:00:00Z"}),
        )
        .await;
    let first = s[2]["transactionId"].as_i64().unwrap();
    cp.call("MeterValues", json!({"connectorId": 1, "transactionId": first, "meterValue": [{"timestamp": "2026-06-02T08:30:00Z",
        "sampledValue": [{"value": "5000", "measurand": "Energy.Active.Import.Register"}]}]})).await;
    // Its stop is lost; the next session on the connector supersedes it.
    let s = cp
        .call(
            "StartTransaction",
            json!({"connectorId": 1, "idTag": "RFID-B2", "meterStart": 9000,
        "timestamp": "2026-06-02T10:00:00Z"}),
        )
        .await;
    assert!(s[2]["transactionId"].as_i64().unwrap() != first);
    let sid = format!("BILL-2~{first}");
    let path = "/v1/cdrs?party=driver:RFID-B2";
    let v = wait_for(&stack, path, |v| {
        items(v).iter().any(|c| c["session_id"] == sid.as_str())
    })
    .await;
    let r1 = items(&v)
        .into_iter()
        .find(|c| c["session_id"] == sid.as_str())
        .unwrap();
    assert_eq!(r1["review"], true, "a reconciled session is flagged: {r1}");
    let kinds: Vec<&str> = r1["flags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["kind"].as_str().unwrap())
        .collect();
    assert!(
        kinds.contains(&"reconciled") && kinds.contains(&"no_stop_meter"),
        "{kinds:?}"
    );
    // 0.50 + 5 kWh x 0.30 = 2.00 (energy up to the last reading).
    assert_eq!(r1["pricing"]["total_cost"]["excl_vat"], json!(2));

    // The charger delivers the lost stop from its queue: 8 kWh.
    cp.call("StopTransaction", json!({"transactionId": first, "meterStop": 8000, "timestamp": "2026-06-02T09:00:00Z", "idTag": "RFID-B2"})).await;
    let v = wait_for(&stack, path, |v| {
        items(v)
            .iter()
            .filter(|c| c["session_id"] == sid.as_str())
            .count()
            == 3
    })
    .await;
    let mine: Vec<Value> = items(&v)
        .into_iter()
        .filter(|c| c["session_id"] == sid.as_str())
        .collect();
    let credit = mine
        .iter()
        .find(|c| c["kind"] == "credit")
        .expect("a credit CDR");
    assert_eq!(credit["credits"], r1["id"]);
    assert_eq!(
        credit["pricing"]["total_cost"],
        json!({"excl_vat": -2, "incl_vat": -2.42})
    );
    let r2 = mine
        .iter()
        .find(|c| c["kind"] == "regular" && c["revision"] == 2)
        .expect("a new CDR");
    // 0.50 + 8 kWh x 0.30 = 2.90, by the tariff of the first CDR.
    assert_eq!(r2["pricing"]["total_cost"]["excl_vat"], json!(2.9), "{r2}");
    assert_eq!(r2["end_date_time"], "2026-06-02T09:00:00Z");
    let (_, first_again) = stack
        .get(&format!("/v1/cdrs/{}", r1["id"].as_str().unwrap()))
        .await;
    assert_eq!(first_again, r1, "a CDR is never changed");
    let made: Vec<&str> = mine
        .iter()
        .map(|c| c["created_at"].as_str().unwrap())
        .collect();
    let mut newest_first = made.clone();
    newest_first.sort_by(|a, b| b.cmp(a));
    assert_eq!(made, newest_first, "CDRs are listed newest first");
    assert_eq!(mine.last().unwrap()["id"], r1["id"]);
    cp.close().await;
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_2_0_1_station_is_told_the_total_cost_its_cdr_will_carry() {
    let stack = Stack::start().await;
    setup(&stack).await;
    stack.token("EMAID-B3").await;
    stack.register("BILL-3").await;
    let (s, _) = send(
        stack
            .req(Method::PATCH, "/v1/chargers/BILL-3")
            .json(&json!({"site_id": "s-ber"})),
    )
    .await;
    assert_eq!(s, 200);
    let mut cs = Charger::connect(&stack, "BILL-3", "ocpp2.0.1")
        .await
        .unwrap();
    cs.boot(true).await;
    let started = cs.call("TransactionEvent", tx_event("tc-1", "Started", 0, "2026-06-03T08:00:00Z", "100.0",
        json!({"idToken": {"idToken": "EMAID-B3", "type": "eMAID"}, "evse": {"id": 1, "connectorId": 1}}))).await;
    assert_eq!(
        started[2].get("totalCost"),
        None,
        "no cost before the end: {started}"
    );
    let ended = cs.call("TransactionEvent", tx_event("tc-1", "Ended", 1, "2026-06-03T09:00:00Z", "112.345",
        json!({"transactionInfo": {"transactionId": "tc-1", "stoppedReason": "EVDisconnected"}}))).await;
    // 0.50 + 12.345 kWh x 0.30 = 4.2035; 21 % VAT: 5.086235 -> 5.09.
    assert_eq!(ended[2]["totalCost"], json!(5.09), "{ended}");
    let cdrs = wait_for(&stack, "/v1/cdrs", |v| !items(v).is_empty()).await;
    assert_eq!(
        items(&cdrs)[0]["pricing"]["total_cost"]["incl_vat"],
        json!(5.09)
    );
    cs.close().await;
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_2_0_1_session_is_sent_its_cost_so_far() {
    let stack = Stack::start().await;
    setup(&stack).await;
    stack.token("EMAID-B4").await;
    stack.register("BILL-4").await;
    let mut cs = Charger::connect(&stack, "BILL-4", "ocpp2.0.1")
        .await
        .unwrap();
    cs.boot(true).await;
    // The charger is on no site: a tariff assigned to the charger itself prices it.
    assert_eq!(
        put(
            &stack,
            "/v1/tariff-assignments/charger:BILL-4",
            json!({"tariff_id": "std"})
        )
        .await
        .0,
        200
    );
    cs.call("TransactionEvent", tx_event("tc-2", "Started", 0, "2026-06-04T08:00:00Z", "100.0",
        json!({"idToken": {"idToken": "EMAID-B4", "type": "eMAID"}, "evse": {"id": 1, "connectorId": 1}}))).await;
    cs.call(
        "TransactionEvent",
        tx_event(
            "tc-2",
            "Updated",
            1,
            "2026-06-04T08:30:00Z",
            "107.5",
            json!({}),
        ),
    )
    .await;
    let call = cs.recv().await.expect("a CostUpdated CALL");
    assert_eq!(
        (call[0].clone(), call[2].clone()),
        (json!(2), json!("CostUpdated")),
        "{call}"
    );
    // 0.50 + 7.5 kWh x 0.30 = 2.75; 21 % VAT: 3.3275 -> 3.33.
    assert_eq!(call[3], json!({"totalCost": 3.33, "transactionId": "tc-2"}));
    cs.send(tokio_tungstenite::tungstenite::Message::text(
        json!([3, call[1], {}]).to_string(),
    ))
    .await;
    let (_, cmd) = stack
        .get(&format!(
            "/v1/commands/{}?wait=5",
            call[1].as_str().unwrap()
        ))
        .await;
    assert_eq!(cmd["state"], "answered", "{cmd}");
    // More meter values within five minutes send nothing more.
    cs.call(
        "TransactionEvent",
        tx_event(
            "tc-2",
            "Updated",
            3,
            "2026-06-04T08:46:00Z",
            "108.0",
            json!({}),
        ),
    )
    .await;
    let ended = cs.call("TransactionEvent", tx_event("tc-2", "Ended", 4, "2026-06-04T09:00:00Z", "110.0",
        json!({"transactionInfo": {"transactionId": "tc-2", "stoppedReason": "EVDisconnected"}}))).await;
    assert_eq!(
        ended[0], 3,
        "the next frame is the answer, not another CostUpdated: {ended}"
    );
    // 0.50 + 10 kWh x 0.30 = 3.50 -> 4.235 -> 4.24.
    assert_eq!(ended[2]["totalCost"], json!(4.24));
    cs.close().await;
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ended_that_arrives_before_its_started_is_priced_as_one_session() {
    let stack = Stack::start().await;
    setup(&stack).await;
    stack.token("EMAID-B5").await;
    stack.register("BILL-5").await;
    let (s, _) = send(
        stack
            .req(Method::PATCH, "/v1/chargers/BILL-5")
            .json(&json!({"site_id": "s-ber"})),
    )
    .await;
    assert_eq!(s, 200);
    let mut cs = Charger::connect(&stack, "BILL-5", "ocpp2.0.1")
        .await
        .unwrap();
    cs.boot(true).await;
    // Only the end is known (its start is still queued offline): one instant, one session.
    let ended = cs.call("TransactionEvent", tx_event("tc-5", "Ended", 1, "2026-06-05T09:00:00Z", "112.0",
        json!({"transactionInfo": {"transactionId": "tc-5", "stoppedReason": "EVDisconnected"},
               "idToken": {"idToken": "EMAID-B5", "type": "eMAID"}, "evse": {"id": 1, "connectorId": 1}}))).await;
    assert_eq!(
        ended[2]["totalCost"],
        json!(0.61),
        "the session fee incl. VAT: {ended}"
    );
    let cdrs = wait_for(&stack, "/v1/cdrs", |v| !items(v).is_empty()).await;
    assert_eq!(
        items(&cdrs)[0]["pricing"]["total_cost"],
        json!({"excl_vat": 0.5, "incl_vat": 0.61}),
        "the first CDR carries the flat fee"
    );
    cs.close().await;
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_running_cost_interval_is_a_tenant_setting_and_small_changes_send_nothing() {
    let stack = Stack::start().await;
    setup(&stack).await;
    let (_, v) = stack.get("/v1/settings").await;
    assert_eq!(v["running_cost_interval_s"], 60, "{v}");
    let patch = |body: Value| send(stack.req(Method::PATCH, "/v1/settings").json(&body));
    assert_eq!(patch(json!({"running_cost_interval_s": 901})).await.0, 400);
    let (s, v) = patch(json!({"running_cost_interval_s": 0})).await;
    assert_eq!((s, &v["running_cost_interval_s"]), (200, &json!(0)), "{v}");
    stack.token("EMAID-B6").await;
    stack.register("BILL-6").await;
    assert_eq!(
        put(
            &stack,
            "/v1/tariff-assignments/charger:BILL-6",
            json!({"tariff_id": "std"})
        )
        .await
        .0,
        200
    );
    let mut cs = Charger::connect(&stack, "BILL-6", "ocpp2.0.1")
        .await
        .unwrap();
    cs.boot(true).await;
    cs.call("TransactionEvent", tx_event("tc-6", "Started", 0, "2026-06-06T08:00:00Z", "100.0",
        json!({"idToken": {"idToken": "EMAID-B6", "type": "eMAID"}, "evse": {"id": 1, "connectorId": 1}}))).await;
    let mut seen = Vec::new();
    // (kWh so far, whether a CostUpdated follows): 1 Wh more changes the cost by less than a cent.
    for (seq, (kwh, expect)) in [("101.0", true), ("101.001", false), ("102.0", true)]
        .into_iter()
        .enumerate()
    {
        let at = format!("2026-06-06T08:{:02}:00Z", 10 * (seq + 1));
        let r = cs
            .call(
                "TransactionEvent",
                tx_event("tc-6", "Updated", seq as u64 + 1, &at, kwh, json!({})),
            )
            .await;
        assert_eq!(r[0], 3);
        let next = tokio::time::timeout(Duration::from_millis(1500), cs.recv()).await;
        match (next, expect) {
            (Ok(Some(call)), true) => {
                assert_eq!(call[2], "CostUpdated", "{call}");
                seen.push(call[3]["totalCost"].clone());
                cs.send(tokio_tungstenite::tungstenite::Message::text(
                    json!([3, call[1], {}]).to_string(),
                ))
                .await;
            }
            (Err(_), false) => {}
            (other, _) => panic!("after {kwh} kWh: {other:?}"),
        }
    }
    // 0.50 + 1 kWh x 0.30 = 0.80 -> 0.968 -> 0.97; 0.50 + 2 x 0.30 = 1.10 -> 1.331 -> 1.33.
    assert_eq!(seen, [json!(0.97), json!(1.33)]);
    cs.close().await;
    stack.stop().await;
}
