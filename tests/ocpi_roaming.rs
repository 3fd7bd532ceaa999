//! OCPI roaming end to end against a real eMSP this project did not write (extrawest-ocpi, started by
//! the test: tests/python/ocpi_emsp.py) and the local stack on real sockets: the credentials handshake
//! both ways, unregistering, and what a partner that sends junk or the wrong token is answered.

use cpms_tests::ocpi::{Emsp, token_header};
use cpms_tests::{Stack, send};
use reqwest::Method;
use serde_json::{Value, json};

async fn configured_stack() -> Stack {
    let stack = Stack::start().await;
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
