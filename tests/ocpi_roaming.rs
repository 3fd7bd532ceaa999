//! OCPI roaming end to end against a real eMSP this project did not write (extrawest-ocpi, started by
//! the test: tests/python/ocpi_emsp.py) and the local stack on real sockets: the credentials handshake
//! both ways, unregistering, and what a partner that sends junk or the wrong token is answered.

use cpms_tests::ocpi::{Emsp, token_header};
use cpms_tests::{Stack, send};
use reqwest::Method;
use serde_json::{Value, json};

async fn configured_stack() -> Stack {
    configure(Stack::start().await).await
}

async fn configure(stack: Stack) -> Stack {
    let (s, b) = send(
        stack
            .req(Method::PUT, "/v1/ocpi/settings")
            .json(&json!({"country_code": "DE", "party_id": "CPO", "name": "Test CPO"})),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(
        b["versions_url"],
        format!("{}/ocpi/default/versions", stack.api)
    );
    stack
}

/// Creates partner NL-EXA; its registration token and our versions URL.
async fn invite(stack: &Stack) -> (String, String) {
    let (s, b) = stack
        .post(
            "/v1/ocpi/partners",
            json!({"name": "Example eMSP", "country_code": "NL", "party_id": "EXA"}),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    assert_eq!(b["partner"]["state"], "invited");
    (
        b["registration_token"].as_str().unwrap().to_string(),
        b["versions_url"].as_str().unwrap().to_string(),
    )
}

/// An eMSP registered with the stack as partner NL-EXA (the eMSP-initiated handshake).
async fn registered_emsp(stack: &Stack) -> Emsp {
    let (token_a, versions_url) = invite(stack).await;
    let emsp = Emsp::start("unused").await;
    let (s, b) = emsp
        .control(
            "register",
            json!({"versions_url": versions_url, "token_a": token_a}),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    emsp
}

async fn ocpi(method: Method, url: &str, token: Option<&str>, body: Option<Value>) -> (u16, Value) {
    let mut r = reqwest::Client::new()
        .request(method, url)
        .header("x-request-id", "rid-1")
        .header("x-correlation-id", "cid-1");
    if let Some(t) = token {
        r = r.header("authorization", token_header(t));
    }
    if let Some(b) = body {
        r = r.json(&b);
    }
    send(r).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_emsp_registers_with_its_token_a_and_the_cpo_unregisters_it() {
    let stack = configured_stack().await;
    let (token_a, versions_url) = invite(&stack).await;
    let emsp = Emsp::start("unused-token-a").await;

    // WHEN the eMSP registers with token A
    let (s, b) = emsp
        .control(
            "register",
            json!({"versions_url": versions_url, "token_a": token_a}),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["cpo_roles"][0]["party_id"], "CPO");

    // THEN the partner is registered with the eMSP's endpoints
    let (_, p) = stack.get("/v1/ocpi/partners/NL-EXA").await;
    assert_eq!(p["state"], "registered", "{p}");
    assert_eq!(p["version"], "2.2.1");
    let receivers: Vec<&str> = p["endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["role"] == "RECEIVER")
        .map(|e| e["module"].as_str().unwrap())
        .collect();
    for m in ["locations", "sessions", "cdrs", "tariffs"] {
        assert!(receivers.contains(&m), "{m} in {p}");
    }
    // AND token A is spent, while the token we gave the eMSP opens our credentials
    let (s, _) = ocpi(Method::GET, &versions_url, Some(&token_a), None).await;
    assert_eq!(s, 401);
    let state = emsp.state().await;
    let token_c = state["cpo"]["token"].as_str().unwrap().to_string();
    let creds_url = versions_url.replace("/versions", "/2.2.1/credentials");
    let (s, b) = ocpi(Method::GET, &creds_url, Some(&token_c), None).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["status_code"], 1000);
    assert_eq!(b["data"]["token"], token_c.as_str());
    // AND a second POST is refused: registered partners update with PUT
    let again = json!({"token": "x", "url": emsp.versions_url(), "roles": [
        {"role": "EMSP", "party_id": "EXA", "country_code": "NL", "business_details": {"name": "E"}}]});
    let (s, _) = ocpi(Method::POST, &creds_url, Some(&token_c), Some(again)).await;
    assert_eq!(s, 405);

    // WHEN the CPO unregisters it
    let (s, b) = send(stack.req(Method::DELETE, "/v1/ocpi/partners/NL-EXA/registration")).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["partner"]["state"], "unregistered");
    assert!(b.get("partner_error").is_none(), "{b}");
    // THEN the eMSP forgot us, and its token no longer works here
    assert!(emsp.state().await["cpo"].is_null());
    let (s, _) = ocpi(Method::GET, &creds_url, Some(&token_c), None).await;
    assert_eq!(s, 401);
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cpo_registers_with_an_emsp_given_its_versions_url_and_token() {
    let stack = configured_stack().await;
    invite(&stack).await;
    let emsp = Emsp::start("emsp-issued-token-a").await;

    // A wrong token is the partner's refusal, told as such
    let (s, b) = stack
        .post(
            "/v1/ocpi/partners/NL-EXA/register",
            json!({"versions_url": emsp.versions_url(), "token": "wrong"}),
        )
        .await;
    assert_eq!(s, 422, "{b}");
    assert_eq!(
        b["type"].as_str().map(|t| t.ends_with("partner-refused")),
        Some(true),
        "{b}"
    );
    // A partner that is not there is a bad gateway
    let gone = format!("http://127.0.0.1:{}/ocpi/versions", cpms_tests::free_port());
    let (s, b) = stack
        .post(
            "/v1/ocpi/partners/NL-EXA/register",
            json!({"versions_url": gone, "token": "t"}),
        )
        .await;
    assert_eq!(s, 502, "{b}");

    // WHEN the operator registers with the eMSP's versions URL and token A
    let (s, b) = stack
        .post(
            "/v1/ocpi/partners/NL-EXA/register",
            json!({"versions_url": emsp.versions_url(), "token": "emsp-issued-token-a"}),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["state"], "registered");
    // THEN the eMSP holds our credentials, and the token it calls us with works
    let state = emsp.state().await;
    assert!(state["registered"].as_bool().unwrap(), "{state}");
    let ours = state["cpo"]["token"].as_str().unwrap().to_string();
    let (s, b) = ocpi(
        Method::GET,
        &format!("{}/ocpi/default/2.2.1", stack.api),
        Some(&ours),
        None,
    )
    .await;
    assert_eq!(s, 200, "{b}");
    assert!(b["data"]["endpoints"].as_array().unwrap().len() >= 2);
    // AND registering again is refused
    let (s, _) = stack
        .post(
            "/v1/ocpi/partners/NL-EXA/register",
            json!({"versions_url": emsp.versions_url(), "token": "emsp-issued-token-a"}),
        )
        .await;
    assert_eq!(s, 409);
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_ocpi_requests_get_the_specifications_answers() {
    let stack = configured_stack().await;
    let (token_a, versions_url) = invite(&stack).await;
    let creds_url = versions_url.replace("/versions", "/2.2.1/credentials");

    // No token, a token of nobody, a malformed header: 401 with an envelope, ids echoed
    let r = reqwest::Client::new()
        .get(&versions_url)
        .header("x-request-id", "rid-9")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(r.headers()["x-request-id"], "rid-9");
    assert!(r.headers().contains_key("x-correlation-id"));
    let b: Value = r.json().await.unwrap();
    assert_eq!(b["status_code"], 2000, "{b}");
    assert!(b["timestamp"].is_string());
    let (s, _) = ocpi(Method::GET, &versions_url, Some("nobody"), None).await;
    assert_eq!(s, 401);
    let r = reqwest::Client::new()
        .get(&versions_url)
        .header("authorization", "Bearer x")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    // Another tenant's URL does not know the token
    let (s, _) = ocpi(
        Method::GET,
        &versions_url.replace("/default/", "/other/"),
        Some(&token_a),
        None,
    )
    .await;
    assert_eq!(s, 401);
    let (s, _) = ocpi(
        Method::GET,
        &versions_url.replace("/default/", "/bad%20tenant/"),
        Some(&token_a),
        None,
    )
    .await;
    assert_eq!(s, 404);

    // Junk credentials: 2001
    for body in [
        json!("not an object"),
        json!({"token": "t"}),
        json!({"token": "t", "url": "http://x/versions", "roles": []}),
        json!({"token": "t", "url": "http://x/versions", "roles": [
            {"role": "EMSP", "party_id": "TOOLONG", "country_code": "NL", "business_details": {"name": "E"}}]}),
    ] {
        let (s, b) = ocpi(Method::POST, &creds_url, Some(&token_a), Some(body.clone())).await;
        assert_eq!(
            (s, b["status_code"].as_u64()),
            (400, Some(2001)),
            "{body}: {b}"
        );
    }
    let r = reqwest::Client::new()
        .post(&creds_url)
        .header("authorization", token_header(&token_a))
        .header("content-type", "application/json")
        .body("{\"token\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    // Credentials of another party than the partner: refused, the partner stays invited
    let (s, b) = ocpi(
        Method::POST,
        &creds_url,
        Some(&token_a),
        Some(json!({"token": "t", "url": "http://127.0.0.1:1/versions", "roles": [
            {"role": "EMSP", "party_id": "XYZ", "country_code": "DE", "business_details": {"name": "E"}}]})),
    )
    .await;
    assert!(s >= 400, "{b}");
    // A partner whose versions cannot be read: 3001, still invited
    let (s, b) = ocpi(
        Method::POST,
        &creds_url,
        Some(&token_a),
        Some(json!({"token": "t", "url": format!("http://127.0.0.1:{}/versions", cpms_tests::free_port()), "roles": [
            {"role": "EMSP", "party_id": "EXA", "country_code": "NL", "business_details": {"name": "E"}}]})),
    )
    .await;
    assert_eq!(b["status_code"], 3001, "{s} {b}");
    let (_, p) = stack.get("/v1/ocpi/partners/NL-EXA").await;
    assert_eq!(p["state"], "invited");
    // PUT before registering, a functional path that does not exist, an oversized body
    let (s, _) = ocpi(Method::PUT, &creds_url, Some(&token_a), Some(json!({}))).await;
    assert!(s == 400 || s == 405, "{s}");
    let (s, b) = ocpi(
        Method::GET,
        &versions_url.replace("/versions", "/2.2.1/nothing"),
        Some(&token_a),
        None,
    )
    .await;
    assert_eq!(s, 404, "{b}");
    let big = "x".repeat(400 * 1024);
    let (s, _) = ocpi(
        Method::POST,
        &creds_url,
        Some(&token_a),
        Some(json!({"token": big})),
    )
    .await;
    assert_eq!(s, 413);

    // The operator API refuses bad partners and settings
    for body in [
        json!({"name": "x", "country_code": "NLD", "party_id": "EXA"}),
        json!({"name": "", "country_code": "NL", "party_id": "EX2"}),
        json!({"name": "x", "country_code": "NL", "party_id": "EXA", "extra": 1}),
    ] {
        let (s, b) = stack.post("/v1/ocpi/partners", body.clone()).await;
        assert!(s == 400 || s == 422, "{body}: {s} {b}");
    }
    let (s, _) = stack
        .post(
            "/v1/ocpi/partners",
            json!({"name": "Again", "country_code": "nl", "party_id": "exa"}),
        )
        .await;
    assert_eq!(s, 409);
    let (s, _) = stack.get("/v1/ocpi/partners/NL-NOPE").await;
    assert_eq!(s, 404);
    let (s, b) = stack
        .post(
            "/v1/ocpi/partners/NL-EXA/register",
            json!({"versions_url": "ftp://x", "token": "t"}),
        )
        .await;
    assert_eq!(s, 400, "{b}");
    stack.stop().await;
}

/// Polls the eMSP's state until `check` holds (20 s at most).
async fn emsp_until(emsp: &Emsp, what: &str, check: impl Fn(&Value) -> bool) -> Value {
    for _ in 0..200 {
        let s = emsp.state().await;
        if check(&s) {
            return s;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("the eMSP never got {what}: {}", emsp.state().await);
}

fn objects<'a>(state: &'a Value, module: &str) -> Vec<&'a Value> {
    state["objects"][module]
        .as_object()
        .map(|m| m.values().collect())
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn locations_sessions_and_cdrs_reach_the_emsp_and_a_partner_that_was_down_catches_up() {
    roam(configure(Stack::start().await).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn locations_sessions_and_cdrs_reach_the_emsp_on_aws() {
    let m = cpms_tests::moto::moto();
    let table = cpms_tests::moto::unique("ocpi");
    let stack = Stack::start_aws_tuned(&m.endpoint, &table, Default::default()).await;
    roam(configure(stack).await).await;
}

/// A site in Amsterdam with `charger` of one EVSE (one 22 kW Type 2 socket) placed there.
async fn placed_charger(stack: &Stack, site: &str, charger: &str) {
    let body = json!({"id": site, "name": "Amsterdam Depot", "address": {"street": "Kade 1", "city": "Amsterdam",
        "postal_code": "1011AA", "country": "NLD"}, "coordinates": {"latitude": 52.37, "longitude": 4.89},
        "time_zone": "Europe/Amsterdam"});
    assert_eq!(stack.post("/v1/sites", body).await.0, 201);
    stack.register(charger).await;
    let topo = json!({"site_id": site, "evses": [{"evse_id": 1, "connectors": [{"connector_id": 1,
        "standard": "IEC_62196_T2", "format": "socket", "power_type": "ac3_phase", "max_power_kw": 22}]}]});
    let (s, b) = send(
        stack
            .req(Method::PATCH, &format!("/v1/chargers/{charger}"))
            .json(&topo),
    )
    .await;
    assert_eq!(s, 200, "{b}");
}

async fn roam(stack: Stack) {
    let emsp = registered_emsp(&stack).await;

    // A site with a charger of one EVSE, and a token the eMSP issued
    placed_charger(&stack, "ams-1", "RO-1").await;
    let (s, b) = stack
        .post(
            "/v1/tokens",
            json!({"id": "EXA-TOKEN-1", "status": "accepted", "partner": "NL-EXA"}),
        )
        .await;
    assert_eq!(s, 201, "{b}");

    // THEN the location arrives by itself (the charger was placed), with its EVSE
    let state = emsp_until(&emsp, "the location", |s| {
        objects(s, "locations")
            .iter()
            .any(|l| l["id"] == "ams-1" && l["evses"].as_array().is_some_and(|e| e.len() == 1))
    })
    .await;
    let loc = objects(&state, "locations")[0].clone();
    // (the peer keeps CiStrings lower-cased)
    assert_eq!(
        loc["evses"][0]["uid"].as_str().map(str::to_lowercase),
        Some("ro-1-1".into())
    );
    assert_eq!(
        loc["evses"][0]["connectors"][0]["max_electric_power"],
        22000
    );
    assert_eq!(loc["coordinates"]["latitude"], "52.370000");

    // WHEN the charger boots and reports Available THEN the EVSE status is patched
    let mut cp = cpms_tests::Charger::connect(&stack, "RO-1", "ocpp1.6")
        .await
        .unwrap();
    cp.boot(false).await;
    let before = state["pushes"]["locations"].as_u64().unwrap_or(0);
    cp.call(
        "StatusNotification",
        json!({"connectorId": 1, "status": "Available", "errorCode": "NoError"}),
    )
    .await;
    emsp_until(&emsp, "the EVSE status", |s| {
        s["pushes"]["locations"].as_u64().unwrap_or(0) > before
    })
    .await;

    // WHEN a session runs with the eMSP's token THEN the session and then its CDR arrive
    let r = cp
        .call(
            "StartTransaction",
            json!({"connectorId": 1, "idTag": "EXA-TOKEN-1", "meterStart": 1000,
                "timestamp": "2026-12-01T08:00:00Z"}),
        )
        .await;
    assert_eq!(r[2]["idTagInfo"]["status"], "Accepted", "{r}");
    let tx = r[2]["transactionId"].as_i64().unwrap();
    emsp_until(&emsp, "the active session", |s| {
        objects(s, "sessions")
            .iter()
            .any(|x| x["status"] == "ACTIVE")
    })
    .await;
    cp.call(
        "StopTransaction",
        json!({"transactionId": tx, "meterStop": 12000, "timestamp": "2026-12-01T09:00:00Z"}),
    )
    .await;
    let state = emsp_until(&emsp, "the CDR", |s| !objects(s, "cdrs").is_empty()).await;
    let sessions = objects(&state, "sessions");
    assert_eq!(sessions.len(), 1);
    assert_eq!(sessions[0]["status"], "COMPLETED", "{state}");
    assert_eq!(sessions[0]["kwh"].as_f64(), Some(11.0));
    assert_eq!(
        sessions[0]["cdr_token"]["party_id"]
            .as_str()
            .map(str::to_uppercase),
        Some("EXA".into())
    );
    let cdr = objects(&state, "cdrs")[0];
    assert_eq!(cdr["total_energy"].as_f64(), Some(11.0));
    assert_eq!(cdr["cdr_location"]["id"], "ams-1");
    assert_eq!(state["cdr_ids"].as_array().unwrap().len(), 1);

    // AND the eMSP reads the same through our Sender endpoints, paginated
    let token_c = state["cpo"]["token"].as_str().unwrap().to_string();
    let base = format!("{}/ocpi/default/2.2.1", stack.api);
    let r = reqwest::Client::new()
        .get(format!("{base}/locations?limit=1"))
        .header("authorization", token_header(&token_c))
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["x-total-count"], "1");
    assert_eq!(r.headers()["x-limit"], "1");
    assert!(!r.headers().contains_key("link"));
    let b: Value = r.json().await.unwrap();
    assert_eq!(b["data"][0]["id"], "ams-1");
    assert_eq!(b["data"][0]["evses"][0]["status"], "AVAILABLE");
    let (s, b) = ocpi(
        Method::GET,
        &format!("{base}/sessions"),
        Some(&token_c),
        None,
    )
    .await;
    assert_eq!(
        (s, b["data"].as_array().map(Vec::len)),
        (200, Some(1)),
        "{b}"
    );
    let (_, b) = ocpi(
        Method::GET,
        &format!("{base}/cdrs?date_from=2020-01-01T00:00:00Z"),
        Some(&token_c),
        None,
    )
    .await;
    assert_eq!(b["data"].as_array().map(Vec::len), Some(1), "{b}");
    let (_, b) = ocpi(
        Method::GET,
        &format!("{base}/cdrs?date_to=2020-01-01T00:00:00Z"),
        Some(&token_c),
        None,
    )
    .await;
    assert_eq!(b["data"].as_array().map(Vec::len), Some(0), "{b}");
    let (s, b) = ocpi(
        Method::GET,
        &format!("{base}/locations/ams-1/RO-1-1/1"),
        Some(&token_c),
        None,
    )
    .await;
    assert_eq!(
        (s, b["data"]["standard"].as_str()),
        (200, Some("IEC_62196_T2")),
        "{b}"
    );
    let (s, b) = ocpi(
        Method::GET,
        &format!("{base}/locations/nowhere"),
        Some(&token_c),
        None,
    )
    .await;
    assert_eq!((s, b["status_code"].as_u64()), (404, Some(2003)), "{b}");
    let (s, b) = ocpi(
        Method::GET,
        &format!("{base}/locations?offset=x"),
        Some(&token_c),
        None,
    )
    .await;
    assert_eq!((s, b["status_code"].as_u64()), (400, Some(2001)), "{b}");

    // WHEN the eMSP is down while the EVSE changes THEN it is retried until it takes it
    emsp.control("fail", json!({"status": 503})).await;
    let before = emsp.state().await["pushes"]["locations"]
        .as_u64()
        .unwrap_or(0);
    cp.call(
        "StatusNotification",
        json!({"connectorId": 1, "status": "Faulted", "errorCode": "GroundFailure"}),
    )
    .await;
    let failed = stack
        .wait_for("/v1/ocpi/partners/NL-EXA/queue", |v| {
            v["items"]
                .as_array()
                .is_some_and(|a| a.iter().any(|j| j["attempts"].as_u64() >= Some(1)))
        })
        .await;
    assert_eq!(failed["items"][0]["action"], "patch_evse", "{failed}");
    emsp.control("fail", json!({"status": 0})).await;
    // (the first retry is due 2 to 4 s after the failure)
    let mut empty = false;
    for _ in 0..300 {
        let (_, q) = stack.get("/v1/ocpi/partners/NL-EXA/queue").await;
        if q["items"].as_array().is_some_and(Vec::is_empty) {
            empty = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(empty, "the retry never went through");
    emsp_until(&emsp, "the retried status", |s| {
        s["pushes"]["locations"].as_u64().unwrap_or(0) > before
    })
    .await;
    let (_, log) = stack
        .get("/v1/ocpi/partners/NL-EXA/deliveries?module=locations&object=ams-1")
        .await;
    let log = log["items"].as_array().unwrap().clone();
    assert!(
        log.iter()
            .any(|a| a["ok"] == false && a["http_status"] == 503),
        "{log:?}"
    );
    assert!(
        log.iter()
            .any(|a| a["ok"] == true && a["method"] == "PATCH"),
        "{log:?}"
    );

    // AND a resync sends the location again
    let before = emsp.state().await["pushes"]["locations"]
        .as_u64()
        .unwrap_or(0);
    let (s, b) = stack
        .post("/v1/ocpi/partners/NL-EXA/resync", json!({}))
        .await;
    assert_eq!((s, b["locations"].as_u64()), (200, Some(1)), "{b}");
    emsp_until(&emsp, "the resynced location", |s| {
        s["pushes"]["locations"].as_u64().unwrap_or(0) > before
    })
    .await;
    cp.close().await;
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_the_emsp_pushes_authorizes_at_a_charger_until_it_is_blocked() {
    let stack = configured_stack().await;
    let emsp = registered_emsp(&stack).await;
    stack.register("TK-1").await;
    let mut cp = cpms_tests::Charger::connect(&stack, "TK-1", "ocpp1.6")
        .await
        .unwrap();
    cp.boot(false).await;
    let r = cp.call("Authorize", json!({"idTag": "EXA0001"})).await;
    assert_eq!(r[2]["idTagInfo"]["status"], "Invalid");

    // WHEN the eMSP pushes its token
    let token = json!({"country_code": "NL", "party_id": "EXA", "uid": "EXA0001", "type": "RFID",
        "contract_id": "NL-EXA-C00001-X", "issuer": "Example eMSP", "valid": true, "whitelist": "ALLOWED",
        "last_updated": "2026-12-01T10:00:00Z"});
    let (s, b) = emsp.control("tokens", json!({"token": token})).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["answer"]["status_code"], 1000, "{b}");
    // THEN it authorizes at our charger, and is the partner's
    let r = cp.call("Authorize", json!({"idTag": "EXA0001"})).await;
    assert_eq!(r[2]["idTagInfo"]["status"], "Accepted", "{r}");
    let (_, t) = stack.get("/v1/tokens/EXA0001").await;
    assert_eq!(t["partner"], "NL-EXA", "{t}");

    // AND the eMSP reads it back, and blocks it with a PATCH
    let token_c = emsp.state().await["cpo"]["token"]
        .as_str()
        .unwrap()
        .to_string();
    let url = format!("{}/ocpi/default/2.2.1/tokens/NL/EXA/EXA0001", stack.api);
    let (s, b) = ocpi(Method::GET, &url, Some(&token_c), None).await;
    assert_eq!(
        (s, b["data"]["contract_id"].as_str()),
        (200, Some("NL-EXA-C00001-X")),
        "{b}"
    );
    let (s, b) = ocpi(
        Method::PATCH,
        &url,
        Some(&token_c),
        Some(json!({"valid": false, "last_updated": "2026-12-01T11:00:00Z"})),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    let r = cp.call("Authorize", json!({"idTag": "EXA0001"})).await;
    assert_eq!(r[2]["idTagInfo"]["status"], "Blocked", "{r}");

    // A PATCH without last_updated, another party's URL, a token held by the operator, junk: refused
    let (s, b) = ocpi(
        Method::PATCH,
        &url,
        Some(&token_c),
        Some(json!({"valid": true})),
    )
    .await;
    assert_eq!((s, b["status_code"].as_u64()), (400, Some(2001)), "{b}");
    let other = url.replace("/NL/EXA/", "/DE/XYZ/");
    let (s, _) = ocpi(Method::PUT, &other, Some(&token_c), Some(token.clone())).await;
    assert_eq!(s, 403);
    stack.token("OPERATOR-1").await;
    let mut theirs = token.clone();
    theirs["uid"] = json!("OPERATOR-1");
    let (s, b) = ocpi(
        Method::PUT,
        &url.replace("EXA0001", "OPERATOR-1"),
        Some(&token_c),
        Some(theirs),
    )
    .await;
    assert_eq!(s, 409, "{b}");
    let (s, b) = ocpi(Method::PUT, &url, Some(&token_c), Some(json!({"uid": 1}))).await;
    assert_eq!((s, b["status_code"].as_u64()), (400, Some(2001)), "{b}");
    let (s, b) = ocpi(
        Method::GET,
        &url.replace("EXA0001", "NOPE"),
        Some(&token_c),
        None,
    )
    .await;
    assert_eq!((s, b["status_code"].as_u64()), (404, Some(2004)), "{b}");
    cp.close().await;
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_was_queued_for_a_partner_that_was_down_is_sent_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let stack = configure(Stack::start_in(dir.path()).await).await;
    let emsp = registered_emsp(&stack).await;
    // WHEN the eMSP is down while a site is created
    emsp.control("fail", json!({"status": 502})).await;
    let site = json!({"id": "utr-1", "name": "Utrecht", "address": {"street": "Plein 1", "city": "Utrecht",
        "country": "NLD"}, "coordinates": {"latitude": 52.09, "longitude": 5.12}, "time_zone": "Europe/Amsterdam"});
    assert_eq!(stack.post("/v1/sites", site).await.0, 201);
    stack
        .wait_for("/v1/ocpi/partners/NL-EXA/queue", |v| {
            v["items"]
                .as_array()
                .is_some_and(|a| a.iter().any(|j| j["attempts"].as_u64() >= Some(1)))
        })
        .await;
    // AND the CPMS restarts, and then the eMSP comes back
    stack.stop().await;
    let stack = Stack::start_in(dir.path()).await;
    emsp.control("fail", json!({"status": 0})).await;
    // THEN the location arrives by itself, once
    emsp_until(&emsp, "the location after the restart", |s| {
        objects(s, "locations").iter().any(|l| l["id"] == "utr-1")
    })
    .await;
    let (_, q) = stack.get("/v1/ocpi/partners/NL-EXA/queue").await;
    assert_eq!(q["items"].as_array().map(Vec::len), Some(0), "{q}");
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_emsp_starts_and_stops_a_session_and_gets_each_result_and_the_cdr() {
    let stack = configured_stack().await;
    let emsp = registered_emsp(&stack).await;
    let site = json!({"id": "rot-1", "name": "Rotterdam", "address": {"street": "Haven 2", "city": "Rotterdam",
        "country": "NLD"}, "coordinates": {"latitude": 51.92, "longitude": 4.48}, "time_zone": "Europe/Amsterdam"});
    assert_eq!(stack.post("/v1/sites", site).await.0, 201);
    stack.register("RC-1").await;
    let topo = json!({"site_id": "rot-1", "evses": [{"evse_id": 1, "connectors": [{"connector_id": 1,
        "standard": "IEC_62196_T2", "format": "socket", "power_type": "ac3_phase", "max_power_kw": 11}]}]});
    assert_eq!(
        send(stack.req(Method::PATCH, "/v1/chargers/RC-1").json(&topo))
            .await
            .0,
        200
    );
    let mut cp = cpms_tests::Charger::connect(&stack, "RC-1", "ocpp1.6")
        .await
        .unwrap();
    cp.boot(false).await;
    emsp_until(&emsp, "the location", |s| {
        objects(s, "locations").iter().any(|l| l["id"] == "rot-1")
    })
    .await;

    // WHEN the eMSP sends START_SESSION for its token at the EVSE
    let token = json!({"country_code": "NL", "party_id": "EXA", "uid": "EXA-APP-7", "type": "APP_USER",
        "contract_id": "NL-EXA-C00007-X", "issuer": "Example eMSP", "valid": true, "whitelist": "ALLOWED",
        "last_updated": "2026-12-01T10:00:00Z"});
    let (s, b) = emsp
        .control(
            "commands/START_SESSION",
            json!({"token": token, "location_id": "rot-1", "evse_uid": "RC-1-1"}),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["answer"]["data"]["result"], "ACCEPTED", "{b}");
    let start_uid = b["uid"].as_str().unwrap().to_string();
    // THEN the charger is asked to start, and starts
    let call = cp.recv().await.unwrap();
    assert_eq!(call[2], "RemoteStartTransaction", "{call}");
    assert_eq!(call[3]["idTag"], "EXA-APP-7");
    cp.send(tokio_tungstenite::tungstenite::Message::text(
        json!([3, call[1], {"status": "Accepted"}]).to_string(),
    ))
    .await;
    let r = cp
        .call(
            "StartTransaction",
            json!({"connectorId": 1, "idTag": "EXA-APP-7", "meterStart": 0,
                "timestamp": "2026-12-01T12:00:00Z"}),
        )
        .await;
    assert_eq!(r[2]["idTagInfo"]["status"], "Accepted", "{r}");
    let tx = r[2]["transactionId"].as_i64().unwrap();
    // AND the result reaches the response_url, and the session the eMSP
    let state = emsp_until(&emsp, "the START_SESSION result and the session", |s| {
        s["command_results"][&start_uid]["result"] == "ACCEPTED"
            && objects(s, "sessions")
                .iter()
                .any(|x| x["status"] == "ACTIVE")
    })
    .await;
    let session_id = objects(&state, "sessions")[0]["id"]
        .as_str()
        .unwrap()
        .to_string();

    // WHEN it sends STOP_SESSION THEN the charger is asked to stop, and the session and CDR follow
    let (s, b) = emsp
        .control(
            "commands/STOP_SESSION",
            json!({"session_id": format!("RC-1~{tx}")}),
        )
        .await;
    assert_eq!(
        (s, b["answer"]["data"]["result"].as_str()),
        (200, Some("ACCEPTED")),
        "{b} {session_id}"
    );
    let stop_uid = b["uid"].as_str().unwrap().to_string();
    let call = cp.recv().await.unwrap();
    assert_eq!(call[2], "RemoteStopTransaction", "{call}");
    cp.send(tokio_tungstenite::tungstenite::Message::text(
        json!([3, call[1], {"status": "Accepted"}]).to_string(),
    ))
    .await;
    cp.call(
        "StopTransaction",
        json!({"transactionId": tx, "meterStop": 7400, "timestamp": "2026-12-01T13:00:00Z", "reason": "Remote"}),
    )
    .await;
    let state = emsp_until(
        &emsp,
        "the STOP_SESSION result, the ended session and the CDR",
        |s| {
            s["command_results"][&stop_uid]["result"] == "ACCEPTED"
                && !objects(s, "cdrs").is_empty()
        },
    )
    .await;
    assert_eq!(objects(&state, "sessions")[0]["status"], "COMPLETED");
    assert_eq!(
        objects(&state, "cdrs")[0]["total_energy"].as_f64(),
        Some(7.4)
    );

    // A stop for a session that is not the eMSP's, an unknown location, a charger that does not answer
    let (_, b) = emsp
        .control(
            "commands/STOP_SESSION",
            json!({"session_id": "RC-1~999999"}),
        )
        .await;
    assert_eq!(b["answer"]["data"]["result"], "UNKNOWN_SESSION", "{b}");
    let (_, b) = emsp
        .control(
            "commands/START_SESSION",
            json!({"token": token, "location_id": "nowhere"}),
        )
        .await;
    assert_eq!(b["answer"]["status_code"], 2003, "{b}");
    let (_, b) = emsp
        .control(
            "commands/UNLOCK_CONNECTOR",
            json!({"location_id": "rot-1", "evse_uid": "RC-1-1", "connector_id": "1"}),
        )
        .await;
    assert_eq!(b["answer"]["data"]["result"], "ACCEPTED", "{b}");
    let call = cp.recv().await.unwrap();
    assert_eq!(call[2], "UnlockConnector", "{call}");
    cp.send(tokio_tungstenite::tungstenite::Message::text(
        json!([3, call[1], {"status": "Unlocked"}]).to_string(),
    ))
    .await;
    let unlock_uid = b["uid"].as_str().unwrap().to_string();
    emsp_until(&emsp, "the UNLOCK_CONNECTOR result", |s| {
        s["command_results"][&unlock_uid]["result"] == "ACCEPTED"
    })
    .await;
    cp.close().await;
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partner_that_refuses_pushes_opens_an_incident_and_a_resync_sends_them_again() {
    let stack = configured_stack().await;
    let emsp = registered_emsp(&stack).await;
    // WHEN the eMSP refuses what is pushed to it as a bad request
    emsp.control("fail", json!({"status": 400})).await;
    let site = json!({"id": "ein-1", "name": "Eindhoven", "address": {"street": "Markt 3", "city": "Eindhoven",
        "country": "NLD"}, "coordinates": {"latitude": 51.44, "longitude": 5.47}, "time_zone": "Europe/Amsterdam"});
    assert_eq!(stack.post("/v1/sites", site).await.0, 201);
    // THEN the location is set aside as dead, and an incident on the partner opens
    let q = stack
        .wait_for("/v1/ocpi/partners/NL-EXA/queue", |v| {
            v["items"]
                .as_array()
                .is_some_and(|a| a.iter().any(|j| j["dead"] == true))
        })
        .await;
    assert_eq!(q["items"][0]["object_id"], "ein-1", "{q}");
    let incidents = stack
        .wait_for("/v1/incidents", |v| {
            v["items"]
                .as_array()
                .is_some_and(|a| a.iter().any(|i| i["rule"] == "partner_delivery"))
        })
        .await;
    let i = incidents["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["rule"] == "partner_delivery")
        .unwrap()
        .clone();
    assert!(i.to_string().contains("NL-EXA"), "{i}");
    // AND once it takes pushes again, a resync sends the location
    emsp.control("fail", json!({"status": 0})).await;
    let (s, _) = stack
        .post("/v1/ocpi/partners/NL-EXA/resync", json!({}))
        .await;
    assert_eq!(s, 200);
    emsp_until(&emsp, "the resynced location", |s| {
        objects(s, "locations").iter().any(|l| l["id"] == "ein-1")
    })
    .await;
    stack.stop().await;
}

/// The tariffs the eMSP holds, by lower-cased id (the peer keeps CiStrings lower-cased).
fn tariff_ids(state: &Value) -> Vec<String> {
    let mut ids: Vec<String> = objects(state, "tariffs")
        .iter()
        .filter_map(|t| t["id"].as_str().map(str::to_lowercase))
        .collect();
    ids.sort();
    ids
}

/// What the eMSP's copy of location `ams-t`'s first connector names.
fn connector_tariffs(state: &Value) -> Vec<String> {
    objects(state, "locations")
        .iter()
        .find(|l| l["id"] == "ams-t")
        .and_then(|l| {
            l["evses"][0]["connectors"][0]["tariff_ids"]
                .as_array()
                .cloned()
        })
        .unwrap_or_default()
        .iter()
        .filter_map(|t| t.as_str().map(str::to_lowercase))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn assigned_tariffs_reach_the_emsp_its_own_tariff_is_its_alone_and_a_removed_one_is_deleted()
{
    let stack = configured_stack().await;
    let emsp = registered_emsp(&stack).await;
    placed_charger(&stack, "ams-t", "TA-1").await;
    emsp_until(&emsp, "the location", |s| {
        objects(s, "locations").iter().any(|l| l["id"] == "ams-t")
    })
    .await;

    // GIVEN a tariff that nothing is assigned to THEN it is not published
    let tariff = |id: &str, kwh: &str| {
        json!({"id": id, "name": id, "currency": "EUR", "elements": [{"price_components": [
            {"type": "ENERGY", "price": kwh.parse::<f64>().unwrap(), "vat": 21, "step_size": 1},
            {"type": "FLAT", "price": 0.5, "vat": 21, "step_size": 1}]},
            {"price_components": [{"type": "PARKING_TIME", "price": 6, "step_size": 60}],
             "restrictions": {"start_time": "08:00", "end_time": "20:00", "day_of_week": ["MONDAY", "FRIDAY"]}}]})
    };
    let (s, b) = stack.post("/v1/tariffs", tariff("AC-STD", "0.35")).await;
    assert_eq!(s, 201, "{b}");
    let (s, b) = stack.post("/v1/tariffs", tariff("ROAM-EXA", "0.45")).await;
    assert_eq!(s, 201, "{b}");

    // WHEN it becomes the default THEN the eMSP gets it, and the connector names it
    let (s, b) = send(
        stack
            .req(Method::PUT, "/v1/tariff-assignments/default")
            .json(&json!({"tariff_id": "AC-STD"})),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    let state = emsp_until(&emsp, "the default tariff on the connector", |s| {
        tariff_ids(s) == ["ac-std"] && connector_tariffs(s) == ["ac-std"]
    })
    .await;
    let t = objects(&state, "tariffs")[0];
    assert_eq!(t["currency"], "EUR");
    assert_eq!(
        t["elements"][0]["price_components"][0]["price"].as_f64(),
        Some(0.35)
    );
    assert_eq!(t["elements"][1]["restrictions"]["start_time"], "08:00");
    assert_eq!(
        t["elements"][1]["restrictions"]["day_of_week"],
        json!(["MONDAY", "FRIDAY"])
    );

    // WHEN the eMSP's drivers get a price of their own THEN it alone gets that tariff, named on every
    // connector of what it is sent; the default stays
    let (s, b) = send(
        stack
            .req(Method::PUT, "/v1/tariff-assignments/partner:NL-EXA")
            .json(&json!({"tariff_id": "ROAM-EXA"})),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    let state = emsp_until(&emsp, "its own tariff on the connector", |s| {
        tariff_ids(s) == ["ac-std", "roam-exa"] && connector_tariffs(s) == ["roam-exa"]
    })
    .await;

    // AND the Sender interface answers the same, paginated
    let token_c = state["cpo"]["token"].as_str().unwrap().to_string();
    let base = format!("{}/ocpi/default/2.2.1", stack.api);
    let r = reqwest::Client::new()
        .get(format!("{base}/tariffs?limit=1"))
        .header("authorization", token_header(&token_c))
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["x-total-count"], "2");
    assert!(r.headers().contains_key("link"));
    let b: Value = r.json().await.unwrap();
    assert_eq!(b["data"].as_array().map(Vec::len), Some(1), "{b}");
    let (s, b) = ocpi(
        Method::GET,
        &format!("{base}/tariffs?offset=1"),
        Some(&token_c),
        None,
    )
    .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["data"][0]["id"], "ROAM-EXA", "{b}");
    let (_, b) = ocpi(
        Method::GET,
        &format!("{base}/locations/ams-t/TA-1-1/1"),
        Some(&token_c),
        None,
    )
    .await;
    assert_eq!(b["data"]["tariff_ids"], json!(["ROAM-EXA"]), "{b}");
    let (s, b) = ocpi(
        Method::GET,
        &format!("{base}/tariffs?limit=x"),
        Some(&token_c),
        None,
    )
    .await;
    assert_eq!((s, b["status_code"].as_u64()), (400, Some(2001)), "{b}");
    let (s, _) = ocpi(
        Method::GET,
        &format!("{base}/tariffs"),
        Some("not-a-token"),
        None,
    )
    .await;
    assert_eq!(s, 401);

    // WHEN its own price is removed THEN the tariff is deleted at the eMSP and the connector names the
    // default again
    let (s, b) = send(stack.req(Method::DELETE, "/v1/tariff-assignments/partner:NL-EXA")).await;
    assert_eq!(s, 204, "{b}");
    emsp_until(&emsp, "its tariff deleted", |s| {
        tariff_ids(s) == ["ac-std"] && connector_tariffs(s) == ["ac-std"]
    })
    .await;
    let (s, _) = send(stack.req(Method::DELETE, "/v1/tariff-assignments/partner:NL-EXA")).await;
    assert_eq!(s, 404);
    let (s, b) = stack.get("/v1/tariff-assignments").await;
    assert_eq!(s, 200);
    assert_eq!(b["items"].as_array().map(Vec::len), Some(1), "{b}");

    // AND the delivery log shows the DELETE
    let (s, b) = stack.get("/v1/ocpi/partners/NL-EXA/deliveries").await;
    assert_eq!(s, 200, "{b}");
    assert!(
        b["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["method"] == "DELETE" && d["ok"] == true),
        "{b}"
    );
}
