//! Malformed and unauthorized requests to the operator API: each gets an RFC 9457 problem with a clear
//! detail, never a panic or a plain-text error.

use cpms_tests::{KEY, Stack, send};
use reqwest::Method;
use serde_json::{Value, json};

fn is_problem(status: u16, body: &Value, expect: u16) {
    assert_eq!(status, expect, "{body}");
    assert_eq!(body["status"], expect, "{body}");
    assert!(
        body["type"]
            .as_str()
            .unwrap()
            .starts_with("urn:cpms:problem:"),
        "{body}"
    );
    assert!(!body["detail"].as_str().unwrap().is_empty(), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_bad_request_is_a_problem() {
    let stack = Stack::start().await;
    let http = reqwest::Client::new();
    let url = |p: &str| format!("{}{p}", stack.api);

    let (s, b) = send(http.get(url("/v1/chargers"))).await;
    is_problem(s, &b, 401);
    let (s, b) = send(http.get(url("/v1/chargers")).bearer_auth("wrong")).await;
    is_problem(s, &b, 401);
    let r = http.get(url("/v1/chargers")).send().await.unwrap();
    assert_eq!(r.headers()["content-type"], "application/problem+json");
    assert_eq!(r.headers()["www-authenticate"], "Bearer");

    let raw = |body: &'static str| {
        http.post(url("/v1/chargers"))
            .bearer_auth(KEY)
            .header("content-type", "application/json")
            .body(body)
    };
    let (s, b) = send(raw("{\"id\": ")).await;
    is_problem(s, &b, 400);
    let (s, b) = send(raw("{\"id\": \"CP1\", \"colour\": \"red\"}")).await;
    is_problem(s, &b, 422);
    assert!(b["detail"].as_str().unwrap().contains("colour"), "{b}");
    let (s, b) = send(raw("{\"id\": 42}")).await;
    is_problem(s, &b, 422);
    let (s, b) = send(raw("[]")).await;
    is_problem(s, &b, 422);
    let (s, b) = send(
        http.post(url("/v1/chargers"))
            .bearer_auth(KEY)
            .body("{\"id\":\"CP1\"}"),
    )
    .await;
    is_problem(s, &b, 415);
    let big = json!({"id": "CP1", "name": "x".repeat(100_000)});
    let (s, b) = send(http.post(url("/v1/chargers")).bearer_auth(KEY).json(&big)).await;
    is_problem(s, &b, 413);
    let (s, b) = stack.post("/v1/chargers", json!({"id": "has space"})).await;
    is_problem(s, &b, 400);
    let (s, b) = stack
        .post("/v1/chargers", json!({"id": "CP1", "ocpp_version": "3.0"}))
        .await;
    is_problem(s, &b, 400);
    let (s, b) = stack
        .post("/v1/chargers", json!({"id": "CP1", "password": ""}))
        .await;
    is_problem(s, &b, 400);

    let (s, b) = stack.post("/v1/chargers", json!({"id": "CP1"})).await;
    assert_eq!(s, 201, "{b}");
    assert_eq!(
        b["password"].as_str().unwrap().len(),
        40,
        "a generated password is returned once"
    );
    let (s, b) = stack.post("/v1/chargers", json!({"id": "CP1"})).await;
    is_problem(s, &b, 409);
    let (s, b) = stack
        .post("/v1/chargers", json!({"id": "CP2", "password": "short"}))
        .await;
    assert_eq!(s, 201);
    assert!(
        b["warnings"][0].as_str().unwrap().contains("16 to 40"),
        "{b}"
    );

    for path in [
        "/v1/chargers/NOPE",
        "/v1/chargers/a%2Fb",
        "/v1/sessions/garbage",
        "/v1/sessions/CP1~404",
        "/v1/tokens/NOPE",
        "/v1/unknown",
        "/nothing/here",
    ] {
        let (s, b) = stack.get(path).await;
        is_problem(s, &b, 404);
    }
    for q in [
        "status=bogus",
        "limit=0",
        "limit=501",
        "limit=abc",
        "cursor=garbage",
        "colour=red",
        "charger_id=a%20b",
    ] {
        let (s, b) = stack.get(&format!("/v1/sessions?{q}")).await;
        is_problem(s, &b, 400);
    }
    let (s, b) = send(stack.req(Method::DELETE, "/v1/chargers")).await;
    is_problem(s, &b, 405);
    let (s, b) = send(
        stack
            .req(Method::PATCH, "/v1/tokens/X")
            .json(&json!({"status": "nope"})),
    )
    .await;
    is_problem(s, &b, 422);
    let (s, b) = stack
        .post("/v1/tokens", json!({"id": "X".repeat(37)}))
        .await;
    is_problem(s, &b, 400);
    let (s, b) = stack
        .post("/v1/tokens", json!({"id": "T1", "type": "Passport"}))
        .await;
    is_problem(s, &b, 400);
    let (s, _) = stack.get("/health").await;
    assert_eq!(s, 200);
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_are_created_listed_and_blocked() {
    let stack = Stack::start().await;
    for id in ["b-tag", "A-TAG", "c-tag"] {
        let (s, b) = stack.post("/v1/tokens", json!({"id": id})).await;
        assert_eq!(s, 201, "{b}");
        assert_eq!(b["status"], "accepted");
    }
    let (s, b) = stack.post("/v1/tokens", json!({"id": "B-TAG"})).await;
    assert_eq!(s, 409, "ids are case-insensitive: {b}");
    let (_, page) = stack.get("/v1/tokens?limit=2").await;
    assert_eq!(page["items"].as_array().unwrap().len(), 2);
    let cursor = page["next_cursor"].as_str().unwrap();
    let (_, rest) = stack
        .get(&format!("/v1/tokens?limit=2&cursor={cursor}"))
        .await;
    assert_eq!(rest["items"].as_array().unwrap().len(), 1);
    assert!(rest.get("next_cursor").is_none());
    let (s, b) = send(
        stack
            .req(Method::PATCH, "/v1/tokens/a-tag")
            .json(&json!({"status": "blocked", "expires_at": null})),
    )
    .await;
    assert_eq!((s, b["status"].clone()), (200, json!("blocked")));
    stack.stop().await;
}
