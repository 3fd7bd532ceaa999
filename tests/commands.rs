//! Every operator command, for both OCPP versions, against a charger on a real socket: the CALL it
//! receives, the answer stored on the command; CallErrors, silence (timeout), a disconnect in the middle,
//! an offline charger, and one CALL in flight per charger with the rest queued behind it.

use cpms_tests::{Charger, Stack, send};
use reqwest::Method;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

/// (command, 1.6 action, 1.6 answer, 2.0.1 action, 2.0.1 answer)
fn cases() -> Vec<(Value, &'static str, Value, &'static str, Value)> {
    let ok = json!({"status": "Accepted"});
    vec![
        (
            json!({"type": "start_session", "id_token": "04A1B2C3", "evse_id": 1}),
            "RemoteStartTransaction",
            ok.clone(),
            "RequestStartTransaction",
            ok.clone(),
        ),
        (
            json!({"type": "stop_session", "transaction_id": "7"}),
            "RemoteStopTransaction",
            ok.clone(),
            "RequestStopTransaction",
            ok.clone(),
        ),
        (
            json!({"type": "reset"}),
            "Reset",
            ok.clone(),
            "Reset",
            ok.clone(),
        ),
        (
            json!({"type": "unlock_connector", "evse_id": 1}),
            "UnlockConnector",
            json!({"status": "Unlocked"}),
            "UnlockConnector",
            json!({"status": "Unlocked"}),
        ),
        (
            json!({"type": "change_availability", "operative": false, "evse_id": 1}),
            "ChangeAvailability",
            ok.clone(),
            "ChangeAvailability",
            ok.clone(),
        ),
        (
            json!({"type": "get_configuration", "keys": ["OCPPCommCtrlr.HeartbeatInterval"]}),
            "GetConfiguration",
            json!({"configurationKey": [{"key": "OCPPCommCtrlr.HeartbeatInterval", "readonly": false, "value": "300"}]}),
            "GetVariables",
            json!({"getVariableResult": [{"attributeStatus": "Accepted", "attributeValue": "300",
            "component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "HeartbeatInterval"}}]}),
        ),
        (
            json!({"type": "change_configuration", "key": "OCPPCommCtrlr.HeartbeatInterval", "value": "120"}),
            "ChangeConfiguration",
            ok.clone(),
            "SetVariables",
            json!({"setVariableResult": [{"attributeStatus": "Accepted",
            "component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "HeartbeatInterval"}}]}),
        ),
        (
            json!({"type": "trigger_message", "message": "Heartbeat"}),
            "TriggerMessage",
            ok.clone(),
            "TriggerMessage",
            ok.clone(),
        ),
        (
            json!({"type": "clear_cache"}),
            "ClearCache",
            ok.clone(),
            "ClearCache",
            ok.clone(),
        ),
        (
            json!({"type": "update_firmware", "location": "https://fw.example/v2.bin", "retrieve_at": "2026-12-01T02:00:00Z"}),
            "UpdateFirmware",
            json!({}),
            "UpdateFirmware",
            ok.clone(),
        ),
        (
            json!({"type": "get_diagnostics", "location": "https://logs.example/up"}),
            "GetDiagnostics",
            json!({"fileName": "diag.zip"}),
            "GetLog",
            json!({"status": "Accepted", "filename": "diag.zip"}),
        ),
        (
            json!({"type": "send_local_list", "version": 2, "update": "full", "entries": [{"id_token": "AA11", "status": "Accepted"}]}),
            "SendLocalList",
            ok.clone(),
            "SendLocalList",
            ok.clone(),
        ),
        (
            json!({"type": "get_local_list_version"}),
            "GetLocalListVersion",
            json!({"listVersion": 2}),
            "GetLocalListVersion",
            json!({"versionNumber": 2}),
        ),
        (
            json!({"type": "reserve", "expires_at": "2026-12-01T10:00:00Z", "id_token": "04A1B2C3", "evse_id": 1}),
            "ReserveNow",
            ok.clone(),
            "ReserveNow",
            ok.clone(),
        ),
        (
            json!({"type": "cancel_reservation", "reservation_id": 5}),
            "CancelReservation",
            ok.clone(),
            "CancelReservation",
            ok.clone(),
        ),
        (
            json!({"type": "data_transfer", "vendor_id": "com.example", "message_id": "Ping", "data": "hi"}),
            "DataTransfer",
            ok.clone(),
            "DataTransfer",
            ok.clone(),
        ),
        (
            json!({"type": "raw", "action": "ClearCache", "payload": {}}),
            "ClearCache",
            ok.clone(),
            "ClearCache",
            ok.clone(),
        ),
    ]
}

async fn online(stack: &Stack, id: &str, v201: bool) -> Charger {
    stack.register(id).await;
    let proto = if v201 { "ocpp2.0.1" } else { "ocpp1.6" };
    let mut c = Charger::connect(stack, id, proto).await.unwrap();
    c.boot(v201).await;
    c
}

fn post_command(
    stack: &Stack,
    charger: &str,
    query: &str,
    body: Value,
) -> tokio::task::JoinHandle<(u16, Value)> {
    let r = stack
        .req(
            Method::POST,
            &format!("/v1/chargers/{charger}/commands{query}"),
        )
        .json(&body);
    tokio::spawn(send(r))
}

/// The next CALL the charger receives.
async fn next_call(c: &mut Charger) -> Value {
    let f = c.recv().await.expect("a CALL");
    assert_eq!(f[0], 2, "{f}");
    f
}

/// Sends a frame to the CSMS.
async fn reply(c: &mut Charger, frame: Value) {
    c.send(Message::text(frame.to_string())).await;
}

/// A command as it stands, waiting up to `wait` seconds for it to end.
async fn command(stack: &Stack, cmd: &Value, wait: u64) -> Value {
    let id = cmd["id"].as_str().unwrap();
    stack.get(&format!("/v1/commands/{id}?wait={wait}")).await.1
}

/// Posts `cmd` (waiting up to 10 s for its end), expects its CALL to be `action`, answers with the frame
/// `answer` builds from the CALL; returns the CALL and the POST's status and body.
async fn round_trip(
    stack: &Stack,
    c: &mut Charger,
    charger: &str,
    cmd: &Value,
    action: &str,
    answer: impl FnOnce(&Value) -> Value,
) -> (Value, u16, Value) {
    let pending = post_command(stack, charger, "?wait=10", cmd.clone());
    let call = next_call(c).await;
    assert_eq!(call[2], action, "{cmd} -> {call}");
    reply(c, answer(&call)).await;
    let (s, b) = pending.await.unwrap();
    (call, s, b)
}

/// A silent charger: a reset (timeout 5 s) is sent and never answered; a clear_cache posted behind it
/// stays queued, and is sent only once the reset has timed out. Returns both commands and both CALLs.
async fn silent_call_then_queued(stack: &Stack, c: &mut Charger, charger: &str) -> [Value; 4] {
    let (s, first) = send(
        stack
            .req(
                Method::POST,
                &format!("/v1/chargers/{charger}/commands?timeout_s=5"),
            )
            .json(&json!({"type": "reset"})),
    )
    .await;
    assert_eq!((s, &first["state"]), (202, &json!("sent")), "{first}");
    let (s, second) = stack
        .post(
            &format!("/v1/chargers/{charger}/commands"),
            json!({"type": "clear_cache"}),
        )
        .await;
    assert_eq!(
        (s, &second["state"]),
        (202, &json!("queued")),
        "one CALL in flight: {second}"
    );
    let reset = next_call(c).await;
    assert_eq!(reset[2], "Reset");
    let timed = command(stack, &first, 15).await;
    assert_eq!(timed["state"], "timed_out", "{timed}");
    let clear = next_call(c).await;
    assert_eq!(
        (&clear[1], &clear[2]),
        (&second["id"], &json!("ClearCache"))
    );
    [first, second, reset, clear]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_command_in_both_versions_reaches_the_charger_and_its_answer_is_stored() {
    let stack = Stack::start().await;
    for v201 in [false, true] {
        let id = if v201 { "CMD-201" } else { "CMD-16" };
        let mut c = online(&stack, id, v201).await;
        for (cmd, a16, r16, a201, r201) in cases() {
            let (action, answer) = if v201 { (a201, r201) } else { (a16, r16) };
            let (call, s, b) = round_trip(&stack, &mut c, id, &cmd, action, |call| {
                json!([3, call[1], answer])
            })
            .await;
            assert_eq!(s, 202, "{b}");
            assert_eq!(b["state"], "answered", "{cmd}: {b}");
            assert_eq!(b["result"], answer);
            assert_eq!(b["reason"], Value::Null, "the answer fits its schema: {b}");
            assert_eq!(b["id"], call[1], "the command id is the message id");
            let (s, again) = stack
                .get(&format!("/v1/commands/{}", b["id"].as_str().unwrap()))
                .await;
            assert_eq!((s, &again["state"]), (200, &json!("answered")));
        }
        c.close().await;
    }
    let (s, audit) = stack.get("/v1/audit?limit=500").await;
    assert_eq!(s, 200);
    let sent = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "command.send")
        .count();
    assert_eq!(sent, 2 * cases().len(), "every command is in the audit log");
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_error_a_silent_charger_and_a_disconnect_each_end_the_command() {
    let stack = Stack::start().await;
    for v201 in [false, true] {
        let id = if v201 { "ERR-201" } else { "ERR-16" };
        let mut c = online(&stack, id, v201).await;

        // CallError.
        let (_, s, b) = round_trip(
            &stack,
            &mut c,
            id,
            &json!({"type": "clear_cache"}),
            "ClearCache",
            |call| json!([4, call[1], "NotSupported", "no cache here", {"why": "none"}]),
        )
        .await;
        assert_eq!((s, &b["state"]), (202, &json!("error")), "{b}");
        assert_eq!(b["error"]["code"], "NotSupported");
        assert_eq!(b["error"]["details"]["why"], "none");

        // Silence: the first times out, and only then is the second (queued behind it) sent.
        let [first, second, reset, clear] = silent_call_then_queued(&stack, &mut c, id).await;
        // A late answer to the timed-out call changes nothing.
        reply(&mut c, json!([3, reset[1], {"status": "Accepted"}])).await;
        reply(&mut c, json!([3, clear[1], {"status": "Accepted"}])).await;
        assert_eq!(command(&stack, &second, 10).await["state"], "answered");
        assert_eq!(command(&stack, &first, 0).await["state"], "timed_out");

        // Disconnect with a call in flight and one queued.
        let (_, inflight) = stack
            .post(
                &format!("/v1/chargers/{id}/commands"),
                json!({"type": "clear_cache"}),
            )
            .await;
        let (_, queued) = stack
            .post(
                &format!("/v1/chargers/{id}/commands"),
                json!({"type": "clear_cache"}),
            )
            .await;
        let _ = next_call(&mut c).await;
        c.close().await;
        for cmd in [&inflight, &queued] {
            let b = command(&stack, cmd, 10).await;
            assert_eq!(b["state"], "failed", "{b}");
            assert!(
                b["reason"].as_str().unwrap().contains("disconnected"),
                "{b}"
            );
        }

        // Reconnect (the old connection never closed) with a call in flight: the charger cannot answer
        // it on the new connection, so it fails at once instead of waiting for its timeout.
        let proto = if v201 { "ocpp2.0.1" } else { "ocpp1.6" };
        let mut c = Charger::connect(&stack, id, proto).await.unwrap();
        c.boot(v201).await;
        let (_, inflight) = stack
            .post(
                &format!("/v1/chargers/{id}/commands?timeout_s=300"),
                json!({"type": "clear_cache"}),
            )
            .await;
        let _ = next_call(&mut c).await;
        let mut again = Charger::connect(&stack, id, proto).await.unwrap();
        let b = command(&stack, &inflight, 5).await;
        assert_eq!(b["state"], "failed", "{b}");
        assert!(b["reason"].as_str().unwrap().contains("reconnected"), "{b}");
        // The new connection takes commands.
        let (_, s, b) = round_trip(
            &stack,
            &mut again,
            id,
            &json!({"type": "clear_cache"}),
            "ClearCache",
            |call| json!([3, call[1], {"status": "Accepted"}]),
        )
        .await;
        assert_eq!((s, &b["state"]), (202, &json!("answered")), "{b}");
        again.close().await;
        drop(c);
        for _ in 0..100 {
            if stack.get(&format!("/v1/chargers/{id}")).await.1["connected"] == false {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }

        // Offline: refused at once.
        let (s, b) = stack
            .post(
                &format!("/v1/chargers/{id}/commands"),
                json!({"type": "clear_cache"}),
            )
            .await;
        assert_eq!(
            (s, &b["type"]),
            (409, &json!("urn:cpms:problem:charger-offline")),
            "{b}"
        );
    }
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_commands_are_refused_before_anything_is_sent() {
    let stack = Stack::start().await;
    let mut c = online(&stack, "BAD-16", false).await;
    let cases = [
        (
            json!({"type": "raw", "action": "Reset", "payload": {"type": "Sideways"}}),
            422,
            "schema",
        ),
        (
            json!({"type": "raw", "action": "BootNotification", "payload": {}}),
            422,
            "sent by chargers",
        ),
        (
            json!({"type": "raw", "action": "Teleport", "payload": {}}),
            422,
            "not an OCPP",
        ),
        (json!({"type": "reset", "when": "on_idle"}), 422, "on idle"),
        (
            json!({"type": "stop_session", "transaction_id": "abc"}),
            422,
            "integers",
        ),
        (json!({"type": "reset", "hard": true}), 422, "unknown field"),
        (json!({"type": "self_destruct"}), 422, "unknown variant"),
        (json!([1, 2]), 422, ""),
    ];
    for (body, status, word) in cases {
        let (s, b) = stack
            .post("/v1/chargers/BAD-16/commands", body.clone())
            .await;
        assert_eq!(s, status, "{body}: {b}");
        assert!(
            b["detail"].as_str().unwrap_or("").contains(word),
            "{body}: {b}"
        );
    }
    let (s, b) = send(
        stack
            .req(Method::POST, "/v1/chargers/BAD-16/commands?timeout_s=1")
            .json(&json!({"type": "clear_cache"})),
    )
    .await;
    assert_eq!(s, 400, "{b}");
    let (s, b) = send(
        stack
            .req(Method::POST, "/v1/chargers/BAD-16/commands?wait=60")
            .json(&json!({"type": "clear_cache"})),
    )
    .await;
    assert_eq!(s, 400, "{b}");
    let (s, _) = stack
        .post("/v1/chargers/NOPE/commands", json!({"type": "clear_cache"}))
        .await;
    assert_eq!(s, 404);
    let (s, _) = stack.get("/v1/commands/000000000000deadbeef").await;
    assert_eq!(s, 404);
    // Nothing reached the charger.
    let r = c.call("Heartbeat", json!({})).await;
    assert_eq!(
        r[0], 3,
        "the next frame is the Heartbeat answer, no CALL: {r}"
    );
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_work_the_same_on_the_aws_backend() {
    // The Lambda handlers on DynamoDB (moto), frames posted through the API Gateway management adapter to
    // the local gateway's real sockets.
    let m = cpms_tests::moto::moto();
    let stack = Stack::start_aws(&m.endpoint, &cpms_tests::moto::unique("cmd")).await;
    for v201 in [false, true] {
        let id = if v201 { "AWS-201" } else { "AWS-16" };
        let mut c = online(&stack, id, v201).await;
        for (cmd, a16, r16, a201, r201) in cases().into_iter().take(6) {
            let (action, answer) = if v201 { (a201, r201) } else { (a16, r16) };
            let (_, s, b) = round_trip(&stack, &mut c, id, &cmd, action, |call| {
                json!([3, call[1], answer])
            })
            .await;
            assert_eq!((s, &b["state"]), (202, &json!("answered")), "{cmd}: {b}");
            assert_eq!(b["result"], answer);
        }
        // A CallError, then a silent charger with a command queued behind the silent call.
        let (_, _, b) = round_trip(
            &stack,
            &mut c,
            id,
            &json!({"type": "clear_cache"}),
            "ClearCache",
            |call| json!([4, call[1], "InternalError", "", {}]),
        )
        .await;
        assert_eq!(b["state"], "error");
        let [_, second, _, _] = silent_call_then_queued(&stack, &mut c, id).await;
        c.close().await;
        let gone = command(&stack, &second, 10).await;
        assert_eq!(gone["state"], "failed", "{gone}");
    }
    stack.stop().await;
}
