//! Malformed input over the real WebSocket: every frame gets a spec-correct CallError (or, past API
//! Gateway's size limit, the offender's connection is closed), nothing panics, and another charger's
//! connection keeps working throughout.

use cpms_tests::{Charger, Stack};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::Frame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};

/// An over-long message id is echoed, so the charger can still match the error to its call.
const LONG_ID: &str = "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx";

async fn alive(witness: &mut Charger) {
    let r = witness.call("Heartbeat", json!({})).await;
    assert_eq!(r[0], 3, "the other charger is unaffected: {r}");
}

async fn answer(cp: &mut Charger, m: Message) -> Value {
    cp.send(m).await;
    cp.recv().await.expect("an answer")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_frames_get_call_errors_and_hurt_no_one_else() {
    let stack = Stack::start().await;
    stack.register("BAD").await;
    stack.register("GOOD").await;
    let mut good = Charger::connect(&stack, "GOOD", "ocpp2.0.1").await.unwrap();
    good.boot(true).await;
    let mut bad = Charger::connect(&stack, "BAD", "ocpp1.6").await.unwrap();
    bad.boot(false).await;

    let deep = format!(
        "[2,\"deep\",\"Heartbeat\",{}{}]",
        "[".repeat(50_000),
        "]".repeat(50_000)
    );
    let cases: Vec<(Message, &str, &str)> = vec![
        (Message::text("not json"), "-1", "FormationViolation"),
        (Message::text(""), "-1", "FormationViolation"),
        (Message::text("null"), "-1", "FormationViolation"),
        (Message::text("{\"a\":1}"), "-1", "FormationViolation"),
        (Message::text("[2]"), "-1", "FormationViolation"),
        (
            Message::text("[2,\"a\",\"Heartbeat\"]"),
            "a",
            "FormationViolation",
        ),
        (
            Message::text("[2,\"a\",\"Heartbeat\",{},{}]"),
            "a",
            "FormationViolation",
        ),
        (
            Message::text("[9,\"a\",\"Heartbeat\",{}]"),
            "a",
            "FormationViolation",
        ),
        (
            Message::text(format!("[2,\"{}\",\"Heartbeat\",{{}}]", "x".repeat(37))),
            LONG_ID,
            "FormationViolation",
        ),
        (Message::text(deep), "deep", "FormationViolation"),
        (
            Message::text(
                "[2,\"n\",\"StatusNotification\",{\"connectorId\":\"1\",\"status\":\"Available\",\"errorCode\":\"NoError\"}]",
            ),
            "n",
            "TypeConstraintViolation",
        ),
        (
            Message::text("[2,\"t\",\"Heartbeat\",{\"x\":1e999}]"),
            "t",
            "FormationViolation",
        ),
        (
            Message::binary(b"[2,\"b\",\"Authorize\",{}]".to_vec()),
            "b",
            "OccurenceConstraintViolation",
        ),
        (
            Message::text("[2,\"u\",\"Authorize\",{\"idTag\":\"\\ud800\"}]"),
            "u",
            "FormationViolation",
        ),
    ];
    for (msg, id, code) in cases {
        let shown = format!("{msg:?}").chars().take(80).collect::<String>();
        let r = answer(&mut bad, msg).await;
        assert_eq!(
            (r[0].clone(), r[1].clone(), r[2].clone()),
            (json!(4), json!(id), json!(code)),
            "{shown}"
        );
        alive(&mut good).await;
    }
    // invalid UTF-8 inside a text frame
    let frame = Frame::message(
        b"[2,\"x\",\"Authorize\",{\"idTag\":\"\xff\"}]".to_vec(),
        OpCode::Data(Data::Text),
        true,
    );
    let r = answer(&mut bad, Message::Frame(frame)).await;
    assert_eq!(r[0], 4);
    alive(&mut good).await;
    // a thousand calls without waiting are all answered, in order
    for i in 0..1000 {
        bad.send(Message::text(
            json!([2, format!("p{i}"), "Heartbeat", {}]).to_string(),
        ))
        .await;
    }
    for i in 0..1000 {
        let r = bad.recv().await.unwrap();
        assert_eq!(r[1], format!("p{i}"));
    }
    alive(&mut good).await;
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_10_mb_frame_closes_only_the_sender() {
    let stack = Stack::start().await;
    stack.register("BIG").await;
    stack.register("GOOD").await;
    let mut good = Charger::connect(&stack, "GOOD", "ocpp1.6").await.unwrap();
    good.boot(false).await;
    let mut big = Charger::connect(&stack, "BIG", "ocpp1.6").await.unwrap();
    let huge = format!(
        "[2,\"h\",\"DataTransfer\",{{\"vendorId\":\"x\",\"data\":\"{}\"}}]",
        "a".repeat(10 << 20)
    );
    // the server may close before the client has written all of it
    if big.try_send(Message::text(huge)).await {
        assert!(
            big.recv().await.is_none(),
            "the oversized sender is disconnected"
        );
    }
    alive(&mut good).await;
    // just under the limit is fine
    let mut big = Charger::connect(&stack, "BIG", "ocpp1.6").await.unwrap();
    big.boot(false).await;
    let ok = format!(
        "[2,\"h\",\"DataTransfer\",{{\"vendorId\":\"x\",\"data\":\"{}\"}}]",
        "a".repeat(100 << 10)
    );
    let r = answer(&mut big, Message::text(ok)).await;
    assert_eq!(r[2]["status"], "UnknownVendorId");
    stack.stop().await;
}
