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

/// A raw WebSocket client over TCP, for frames no library would send.
mod raw {
    use base64::Engine;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;

    pub async fn connect(stack: &cpms_tests::Stack, id: &str) -> TcpStream {
        let addr = stack
            .ws
            .trim_start_matches("ws://")
            .trim_end_matches("/ocpp")
            .to_string();
        let mut s = TcpStream::connect(&addr).await.unwrap();
        let auth = base64::engine::general_purpose::STANDARD
            .encode(format!("{id}:{}", cpms_tests::PASSWORD));
        let req = format!(
            "GET /ocpp/{id} HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
             Sec-WebSocket-Protocol: ocpp1.6\r\nAuthorization: Basic {auth}\r\n\r\n"
        );
        s.write_all(req.as_bytes()).await.unwrap();
        let mut head = Vec::new();
        let mut b = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            s.read_exact(&mut b).await.unwrap();
            head.push(b[0]);
        }
        assert!(
            head.starts_with(b"HTTP/1.1 101"),
            "{}",
            String::from_utf8_lossy(&head)
        );
        s
    }

    /// A frame: FIN, `opcode`, masked or not, `payload` (under 126 bytes, or 16-bit length).
    pub fn frame(opcode: u8, masked: bool, payload: &[u8]) -> Vec<u8> {
        let mut f = vec![0x80 | opcode];
        let m = if masked { 0x80 } else { 0 };
        if payload.len() < 126 {
            f.push(m | payload.len() as u8);
        } else {
            f.push(m | 126);
            f.extend_from_slice(&(payload.len() as u16).to_be_bytes());
        }
        if masked {
            let key = [1u8, 2, 3, 4];
            f.extend_from_slice(&key);
            f.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
        } else {
            f.extend_from_slice(payload);
        }
        f
    }

    /// The close code of the first Close frame the server sends (`None`: the connection ended without
    /// one).
    pub async fn close_code(s: &mut TcpStream) -> Option<u16> {
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        loop {
            // Frames from the server are unmasked: [0x88, len, code_hi, code_lo, ...]
            let mut i = 0;
            while i + 2 <= buf.len() {
                let op = buf[i] & 0x0f;
                let len = (buf[i + 1] & 0x7f) as usize;
                if op == 8 && i + 4 <= buf.len() && len >= 2 {
                    return Some(u16::from_be_bytes([buf[i + 2], buf[i + 3]]));
                }
                i += 2 + len;
            }
            match tokio::time::timeout(std::time::Duration::from_secs(5), s.read(&mut chunk)).await
            {
                Ok(Ok(0)) | Ok(Err(_)) | Err(_) => return None,
                Ok(Ok(n)) => buf.extend_from_slice(&chunk[..n]),
            }
        }
    }
}

#[tokio::test]
async fn protocol_violations_get_a_close_frame_with_the_rfc_6455_code() {
    use tokio::io::AsyncWriteExt;
    let stack = Stack::start().await;
    stack.register("RAW").await;
    let boot = br#"[2,"b","BootNotification",{"chargePointVendor":"V","chargePointModel":"M"}]"#;
    let cases: Vec<(&str, Vec<u8>, u16)> = vec![
        ("unmasked", raw::frame(1, false, boot), 1002),
        // (the WebSocket layer says 1003, "unsupported data", for an opcode it does not know)
        ("reserved opcode", raw::frame(3, true, b"x"), 1003),
        (
            "over 128 KiB",
            {
                let mut f = vec![0x81, 0x80 | 127];
                f.extend_from_slice(&((200u64 << 10).to_be_bytes()));
                f.extend_from_slice(&[0, 0, 0, 0]);
                f
            },
            1009,
        ),
    ];
    for (what, bytes, code) in cases {
        let mut s = raw::connect(&stack, "RAW").await;
        s.write_all(&bytes).await.unwrap();
        assert_eq!(raw::close_code(&mut s).await, Some(code), "{what}");
    }
    stack.stop().await;
}

#[tokio::test]
async fn a_call_whose_message_type_is_text_is_answered() {
    let stack = Stack::start().await;
    for (id, proto, code) in [
        ("TXT16", "ocpp1.6", "FormationViolation"),
        ("TXT201", "ocpp2.0.1", "RpcFrameworkError"),
    ] {
        stack.register(id).await;
        let mut cp = Charger::connect(&stack, id, proto).await.unwrap();
        let r = answer(&mut cp, Message::text(r#"["2","s","Heartbeat",{}]"#)).await;
        assert_eq!(
            (r[0].clone(), r[1].clone(), r[2].clone()),
            (json!(4), json!("s"), json!(code)),
            "{r}"
        );
    }
    stack.stop().await;
}
