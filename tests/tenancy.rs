//! Tenants, API keys and roles through the real HTTP API: a key of one tenant can neither read nor change
//! anything of another (ids guessed included), every route checks its role, the OpenAPI document lists
//! every route, and malformed bodies on every route with a body get problem responses.

use cpms_tests::{Charger, KEY, Stack, send};
use reqwest::Method;
use serde_json::{Value, json};

fn req(stack: &Stack, key: &str, method: Method, path: &str) -> reqwest::RequestBuilder {
    reqwest::Client::new()
        .request(method, format!("{}{path}", stack.api))
        .bearer_auth(key)
}

async fn call(
    stack: &Stack,
    key: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut r = req(stack, key, method, path);
    if let Some(b) = body {
        r = r.json(&b);
    }
    send(r).await
}

/// (method, path template) of every documented operation.
async fn operations(stack: &Stack) -> Vec<(Method, String, Value)> {
    let (s, doc) = send(reqwest::Client::new().get(format!("{}/v1/openapi.json", stack.api))).await;
    assert_eq!(s, 200, "the document is public");
    let mut ops = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (m, op) in item.as_object().unwrap() {
            ops.push((m.to_uppercase().parse().unwrap(), path.clone(), op.clone()));
        }
    }
    ops
}

async fn new_key(stack: &Stack, admin: &str, role: &str) -> String {
    let (s, b) = call(
        stack,
        admin,
        Method::POST,
        "/v1/api-keys",
        Some(json!({"name": role, "role": role})),
    )
    .await;
    assert_eq!(s, 201, "{b}");
    b["key"].as_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_tenant_sees_and_changes_nothing_of_another() {
    let stack = Stack::start().await;
    let (s, t) = stack
        .post(
            "/v1/tenants",
            json!({"id": "beta", "name": "Beta Charging"}),
        )
        .await;
    assert_eq!(s, 201, "{t}");
    let beta = t["admin_key"]["key"].as_str().unwrap().to_string();
    assert!(beta.starts_with("cpms.beta."));

    // Beta builds its network: a site, a charger on it (online, with a command), a token.
    let site = json!({"id": "b-site", "name": "Beta depot", "address": {"street": "1 Road", "city": "Oslo", "country": "NOR"},
        "coordinates": {"latitude": 59.91, "longitude": 10.75}, "time_zone": "Europe/Oslo", "grid_limit_kw": 400});
    assert_eq!(
        call(&stack, &beta, Method::POST, "/v1/sites", Some(site))
            .await
            .0,
        201
    );
    let (s, b) = call(
        &stack,
        &beta,
        Method::POST,
        "/v1/chargers",
        Some(json!({"id": "BETA-1", "password": cpms_tests::PASSWORD})),
    )
    .await;
    assert_eq!(s, 201, "{b}");
    let topo = json!({"site_id": "b-site", "evses": [{"evse_id": 1, "connectors": [{"connector_id": 1,
        "standard": "IEC_62196_T2_COMBO", "format": "cable", "power_type": "dc", "max_power_kw": 150}]}]});
    let (s, b) = call(
        &stack,
        &beta,
        Method::PATCH,
        "/v1/chargers/BETA-1",
        Some(topo),
    )
    .await;
    assert_eq!((s, &b["site_id"]), (200, &json!("b-site")), "{b}");
    assert_eq!(
        call(
            &stack,
            &beta,
            Method::POST,
            "/v1/tokens",
            Some(json!({"id": "BETA-TAG"}))
        )
        .await
        .0,
        201
    );
    let mut c = Charger::connect(&stack, "BETA-1", "ocpp1.6").await.unwrap();
    c.boot(false).await;
    // Beta's billing: a tariff on its site, a revenue split, a priced session.
    let tariff = json!({"id": "b-tariff", "name": "Beta", "currency": "NOK", "elements": [
        {"price_components": [{"type": "ENERGY", "price": 4.5, "vat": 25, "step_size": 1}]}]});
    assert_eq!(
        call(&stack, &beta, Method::POST, "/v1/tariffs", Some(tariff))
            .await
            .0,
        201
    );
    let assign = json!({"tariff_id": "b-tariff"});
    assert_eq!(
        call(
            &stack,
            &beta,
            Method::PUT,
            "/v1/tariff-assignments/site:b-site",
            Some(assign)
        )
        .await
        .0,
        200
    );
    let split = json!({"shares": [{"partner": "BETA-HOST", "percent": 20}]});
    assert_eq!(
        call(
            &stack,
            &beta,
            Method::PUT,
            "/v1/sites/b-site/revenue-split",
            Some(split)
        )
        .await
        .0,
        200
    );
    let started = c.call("StartTransaction", json!({"connectorId": 1, "idTag": "BETA-TAG", "meterStart": 0, "timestamp": "2026-06-01T08:00:00Z"})).await;
    let tx = started[2]["transactionId"].as_i64().unwrap();
    c.call(
        "StopTransaction",
        json!({"transactionId": tx, "meterStop": 9000, "timestamp": "2026-06-01T09:00:00Z"}),
    )
    .await;
    let sid = format!("BETA-1~{tx}");
    let cdr_id = format!("{sid}~r1");
    for _ in 0..100 {
        if call(
            &stack,
            &beta,
            Method::GET,
            &format!("/v1/cdrs/{cdr_id}"),
            None,
        )
        .await
        .0 == 200
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let (s, cdr) = call(
        &stack,
        &beta,
        Method::GET,
        &format!("/v1/cdrs/{cdr_id}"),
        None,
    )
    .await;
    assert_eq!((s, &cdr["tariff_id"]), (200, &json!("b-tariff")), "{cdr}");
    let (s, cmd) = call(
        &stack,
        &beta,
        Method::POST,
        "/v1/chargers/BETA-1/commands",
        Some(json!({"type": "clear_cache"})),
    )
    .await;
    assert_eq!(s, 202, "{cmd}");
    let cmd_id = cmd["id"].as_str().unwrap().to_string();
    let beta_key_id = {
        let (_, keys) = call(&stack, &beta, Method::GET, "/v1/api-keys", None).await;
        keys["items"][0]["id"].as_str().unwrap().to_string()
    };

    // The default tenant (the bootstrap key) guesses every id of beta's: all "not found".
    let alpha = KEY;
    for (m, path, body) in [
        (Method::GET, "/v1/chargers/BETA-1".to_string(), None),
        (
            Method::PATCH,
            "/v1/chargers/BETA-1".to_string(),
            Some(json!({"enabled": false})),
        ),
        (Method::GET, "/v1/chargers/BETA-1/events".to_string(), None),
        (
            Method::POST,
            "/v1/chargers/BETA-1/commands".to_string(),
            Some(json!({"type": "reset"})),
        ),
        (Method::GET, format!("/v1/commands/{cmd_id}"), None),
        (Method::GET, "/v1/sites/b-site".to_string(), None),
        (
            Method::PATCH,
            "/v1/sites/b-site".to_string(),
            Some(json!({"name": "mine"})),
        ),
        (Method::GET, "/v1/tokens/BETA-TAG".to_string(), None),
        (
            Method::PATCH,
            "/v1/tokens/BETA-TAG".to_string(),
            Some(json!({"status": "blocked"})),
        ),
        (Method::DELETE, format!("/v1/api-keys/{beta_key_id}"), None),
        (Method::GET, "/v1/tariffs/b-tariff".to_string(), None),
        (Method::DELETE, "/v1/tariffs/b-tariff".to_string(), None),
        (
            Method::PUT,
            "/v1/tariffs/b-tariff".to_string(),
            Some(
                json!({"name": "mine", "currency": "EUR", "elements": [{"price_components": [{"type": "FLAT", "price": 0, "step_size": 1}]}]}),
            ),
        ),
        (
            Method::DELETE,
            "/v1/tariff-assignments/site:b-site".to_string(),
            None,
        ),
        (Method::GET, format!("/v1/cdrs/{cdr_id}"), None),
        (
            Method::POST,
            format!("/v1/sessions/{sid}/bill"),
            Some(json!({})),
        ),
        (Method::GET, format!("/v1/sessions/{sid}/cost"), None),
        (Method::GET, "/v1/chargers/BETA-1/price".to_string(), None),
        (
            Method::POST,
            "/v1/price-preview".to_string(),
            Some(json!({"charger_id": "BETA-1", "charging_minutes": 60, "energy_kwh": 10})),
        ),
        (
            Method::POST,
            "/v1/price-preview".to_string(),
            Some(json!({"tariff_id": "b-tariff", "charging_minutes": 60, "energy_kwh": 10})),
        ),
        (
            Method::GET,
            "/v1/sites/b-site/revenue-split".to_string(),
            None,
        ),
        (
            Method::PUT,
            "/v1/sites/b-site/revenue-split".to_string(),
            Some(json!({"shares": []})),
        ),
    ] {
        let (s, b) = call(&stack, alpha, m.clone(), &path, body).await;
        assert_eq!(s, 404, "{m} {path}: {b}");
    }
    for list in [
        "/v1/chargers",
        "/v1/sites",
        "/v1/tokens",
        "/v1/commands",
        "/v1/sessions",
        "/v1/api-keys",
        "/v1/audit",
        "/v1/tariffs",
        "/v1/tariff-assignments",
        "/v1/cdrs",
    ] {
        let (s, b) = call(&stack, alpha, Method::GET, list, None).await;
        assert_eq!(s, 200, "{list}: {b}");
        assert!(
            !b.to_string().contains("BETA") && !b.to_string().contains("b-site"),
            "{list} leaks: {b}"
        );
    }
    // Beta still has everything, unchanged; and beta cannot see the default tenant's records either.
    let (_, ch) = call(&stack, &beta, Method::GET, "/v1/chargers/BETA-1", None).await;
    assert_eq!(ch["enabled"], true);
    let (_, t) = call(&stack, &beta, Method::GET, "/v1/tariffs/b-tariff", None).await;
    assert_eq!(t["name"], "Beta");
    let (_, a) = call(&stack, &beta, Method::GET, "/v1/tariff-assignments", None).await;
    assert_eq!(a["items"][0]["scope"], "site:b-site");
    // A tariff in use cannot be deleted.
    assert_eq!(
        call(&stack, &beta, Method::DELETE, "/v1/tariffs/b-tariff", None)
            .await
            .0,
        409
    );
    stack.register("ALPHA-1").await;
    assert_eq!(
        call(&stack, &beta, Method::GET, "/v1/chargers/ALPHA-1", None)
            .await
            .0,
        404
    );
    // A key naming another tenant than its own is refused.
    let forged = beta.replacen("cpms.beta.", "cpms.default.", 1);
    assert_eq!(
        call(&stack, &forged, Method::GET, "/v1/chargers", None)
            .await
            .0,
        401
    );
    c.close().await;
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_checks_the_key_and_its_role() {
    let stack = Stack::start().await;
    let viewer = new_key(&stack, KEY, "viewer").await;
    let operator = new_key(&stack, KEY, "operator").await;
    let admin = new_key(&stack, KEY, "admin").await;
    let ops = operations(&stack).await;
    assert!(ops.len() >= 27, "{} operations", ops.len());
    let rank = |r: &str| match r {
        "public" => 0,
        "viewer" => 1,
        "operator" => 2,
        "admin" => 3,
        _ => 4,
    };
    for (m, path, op) in &ops {
        let access = op["x-cpms-access"].as_str().unwrap();
        let mut concrete = path.replace("{id}", "x-1");
        if path == "/v1/stream" {
            // Past the key and role checks it is refused: the live stream would stay open for an hour.
            concrete.push_str("?types=none");
        }
        let (s, b) =
            send(reqwest::Client::new().request(m.clone(), format!("{}{concrete}", stack.api)))
                .await;
        if access == "public" {
            // Public reads of a resource that does not exist are a 404 problem, not a 401.
            let ok = s == 200 || (path.contains('{') && s == 404 && b["type"].is_string());
            assert!(ok, "{m} {path}: {s} {b}");
            continue;
        }
        assert_eq!(s, 401, "{m} {path} without a key: {b}");
        assert_eq!(
            call(
                &stack,
                "cpms.default.0011223344556677.00",
                m.clone(),
                &concrete,
                None
            )
            .await
            .0,
            401
        );
        for (key, role) in [
            (&viewer, "viewer"),
            (&operator, "operator"),
            (&admin, "admin"),
        ] {
            let (s, b) = call(&stack, key, m.clone(), &concrete, Some(json!({}))).await;
            if rank(role) < rank(access) {
                assert_eq!(s, 403, "{role} on {m} {path}: {b}");
                assert_eq!(b["type"], "urn:cpms:problem:forbidden");
            } else {
                assert!(s != 401 && s != 403, "{role} on {m} {path}: {s} {b}");
            }
        }
        // The route exists: the bootstrap key never gets "no such endpoint".
        let (_, b) = call(&stack, KEY, m.clone(), &concrete, Some(json!({}))).await;
        assert!(
            !b["detail"]
                .as_str()
                .unwrap_or("")
                .contains("no such endpoint"),
            "{m} {path}"
        );
    }
    // A revoked key stops working at once.
    let (_, keys) = stack.get("/v1/api-keys").await;
    let viewer_id = keys["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["name"] == "viewer")
        .unwrap()["id"]
        .clone();
    let (s, _) = send(stack.req(
        Method::DELETE,
        &format!("/v1/api-keys/{}", viewer_id.as_str().unwrap()),
    ))
    .await;
    assert_eq!(s, 200);
    assert_eq!(
        call(&stack, &viewer, Method::GET, "/v1/chargers", None)
            .await
            .0,
        401
    );
    // The key itself is never stored or listed.
    let (_, listed) = stack.get("/v1/api-keys").await;
    assert!(
        !listed
            .to_string()
            .contains(operator.rsplit('.').next().unwrap())
    );
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_body_is_checked_malformed_unknown_and_oversized() {
    let stack = Stack::start().await;
    stack.register("MAL-1").await;
    for (m, path, op) in operations(&stack).await {
        if op.get("requestBody").is_none() {
            continue;
        }
        let concrete = path.replace("{id}", "MAL-1");
        let raw = |body: Vec<u8>| {
            stack
                .req(m.clone(), &concrete)
                .header("content-type", "application/json")
                .body(body)
        };
        let (s, b) = send(raw(b"{,\"a\": ".to_vec())).await;
        assert_eq!(s, 400, "{m} {path} truncated: {b}");
        assert!(b["detail"].is_string(), "{b}");
        let (s, b) = send(raw(b"{\"zzz_unknown\": 1}".to_vec())).await;
        assert!(s == 400 || s == 422, "{m} {path} unknown field: {s} {b}");
        let (s, b) = send(raw(vec![b' '; 70 * 1024])).await;
        assert_eq!(s, 413, "{m} {path} oversized: {b}");
    }
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sites_are_validated_and_listed() {
    let stack = Stack::start().await;
    let good = json!({"id": "s1", "name": "Depot", "address": {"street": "1 Road", "city": "Berlin", "country": "DEU"},
        "coordinates": {"latitude": 52.5, "longitude": 13.4}, "time_zone": "Europe/Berlin"});
    assert_eq!(stack.post("/v1/sites", good.clone()).await.0, 201);
    assert_eq!(stack.post("/v1/sites", good.clone()).await.0, 409);
    let mut bad = good.clone();
    bad["id"] = json!("s2");
    bad["time_zone"] = json!("Moon/Base");
    let (s, b) = stack.post("/v1/sites", bad).await;
    assert_eq!(s, 400, "{b}");
    assert!(b["detail"].as_str().unwrap().contains("time_zone"));
    stack.register("SITE-CP").await;
    let (s, b) = send(
        stack
            .req(Method::PATCH, "/v1/chargers/SITE-CP")
            .json(&json!({"site_id": "nope"})),
    )
    .await;
    assert_eq!(s, 422, "{b}");
    let (s, _) = send(
        stack
            .req(Method::PATCH, "/v1/chargers/SITE-CP")
            .json(&json!({"site_id": "s1"})),
    )
    .await;
    assert_eq!(s, 200);
    let (_, listed) = stack.get("/v1/chargers?site_id=s1").await;
    assert_eq!(listed["items"].as_array().unwrap().len(), 1);
    let (_, none) = stack.get("/v1/chargers?site_id=s1&connected=true").await;
    assert_eq!(none["items"].as_array().unwrap().len(), 0);
    stack.stop().await;
}
