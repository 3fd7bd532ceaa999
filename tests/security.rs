//! Security over real sockets: every token is looked up whatever its 2.0.1 type (only `NoAuthorization`
//! at a free-charging charger and a remote start vouch for one), answers carry the token's group, the
//! Basic-auth user name must be the identity, and a password rotation never locks a charger out.

use cpms_tests::{Charger, PASSWORD, Stack, send};
use reqwest::Method;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

const V16: &str = "ocpp1.6";
const V201: &str = "ocpp2.0.1";

/// Whether the charger gets in with `password` (the connection is closed again at once).
async fn lets_in(stack: &Stack, id: &str, version: &str, password: &str) -> bool {
    match Charger::connect_with(stack, id, version, Some(password)).await {
        Ok(c) => {
            c.close().await;
            true
        }
        Err(_) => false,
    }
}

async fn patch(stack: &Stack, path: &str, body: Value) -> (u16, Value) {
    send(stack.req(Method::PATCH, path).json(&body)).await
}

fn tx_event(kind: &str, tx: &str, seq: u32, token: Option<(&str, &str)>) -> Value {
    let mut e = json!({
        "eventType": kind, "timestamp": "2026-12-01T10:00:00Z", "triggerReason": "Authorized",
        "seqNo": seq, "transactionInfo": {"transactionId": tx}, "evse": {"id": 1, "connectorId": 1}
    });
    if let Some((id, kind)) = token {
        e["idToken"] = json!({"idToken": id, "type": kind});
    }
    e
}

#[tokio::test]
async fn central_tokens_are_looked_up_and_answers_carry_the_group() {
    let stack = Stack::start().await;
    stack.register("SEC-201").await;
    for (id, status) in [("MASTER-1", "accepted"), ("BLOCKED-1", "blocked")] {
        let (s, b) = stack
            .post(
                "/v1/tokens",
                json!({"id": id, "status": status, "group_id": "FLEET-A"}),
            )
            .await;
        assert_eq!(s, 201, "{b}");
    }
    let mut cp = Charger::connect(&stack, "SEC-201", V201).await.unwrap();
    cp.boot(true).await;
    let auth = |id: &str, kind: &str| json!({"idToken": {"idToken": id, "type": kind}});
    let r = cp.call("Authorize", auth("MADE-UP-TOKEN", "Central")).await;
    assert_eq!(r[2]["idTokenInfo"]["status"], "Unknown", "{r}");
    let r = cp.call("Authorize", auth("BLOCKED-1", "Central")).await;
    assert_eq!(r[2]["idTokenInfo"]["status"], "Blocked", "{r}");
    let r = cp.call("Authorize", auth("MASTER-1", "Central")).await;
    assert_eq!(r[2]["idTokenInfo"]["status"], "Accepted", "{r}");
    assert_eq!(
        r[2]["idTokenInfo"]["groupIdToken"],
        json!({"idToken": "FLEET-A", "type": "Central"}),
        "{r}"
    );
    // A transaction's answers carry the group too (the station's master-pass check reads it).
    let r = cp
        .call(
            "TransactionEvent",
            tx_event("Started", "tx-1", 0, Some(("MASTER-1", "ISO14443"))),
        )
        .await;
    assert_eq!(r[2]["idTokenInfo"]["groupIdToken"]["idToken"], "FLEET-A");
    let r = cp
        .call(
            "TransactionEvent",
            tx_event("Started", "tx-2", 0, Some(("NOBODY", "Central"))),
        )
        .await;
    assert_eq!(r[2]["idTokenInfo"]["status"], "Unknown", "{r}");
    // NoAuthorization only where the operator allows free charging.
    let r = cp.call("Authorize", auth("", "NoAuthorization")).await;
    assert_eq!(r[2]["idTokenInfo"]["status"], "Invalid", "{r}");
    let (s, b) = patch(
        &stack,
        "/v1/chargers/SEC-201",
        json!({"free_charging": true}),
    )
    .await;
    assert_eq!((s, &b["free_charging"]), (200, &json!(true)), "{b}");
    let r = cp.call("Authorize", auth("", "NoAuthorization")).await;
    assert_eq!(r[2]["idTokenInfo"]["status"], "Accepted", "{r}");
    cp.close().await;
    stack.stop().await;
}

#[tokio::test]
async fn a_1_6_answer_carries_the_parent_id_tag_and_a_remote_start_vouches_for_its_token() {
    let stack = Stack::start().await;
    stack.register("SEC-16").await;
    let (s, _) = stack
        .post(
            "/v1/tokens",
            json!({"id": "CARD-1", "status": "accepted", "group_id": "FLEET-B"}),
        )
        .await;
    assert_eq!(s, 201);
    let mut cp = Charger::connect(&stack, "SEC-16", V16).await.unwrap();
    cp.boot(false).await;
    let r = cp.call("Authorize", json!({"idTag": "CARD-1"})).await;
    assert_eq!(r[2]["idTagInfo"]["parentIdTag"], "FLEET-B", "{r}");
    let r = cp.call("Authorize", json!({"idTag": "APP-SESSION"})).await;
    assert_eq!(r[2]["idTagInfo"]["status"], "Invalid", "{r}");
    // The operator starts a session for a token that is not registered: the charger's start is accepted.
    let (s, c) = stack
        .post(
            "/v1/chargers/SEC-16/commands",
            json!({"type": "start_session", "id_token": "APP-SESSION", "evse_id": 1}),
        )
        .await;
    assert_eq!(s, 202, "{c}");
    let call = cp.recv().await.unwrap();
    assert_eq!(call[2], "RemoteStartTransaction");
    cp.send(Message::text(
        json!([3, call[1], {"status": "Accepted"}]).to_string(),
    ))
    .await;
    let r = cp
        .call(
            "StartTransaction",
            json!({"connectorId": 1, "idTag": "APP-SESSION", "meterStart": 0,
                   "timestamp": "2026-12-01T10:00:00Z"}),
        )
        .await;
    assert_eq!(r[2]["idTagInfo"]["status"], "Accepted", "{r}");
    // Only at that charger.
    stack.register("SEC-16B").await;
    let mut other = Charger::connect(&stack, "SEC-16B", V16).await.unwrap();
    other.boot(false).await;
    let r = other
        .call("Authorize", json!({"idTag": "APP-SESSION"}))
        .await;
    assert_eq!(r[2]["idTagInfo"]["status"], "Invalid", "{r}");
    stack.stop().await;
}

#[tokio::test]
async fn a_user_name_other_than_the_identity_gets_401_and_is_recorded() {
    let stack = Stack::start().await;
    stack.register("SEC-USER").await;
    let mut req = tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(
        format!("{}/SEC-USER", stack.ws),
    )
    .unwrap();
    use base64::Engine;
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("admin:{PASSWORD}"));
    req.headers_mut()
        .insert("Authorization", format!("Basic {basic}").parse().unwrap());
    req.headers_mut()
        .insert("Sec-WebSocket-Protocol", V16.parse().unwrap());
    let err = tokio_tungstenite::connect_async(req.clone())
        .await
        .unwrap_err();
    match err {
        tokio_tungstenite::tungstenite::Error::Http(r) => assert_eq!(r.status(), 401),
        e => panic!("expected 401, got {e}"),
    }
    let (_, log) = stack.get("/v1/chargers/SEC-USER/events").await;
    assert!(
        log["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["summary"].as_str().unwrap().contains("user name")),
        "{log}"
    );
    let (s, _) = patch(
        &stack,
        "/v1/chargers/SEC-USER",
        json!({"allow_username_mismatch": true}),
    )
    .await;
    assert_eq!(s, 200);
    assert!(tokio_tungstenite::connect_async(req).await.is_ok());
    stack.stop().await;
}

/// Sends `rotate_password` and returns the CALL the charger got and the command's id.
async fn rotate(stack: &Stack, cp: &mut Charger, id: &str) -> (Value, String) {
    let (s, c) = stack
        .post(
            &format!("/v1/chargers/{id}/commands"),
            json!({"type": "rotate_password"}),
        )
        .await;
    assert_eq!(s, 202, "{c}");
    assert!(
        !c.to_string().contains("\"password\":\""),
        "never shown: {c}"
    );
    let call = cp.recv().await.expect("the charger gets the call");
    (call, c["id"].as_str().unwrap().to_string())
}

async fn settled(stack: &Stack, command: &str) -> Value {
    let (s, c) = stack.get(&format!("/v1/commands/{command}?wait=10")).await;
    assert_eq!(s, 200);
    c
}

#[tokio::test]
async fn a_rotated_password_is_used_from_acceptance_and_the_old_one_until_the_first_use_of_the_new()
{
    for (version, id) in [(V16, "ROT-16"), (V201, "ROT-201")] {
        let stack = Stack::start().await;
        stack.register(id).await;
        let mut cp = Charger::connect(&stack, id, version).await.unwrap();
        cp.boot(version == V201).await;
        let (call, command) = rotate(&stack, &mut cp, id).await;
        let new = if version == V16 {
            assert_eq!(call[2], "ChangeConfiguration", "{call}");
            assert_eq!(call[3]["key"], "AuthorizationKey");
            call[3]["value"].as_str().unwrap().to_string()
        } else {
            assert_eq!(call[2], "SetVariables", "{call}");
            let d = &call[3]["setVariableData"][0];
            assert_eq!(d["component"]["name"], "SecurityCtrlr");
            assert_eq!(d["variable"]["name"], "BasicAuthPassword");
            d["attributeValue"].as_str().unwrap().to_string()
        };
        assert_eq!(new.len(), 40);
        let answer = if version == V16 {
            json!({"status": "Accepted"})
        } else {
            json!({"setVariableResult": [{"attributeStatus": "Accepted",
                "component": {"name": "SecurityCtrlr"}, "variable": {"name": "BasicAuthPassword"}}]})
        };
        cp.send(Message::text(json!([3, call[1], answer]).to_string()))
            .await;
        let c = settled(&stack, &command).await;
        assert_eq!(c["state"], "answered", "{c}");
        assert!(!c.to_string().contains(&new), "stored redacted: {c}");
        cp.close().await;
        // The charger may come back with either until it has used the new one.
        assert!(
            lets_in(&stack, id, version, PASSWORD).await,
            "the old password works until the new one is used"
        );
        assert!(
            lets_in(&stack, id, version, &new).await,
            "{version}: the new password works"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        assert!(
            !lets_in(&stack, id, version, PASSWORD).await,
            "{version}: the old password stops working once the new one was used"
        );
        let (_, audit) = stack.get("/v1/audit").await;
        assert!(audit.to_string().contains("rotate_password"), "{audit}");
        stack.stop().await;
    }
}

#[tokio::test]
async fn a_charger_that_applies_a_new_password_and_reconnects_before_answering_is_let_in() {
    let stack = Stack::start().await;
    stack.register("ROT-EARLY").await;
    let mut cp = Charger::connect(&stack, "ROT-EARLY", V201).await.unwrap();
    cp.boot(true).await;
    let (call, _) = rotate(&stack, &mut cp, "ROT-EARLY").await;
    let new = call[3]["setVariableData"][0]["attributeValue"]
        .as_str()
        .unwrap()
        .to_string();
    cp.close().await;
    assert!(
        lets_in(&stack, "ROT-EARLY", V201, &new).await,
        "the sent password lets it in"
    );
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    assert!(!lets_in(&stack, "ROT-EARLY", V201, PASSWORD).await);
    stack.stop().await;
}

#[tokio::test]
async fn a_refused_password_change_keeps_the_old_password() {
    let stack = Stack::start().await;
    stack.register("ROT-NO").await;
    let mut cp = Charger::connect(&stack, "ROT-NO", V16).await.unwrap();
    cp.boot(false).await;
    let (call, command) = rotate(&stack, &mut cp, "ROT-NO").await;
    let new = call[3]["value"].as_str().unwrap().to_string();
    cp.send(Message::text(
        json!([3, call[1], {"status": "Rejected"}]).to_string(),
    ))
    .await;
    assert_eq!(settled(&stack, &command).await["status"], "Rejected");
    cp.close().await;
    assert!(!lets_in(&stack, "ROT-NO", V16, &new).await);
    assert!(lets_in(&stack, "ROT-NO", V16, PASSWORD).await);
    stack.stop().await;
}

#[tokio::test]
async fn an_admin_sets_a_password_and_the_old_one_stops_at_once() {
    let stack = Stack::start().await;
    stack.register("SET-PW").await;
    let put = |body: Value| {
        send(
            stack
                .req(Method::PUT, "/v1/chargers/SET-PW/password")
                .json(&body),
        )
    };
    let (s, b) = put(json!({"password": "short"})).await;
    assert_eq!(s, 400, "{b}");
    let (s, b) = put(json!({"password": "a-new-password-of-24ch"})).await;
    assert_eq!(s, 200, "{b}");
    assert!(b.get("password").is_none());
    assert!(!lets_in(&stack, "SET-PW", V201, PASSWORD).await);
    assert!(lets_in(&stack, "SET-PW", V201, "a-new-password-of-24ch").await);
    let (s, b) = put(json!({})).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["password"].as_str().unwrap().len(), 40, "generated: {b}");
    let (_, audit) = stack.get("/v1/audit").await;
    assert!(
        audit.to_string().contains("charger.password.set"),
        "{audit}"
    );
    // A viewer may not.
    let (s, _) = send(
        reqwest::Client::new()
            .put(format!("{}/v1/chargers/SET-PW/password", stack.api))
            .json(&json!({})),
    )
    .await;
    assert_eq!(s, 401);
    stack.stop().await;
}
