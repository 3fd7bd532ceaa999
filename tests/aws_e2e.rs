//! The AWS path end to end on the emulator: the real Lambda handlers fed the `events/` samples, the table
//! they leave behind, the stream relayed to EventBridge, the events arriving on each consumer's queue,
//! a relay retry, the reconciler consuming from its queue, and throttling.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use aws_lambda_events::apigw::ApiGatewayWebsocketProxyRequest;
use aws_lambda_events::encodings::Body;
use cpms_app::{Csms, hash_password};
use cpms_aws::EventBridgePublisher;
use cpms_domain::charger::Charger;
use cpms_domain::token::{Token, TokenStatus};
use cpms_domain::{ChargerId, TenantId};
use cpms_lambda::websocket::{Route, handle};
use cpms_lambda::{AwsSettings, aws_csms};
use cpms_ports::Expected;
use cpms_tests::aws::World;
use cpms_tests::moto::{moto, sdk_config};
use cpms_tests::root;
use cpms_tests::throttle::{self, Throttle};
use serde_json::{Value, json};

fn fixture(name: &str) -> ApiGatewayWebsocketProxyRequest {
    let text = std::fs::read_to_string(root().join("events").join(name)).unwrap();
    serde_json::from_str(&text).unwrap()
}

async fn register(csms: &Csms) {
    let now = chrono::Utc::now();
    let mut c = Charger::register(
        TenantId::default_tenant(),
        ChargerId::new("CP-LAMBDA-1").unwrap(),
        now,
    );
    c.password_hash = Some(hash_password("lambda-password-001"));
    csms.ports()
        .chargers
        .put(&c, Expected::Absent, &[])
        .await
        .unwrap();
    let t = Token::new(
        TenantId::default_tenant(),
        "04A1B2C3",
        TokenStatus::Accepted,
        now,
    );
    csms.ports().tokens.put(&t, Expected::Absent).await.unwrap();
}

/// The emulator's table, bus and queues, and the application on them with the test charger and token.
async fn world_with_charger(endpoint: &str) -> (World, Arc<Csms>) {
    let world = World::create(endpoint).await;
    let settings = AwsSettings {
        table: world.table.clone(),
        ..Default::default()
    };
    let csms = aws_csms(&world.sdk, &settings);
    register(&csms).await;
    (world, csms)
}

async fn send(csms: &Csms, fixture_name: &str) -> Value {
    let r = handle(Route::Message, csms, &fixture(fixture_name)).await;
    assert_eq!(r.status_code, 200);
    let Some(Body::Text(t)) = r.body else {
        panic!("{fixture_name}: no route response")
    };
    let frame: Value = serde_json::from_str(&t).unwrap();
    assert_eq!(frame[0], 3, "{fixture_name}: {frame}");
    frame
}

fn types(events: &[Value]) -> Vec<String> {
    let mut t: Vec<String> = events
        .iter()
        .map(|e| e["detail-type"].as_str().unwrap().to_string())
        .collect();
    t.sort();
    t
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_through_the_lambda_handlers_reaches_the_consumer_queues() {
    let m = moto();
    let (mut world, csms) = world_with_charger(&m.endpoint).await;

    // The handlers, fed the sample events of a 2.0.1 session.
    let r = handle(Route::Connect, &csms, &fixture("ocpp-connect.json")).await;
    assert_eq!(
        (
            r.status_code,
            r.headers["sec-websocket-protocol"].to_str().unwrap()
        ),
        (200, "ocpp2.0.1")
    );
    assert_eq!(
        send(&csms, "ocpp-message-boot.json").await[2]["status"],
        "Accepted"
    );
    send(&csms, "ocpp-message-status.json").await;
    let started = send(&csms, "ocpp-message-transaction-started.json").await;
    assert_eq!(started[2]["idTokenInfo"]["status"], "Accepted");
    send(&csms, "ocpp-message-transaction-updated.json").await;
    send(&csms, "ocpp-message-transaction-ended.json").await;
    assert_eq!(
        handle(Route::Disconnect, &csms, &fixture("ocpp-disconnect.json"))
            .await
            .status_code,
        200
    );

    // What the table holds.
    let ddb = aws_sdk_dynamodb::Client::new(&world.sdk);
    let item = |pk: &str, sk: &str| {
        let ddb = ddb.clone();
        let (table, pk, sk) = (world.table.clone(), pk.to_string(), sk.to_string());
        async move {
            let out = ddb
                .get_item()
                .table_name(table)
                .key("pk", aws_sdk_dynamodb::types::AttributeValue::S(pk))
                .key("sk", aws_sdk_dynamodb::types::AttributeValue::S(sk))
                .send()
                .await
                .unwrap();
            out.item.map(|i| {
                serde_json::from_str::<Value>(&cpms_aws::dynamodb::body::json(&i).unwrap().unwrap())
                    .unwrap()
            })
        }
    };
    let charger = item("CP#CP-LAMBDA-1", "CP").await.unwrap();
    assert_eq!(charger["boot"]["vendor"], "VendorX");
    assert_eq!(charger["connection"], Value::Null, "disconnected");
    assert_eq!(charger["connectors"][0]["ocpp_status"], "Occupied");
    let session = item("T#default#CP#CP-LAMBDA-1", "S#f3a9c2d1")
        .await
        .unwrap();
    assert_eq!(
        (session["status"].clone(), session["energy_wh"].clone()),
        (json!("completed"), json!(5500))
    );
    assert!(
        item("CONN#Fx1RMd4aoAMCIQg=", "CONN").await.is_none(),
        "the connection item is gone"
    );
    let samples = ddb
        .query()
        .table_name(&world.table)
        .key_condition_expression("pk = :p")
        .expression_attribute_values(
            ":p",
            aws_sdk_dynamodb::types::AttributeValue::S(
                "T#default#CP#CP-LAMBDA-1#S#f3a9c2d1".into(),
            ),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(samples.count, 3, "one samples item per transaction event");

    // The stream, relayed to the bus, routed to the queues.
    let stream = world.stream_event().await;
    let publisher =
        EventBridgePublisher::new(aws_sdk_eventbridge::Client::new(&world.sdk), &world.bus);
    let failures = cpms_lambda::consumers::relay(&stream, &publisher).await;
    assert!(failures.batch_item_failures.is_empty());
    let billing = world.drain("billing").await;
    assert_eq!(types(&billing), ["session.ended.v1", "session.metered.v1"]);
    let ended = billing
        .iter()
        .find(|e| e["detail-type"] == "session.ended.v1")
        .unwrap();
    assert_eq!(ended["detail"]["id"], "CP-LAMBDA-1~f3a9c2d1:ended");
    assert_eq!(ended["detail"]["data"]["energy_wh"], 5500);
    assert_eq!(
        types(&world.drain("session-reconciler").await),
        ["session.started.v1"]
    );
    assert_eq!(
        types(&world.drain("alerts").await),
        [
            "charger.booted.v1",
            "charger.connected.v1",
            "charger.disconnected.v1",
            "connector.status_changed.v1",
            "session.ended.v1",
            "session.started.v1"
        ]
    );
    let smart = types(&world.drain("smart-charging").await);
    assert_eq!(
        smart,
        [
            "charger.booted.v1",
            "charger.connected.v1",
            "charger.disconnected.v1",
            "connector.status_changed.v1",
            "session.ended.v1",
            "session.metered.v1",
            "session.started.v1"
        ]
    );

    // A relay retry publishes the same events again, with the same ids: consumers that dedupe on the id
    // see nothing new.
    cpms_lambda::consumers::relay(&stream, &publisher).await;
    let again = world.drain("billing").await;
    let ids = |v: &[Value]| {
        let mut i: Vec<String> = v.iter().map(|e| e["detail"]["id"].to_string()).collect();
        i.sort();
        i
    };
    assert_eq!(ids(&again), ids(&billing));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reconciler_consumes_its_queue_and_redelivery_changes_nothing() {
    let m = moto();
    let (mut world, csms) = world_with_charger(&m.endpoint).await;
    handle(Route::Connect, &csms, &fixture("ocpp-connect.json")).await;
    send(&csms, "ocpp-message-boot.json").await;
    send(&csms, "ocpp-message-transaction-started.json").await;
    // The charger never ends f3a9c2d1 and starts another session on the same EVSE an hour later.
    let mut next = fixture("ocpp-message-transaction-started.json");
    let body = next
        .body
        .take()
        .unwrap()
        .replace("f3a9c2d1", "a1b2c3d4")
        .replace("2026-11-24T10:00:05Z", "2026-11-24T11:00:05Z");
    next.body = Some(body);
    handle(Route::Message, &csms, &next).await;

    let publisher =
        EventBridgePublisher::new(aws_sdk_eventbridge::Client::new(&world.sdk), &world.bus);
    cpms_lambda::consumers::relay(&world.stream_event().await, &publisher).await;
    let queued = world.drain("session-reconciler").await;
    assert_eq!(queued.len(), 2);
    // Deliver the batch twice: the second delivery changes nothing.
    for _ in 0..2 {
        let batch = World::sqs_event(&queued);
        let r = cpms_lambda::consumers::consume(&batch, |ev| {
            let csms = csms.clone();
            async move {
                cpms_app::consumers::reconcile(&csms, &ev)
                    .await
                    .map(|_| ())
                    .map_err(|e| e.to_string())
            }
        })
        .await;
        assert!(r.batch_item_failures.is_empty());
    }
    let sessions = &csms.ports().sessions;
    let old = sessions
        .get(
            &TenantId::default_tenant(),
            &cpms_domain::SessionId::parse("CP-LAMBDA-1~f3a9c2d1").unwrap(),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        old.value.status,
        cpms_domain::session::SessionStatus::Reconciled
    );
    assert_eq!(old.value.stop_reason.as_deref(), Some("Superseded"));
    // An unreadable message is dropped, not retried forever; a failing handler is reported for retry.
    let bad = aws_lambda_events::sqs::SqsEvent::default();
    assert!(
        cpms_lambda::consumers::consume(&bad, |_| async { Ok(()) })
            .await
            .batch_item_failures
            .is_empty()
    );
    let r = cpms_lambda::consumers::consume(&World::sqs_event(&queued[..1]), |_| async {
        Err("down".to_string())
    })
    .await;
    assert_eq!(r.batch_item_failures[0].item_identifier, "m0");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttled_writes_are_retried_and_exhausted_retries_become_internal_errors() {
    let m = moto();
    let world = World::create(&m.endpoint).await;
    let counters = Arc::new(Throttle::default());
    let proxy = throttle::start(&m.endpoint, counters.clone()).await;
    let sdk = sdk_config(&proxy).await;
    let csms = aws_csms(
        &sdk,
        &AwsSettings {
            table: world.table.clone(),
            ..Default::default()
        },
    );
    register(&csms).await;
    handle(Route::Connect, &csms, &fixture("ocpp-connect.json")).await;

    // Three throttled attempts, then success: the charger never notices.
    counters.refuse_writes.store(3, Ordering::SeqCst);
    assert_eq!(
        send(&csms, "ocpp-message-boot.json").await[2]["status"],
        "Accepted"
    );
    assert_eq!(counters.refused.load(Ordering::SeqCst), 3);

    // Throttled beyond the retries: the charger gets InternalError (and will resend), nothing is half-written.
    counters.refuse_writes.store(1000, Ordering::SeqCst);
    let r = handle(
        Route::Message,
        &csms,
        &fixture("ocpp-message-transaction-started.json"),
    )
    .await;
    let Some(Body::Text(t)) = r.body else {
        panic!()
    };
    let frame: Value = serde_json::from_str(&t).unwrap();
    assert_eq!(
        (frame[0].clone(), frame[2].clone()),
        (json!(4), json!("InternalError")),
        "{frame}"
    );
    counters.refuse_writes.store(0, Ordering::SeqCst);
    let started = send(&csms, "ocpp-message-transaction-started.json").await;
    assert_eq!(started[2]["idTokenInfo"]["status"], "Accepted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_messages_of_one_charger_all_land() {
    let m = moto();
    let (_world, csms) = world_with_charger(&m.endpoint).await;
    handle(Route::Connect, &csms, &fixture("ocpp-connect.json")).await;
    send(&csms, "ocpp-message-boot.json").await;
    // Twenty StatusNotifications for different connectors at once, as concurrent Lambda invocations
    // would deliver them: conditional writes conflict and retry; every one lands.
    let mut tasks = Vec::new();
    for evse in 1..=20 {
        let csms = csms.clone();
        tasks.push(tokio::spawn(async move {
            let mut e = fixture("ocpp-message-status.json");
            e.body = Some(
                json!([2, format!("s{evse}"), "StatusNotification", {"timestamp": "2026-11-24T10:00:05Z",
                    "connectorStatus": "Available", "evseId": evse, "connectorId": 1}])
                .to_string(),
            );
            handle(Route::Message, &csms, &e).await
        }));
    }
    for t in tasks {
        let r = t.await.unwrap();
        let Some(Body::Text(t)) = r.body else {
            panic!()
        };
        assert!(t.starts_with("[3,"), "{t}");
    }
    let cp = csms
        .ports()
        .chargers
        .get(&ChargerId::new("CP-LAMBDA-1").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(cp.value.connectors.len(), 20);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_chargers_behind_the_local_gateway_on_the_lambda_handlers() {
    use cpms_tests::{Charger, Stack};
    let m = moto();
    let stack = Stack::start_aws(&m.endpoint, &cpms_tests::moto::unique("cpms")).await;
    stack.register("CP-GW").await;
    stack.token("TAG-GW").await;
    let mut first = Charger::connect(&stack, "CP-GW", "ocpp1.6").await.unwrap();
    first.boot(false).await;
    // The charger reconnects while its old connection still looks open: the connect handler closes the
    // old one through the management API (the SDK talking to this server's /@connections).
    let mut second = Charger::connect(&stack, "CP-GW", "ocpp1.6").await.unwrap();
    assert!(
        first.recv().await.is_none(),
        "the stale connection was closed"
    );
    let s = second
        .call("StartTransaction", json!({"connectorId": 1, "idTag": "TAG-GW", "meterStart": 10, "timestamp": "2026-11-24T10:00:00Z"}))
        .await;
    let tx = s[2]["transactionId"].as_i64().unwrap();
    second
        .call(
            "StopTransaction",
            json!({"transactionId": tx, "meterStop": 1010, "timestamp": "2026-11-24T10:30:00Z"}),
        )
        .await;
    let (status, session) = stack.get(&format!("/v1/sessions/CP-GW~{tx}")).await;
    assert_eq!(status, 200, "{session}");
    assert_eq!(
        (session["status"].clone(), session["energy_wh"].clone()),
        (json!("completed"), json!(1000))
    );
    let (_, cp) = stack.get("/v1/chargers/CP-GW").await;
    assert_eq!(cp["connected"], true);
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn billing_prices_the_session_from_its_queue_and_the_cdr_event_is_relayed() {
    use cpms_domain::billing::TariffAssignment;
    use cpms_domain::tariff::Tariff;
    use cpms_ports::Documents;

    let m = moto();
    let (mut world, csms) = world_with_charger(&m.endpoint).await;
    let now = chrono::Utc::now();
    let tariff = Tariff {
        tenant: TenantId::default_tenant(),
        id: "std".into(),
        name: "Standard".into(),
        terms: serde_json::from_value(
            json!({"currency": "EUR", "elements": [{"price_components": [
            {"type": "FLAT", "price": 0.50, "vat": 21, "step_size": 1},
            {"type": "ENERGY", "price": 0.30, "vat": 21, "step_size": 1}]}]}),
        )
        .unwrap(),
        start_date_time: None,
        end_date_time: None,
        created_at: now,
        updated_at: now,
    };
    let docs = csms.ports().docs.clone();
    Documents::<Tariff>::new(docs.clone())
        .put(&tariff, Expected::Absent)
        .await
        .unwrap();
    let default = TariffAssignment {
        tenant: TenantId::default_tenant(),
        scope: "default".into(),
        tariff_id: Some("std".into()),
        updated_at: now,
    };
    Documents::<TariffAssignment>::new(docs.clone())
        .put(&default, Expected::Absent)
        .await
        .unwrap();
    handle(Route::Connect, &csms, &fixture("ocpp-connect.json")).await;
    send(&csms, "ocpp-message-boot.json").await;
    send(&csms, "ocpp-message-transaction-started.json").await;
    send(&csms, "ocpp-message-transaction-updated.json").await;
    send(&csms, "ocpp-message-transaction-ended.json").await;

    let publisher =
        EventBridgePublisher::new(aws_sdk_eventbridge::Client::new(&world.sdk), &world.bus);
    cpms_lambda::consumers::relay(&world.stream_event().await, &publisher).await;
    let ended = world.drain("billing").await;
    assert_eq!(types(&ended), ["session.ended.v1", "session.metered.v1"]);
    // Delivered twice (at least once): one CDR.
    for _ in 0..2 {
        let r = cpms_lambda::consumers::billing(&World::sqs_event(&ended), &csms).await;
        assert!(r.batch_item_failures.is_empty());
    }
    let cdr = Documents::<cpms_domain::billing::Cdr>::new(docs.clone())
        .get(&TenantId::default_tenant(), "CP-LAMBDA-1~f3a9c2d1~r1")
        .await
        .unwrap()
        .expect("the CDR")
        .value;
    // 0.50 + 5.5 kWh x 0.30 = 2.15; 21 % VAT: 2.6015 -> 2.60.
    assert_eq!(
        serde_json::to_value(cdr.pricing.total_cost).unwrap(),
        json!({"excl_vat": 2.15, "incl_vat": 2.6})
    );

    // The CDR's event travels the same way as every other: stream, relay, bus, the OCPI push queue.
    cpms_lambda::consumers::relay(&world.stream_event().await, &publisher).await;
    let pushed = world.drain("ocpi-push").await;
    let cdr_events: Vec<&Value> = pushed
        .iter()
        .filter(|e| e["detail-type"] == "cdr.created.v1")
        .collect();
    assert_eq!(cdr_events.len(), 1, "{pushed:?}");
    assert_eq!(cdr_events[0]["detail"]["id"], "cdr:CP-LAMBDA-1~f3a9c2d1~r1");
    assert_eq!(
        cdr_events[0]["detail"]["data"]["total_incl_vat"],
        json!(2.6)
    );

    // Junk on the queue is dropped (logged), not retried forever.
    let junk: aws_lambda_events::sqs::SqsEvent = serde_json::from_value(json!({"Records": [
        {"messageId": "j1", "body": "{not json", "attributes": {}, "messageAttributes": {}},
        {"messageId": "j2", "body": "{\"detail\": {\"id\": 1}}", "attributes": {}, "messageAttributes": {}}]}))
    .unwrap();
    let r = cpms_lambda::consumers::billing(&junk, &csms).await;
    assert!(r.batch_item_failures.is_empty());

    // The monthly schedule's message runs billing for the previous month.
    let due = json!({"detail-type": "billing.run_due.v1", "source": "cpms.schedule", "detail": {"period": "previous-month"}});
    let r = cpms_lambda::consumers::billing(&World::sqs_event(&[due]), &csms).await;
    assert!(r.batch_item_failures.is_empty());
    let period = cpms_domain::billing::Period::previous_month(chrono::Utc::now());
    let run = Documents::<cpms_domain::billing::BillingRun>::new(docs)
        .get(&TenantId::default_tenant(), &period.label)
        .await
        .unwrap();
    assert!(run.is_some(), "the run of {} exists", period.label);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_local_aws_mode_runs_every_consumer_from_the_tables_stream() {
    use cpms_tests::{Charger, Stack, send};
    let m = moto();
    let stack = Stack::start_aws(&m.endpoint, &cpms_tests::moto::unique("pipe")).await;
    let tariff = json!({"id": "std", "name": "Standard", "currency": "EUR", "elements": [
        {"price_components": [{"type": "FLAT", "price": 1.00, "vat": 0, "step_size": 1},
                              {"type": "ENERGY", "price": 0.25, "vat": 0, "step_size": 1}]}]});
    assert_eq!(stack.post("/v1/tariffs", tariff).await.0, 201);
    let (s, _) = send(
        stack
            .req(reqwest::Method::PUT, "/v1/tariff-assignments/default")
            .json(&json!({"tariff_id": "std"})),
    )
    .await;
    assert_eq!(s, 200);
    stack.register("CP-PIPE").await;
    stack.token("TAG-PIPE").await;
    let mut cp = Charger::connect(&stack, "CP-PIPE", "ocpp1.6")
        .await
        .unwrap();
    cp.boot(false).await;
    let start = |meter: u32, ts: &str| json!({"connectorId": 1, "idTag": "TAG-PIPE", "meterStart": meter, "timestamp": ts});
    let tx = cp
        .call("StartTransaction", start(0, "2026-11-24T10:00:00Z"))
        .await[2]["transactionId"]
        .as_i64()
        .unwrap();
    cp.call(
        "StopTransaction",
        json!({"transactionId": tx, "meterStop": 4000, "timestamp": "2026-11-24T10:30:00Z"}),
    )
    .await;
    // Billing, fed from the stream: 1.00 + 4 kWh x 0.25.
    let cdrs = stack
        .wait_for("/v1/cdrs", |v| {
            v["items"].as_array().is_some_and(|a| !a.is_empty())
        })
        .await;
    assert_eq!(
        cdrs["items"][0]["pricing"]["total_cost"]["excl_vat"],
        json!(2),
        "{cdrs}"
    );
    // The reconciler, fed from the stream: a new start on the connector closes an abandoned session.
    let abandoned = cp
        .call("StartTransaction", start(5000, "2026-11-24T11:00:00Z"))
        .await[2]["transactionId"]
        .as_i64()
        .unwrap();
    cp.call("StartTransaction", start(6000, "2026-11-24T12:00:00Z"))
        .await;
    let path = format!("/v1/sessions/CP-PIPE~{abandoned}");
    stack.wait_for(&path, |s| s["status"] == "reconciled").await;
    stack.stop().await;
}

/// Smart charging on the emulator through its queue and its function: a charger of a site with an
/// electrical tree starts a session through the handlers; the stream is relayed to the bus, the
/// smart-charging queue receives the events, and the function's handler computes the site from that
/// batch (the allocation is in the table with the running session).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smart_charging_runs_from_its_queue() {
    use cpms_domain::allocation::{SiteAllocation, SiteGrid};
    let m = moto();
    let (mut world, csms) = world_with_charger(&m.endpoint).await;
    let id = ChargerId::new("CP-LAMBDA-1").unwrap();
    let mut c = csms.ports().chargers.get(&id).await.unwrap().unwrap();
    c.value.site_id = Some("depot".into());
    csms.ports()
        .chargers
        .put(&c.value, Expected::Version(c.version), &[])
        .await
        .unwrap();
    let grid = SiteGrid {
        tenant: TenantId::default_tenant(),
        site_id: "depot".into(),
        tree: serde_json::from_value(json!({"nodes": [
            {"id": "grid", "kind": "grid", "limit_a": 40},
            {"id": "cp", "parent": "grid", "kind": "charger", "charger_id": "CP-LAMBDA-1"},
            {"id": "e1", "parent": "cp", "kind": "evse", "evse_id": 1, "limit_a": 32}]}))
        .unwrap(),
        policy: Default::default(),
        updated_at: chrono::Utc::now(),
    };
    let docs = cpms_ports::Documents::<SiteGrid>::new(csms.ports().docs.clone());
    docs.put(&grid, Expected::Absent).await.unwrap();

    handle(Route::Connect, &csms, &fixture("ocpp-connect.json")).await;
    send(&csms, "ocpp-message-boot.json").await;
    send(&csms, "ocpp-message-transaction-started.json").await;
    let stream = world.stream_event().await;
    let publisher =
        EventBridgePublisher::new(aws_sdk_eventbridge::Client::new(&world.sdk), &world.bus);
    assert!(
        cpms_lambda::consumers::relay(&stream, &publisher)
            .await
            .batch_item_failures
            .is_empty()
    );
    let batch = world.drain("smart-charging").await;
    assert!(
        types(&batch).contains(&"session.started.v1".to_string()),
        "{batch:?}"
    );
    let r = cpms_lambda::consumers::smart_charging(&World::sqs_event(&batch), &csms).await;
    assert!(r.batch_item_failures.is_empty());
    let alloc = cpms_ports::Documents::<SiteAllocation>::new(csms.ports().docs.clone())
        .get(&TenantId::default_tenant(), "depot")
        .await
        .unwrap()
        .expect("the site's allocation");
    let a = &alloc.value.allocation;
    assert_eq!(a.connectors.len(), 1, "{a:?}");
    assert_eq!(a.connectors[0].limit_a.to_string(), "32");
    // The same batch again (SQS delivers at least once): the same allocation.
    let again = cpms_lambda::consumers::smart_charging(&World::sqs_event(&batch), &csms).await;
    assert!(again.batch_item_failures.is_empty());
}
