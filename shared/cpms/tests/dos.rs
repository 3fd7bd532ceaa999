//! Denial of service against the real binary: silent connections cannot take every descriptor, and
//! connections that never finish their handshake or request are reaped within seconds.

mod common;

use std::time::{Duration, Instant};

use common::{KEY, Ws, free_port, start_with};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

async fn open_many(port: u16, n: usize, send: &'static [u8]) -> Vec<TcpStream> {
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        match TcpStream::connect(("127.0.0.1", port)).await {
            Ok(mut s) => {
                if !send.is_empty() {
                    let _ = s.write_all(send).await;
                }
                out.push(s);
            }
            Err(_) => break,
        }
    }
    out
}

/// How many of the sockets the server has closed (a read sees the end, or an error).
async fn closed(socks: &mut [TcpStream]) -> usize {
    let mut n = 0;
    let mut buf = [0u8; 512];
    for s in socks.iter_mut() {
        match tokio::time::timeout(Duration::from_millis(5), s.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => n += 1,
            Ok(Ok(_)) => {
                // An answer (a 408): the server then closes; count it once it did.
                if let Ok(Ok(0)) =
                    tokio::time::timeout(Duration::from_millis(50), s.read(&mut buf)).await
                {
                    n += 1;
                }
            }
            Err(_) => {}
        }
    }
    n
}

async fn charger_gets_in(ws: u16, api: &str) -> Duration {
    let http = reqwest::Client::new();
    let t0 = Instant::now();
    let r = http
        .post(format!("{api}/v1/chargers"))
        .bearer_auth(KEY)
        .json(&json!({"id": "DOS-CP", "password": "dos-password-00001"}))
        .timeout(Duration::from_secs(5))
        .send()
        .await
        .expect("the API answers");
    assert!(
        r.status().is_success() || r.status() == 409,
        "{}",
        r.status()
    );
    let connect = common::connect_charger(ws, "DOS-CP", "dos-password-00001", "ocpp1.6");
    let mut socket = tokio::time::timeout(Duration::from_secs(5), connect)
        .await
        .expect("in time")
        .expect("the charger gets in");
    use futures_util::{SinkExt, StreamExt};
    socket
        .send(tokio_tungstenite::tungstenite::Message::text(
            json!([2, "b", "BootNotification", {"chargePointVendor": "V", "chargePointModel": "M"}]).to_string(),
        ))
        .await
        .unwrap();
    let answer = tokio::time::timeout(Duration::from_secs(5), socket.next())
        .await
        .expect("answered in time")
        .unwrap()
        .unwrap();
    assert!(answer.to_text().unwrap().contains("Accepted"), "{answer:?}");
    t0.elapsed()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_connections_cannot_take_every_descriptor() {
    rlimit::increase_nofile_limit(u64::MAX).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (ws, http) = (free_port(), free_port());
    // A long header deadline, so that only the caps keep the server reachable.
    let s = start_with(
        dir.path(),
        ws,
        http,
        &["--header-timeout", "60"],
        Some(1024),
    )
    .await;
    let idle = open_many(ws, 1100, b"").await;
    assert_eq!(idle.len(), 1100);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let took = charger_gets_in(ws, &s.api()).await;
    let fds = s.open_fds();
    eprintln!(
        "1,100 silent connections: server holds {fds} descriptors; a charger got in in {took:?}"
    );
    assert!(fds < 1024, "{fds}");
    drop(idle);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_open_connections_and_unfinished_requests_are_reaped() {
    rlimit::increase_nofile_limit(u64::MAX).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (ws, http) = (free_port(), free_port());
    let args = ["--header-timeout", "2", "--request-timeout", "3"];
    let s = start_with(dir.path(), ws, http, &args, None).await;
    let base = s.open_fds();
    let mut half_ws = open_many(ws, 1000, b"GET /ocpp/X HTTP/1.1\r\nHost: x\r\n").await;
    let mut half_api = open_many(http, 100, b"GET /v1/chargers HTTP/1.1\r\n").await;
    let body = b"POST /v1/tokens HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{";
    let mut unfinished = open_many(http, 50, body).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let peak = s.open_fds();
    tokio::time::sleep(Duration::from_secs(4)).await;
    let after = s.open_fds();
    let (a, b, c) = (
        closed(&mut half_ws).await,
        closed(&mut half_api).await,
        closed(&mut unfinished).await,
    );
    eprintln!(
        "server descriptors: {base} before, {peak} with 1,150 half-open, {after} 4.5 s later"
    );
    assert_eq!((a, b, c), (1000, 100, 50), "all reaped");
    assert!(after < base + 20, "{base} -> {after}");
}

async fn charger(ws: u16, api: &str, id: &str) -> Ws {
    common::register_charger(api, id, "dos-password-00001").await;
    let mut s = common::connect_charger(ws, id, "dos-password-00001", "ocpp1.6")
        .await
        .unwrap();
    let boot =
        json!([2, "b", "BootNotification", {"chargePointVendor": "V", "chargePointModel": "M"}]);
    roundtrip(&mut s, boot.to_string()).await;
    s
}

/// Sends a frame and waits for the answer; how long that took.
async fn roundtrip(s: &mut Ws, frame: String) -> Duration {
    use futures_util::{SinkExt, StreamExt};
    let t0 = Instant::now();
    s.send(tokio_tungstenite::tungstenite::Message::text(frame))
        .await
        .unwrap();
    loop {
        match s.next().await {
            Some(Ok(m)) if m.is_text() => return t0.elapsed(),
            Some(Ok(_)) => continue,
            other => panic!("no answer: {other:?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn junk_frames_do_not_hold_up_other_chargers() {
    let dir = tempfile::tempdir().unwrap();
    let (ws, http) = (free_port(), free_port());
    let s = start_with(dir.path(), ws, http, &[], None).await;
    let api = s.api();
    let junk = format!("[2,\"j\",\"Heartbeat\",{{{}}}]", " ,".repeat(61_000));
    let until = Instant::now() + Duration::from_secs(3);
    let mut senders = Vec::new();
    for i in 0..4 {
        let mut c = charger(ws, &api, &format!("JUNK-{i}")).await;
        let junk = junk.clone();
        senders.push(tokio::spawn(async move {
            let mut worst = Duration::ZERO;
            let mut n = 0;
            while Instant::now() < until {
                worst = worst.max(roundtrip(&mut c, junk.clone()).await);
                n += 1;
            }
            (n, worst)
        }));
    }
    let mut good = Vec::new();
    for i in 0..10 {
        let mut c = charger(ws, &api, &format!("GOOD-{i}")).await;
        good.push(tokio::spawn(async move {
            let mut worst = Duration::ZERO;
            let mut k = 0;
            while Instant::now() < until {
                k += 1;
                let hb = format!("[2,\"h{k}\",\"Heartbeat\",{{}}]");
                worst = worst.max(roundtrip(&mut c, hb).await);
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            worst
        }));
    }
    let mut junk_worst = Duration::ZERO;
    let mut junk_frames = 0;
    for t in senders {
        let (n, w) = t.await.unwrap();
        junk_frames += n;
        junk_worst = junk_worst.max(w);
    }
    let mut good_worst = Duration::ZERO;
    for t in good {
        good_worst = good_worst.max(t.await.unwrap());
    }
    eprintln!(
        "{junk_frames} junk frames of 120 KiB answered, slowest in {junk_worst:?}; slowest good Heartbeat {good_worst:?}"
    );
    // Loose bounds for a debug build on a shared machine (the release figures are in the README).
    assert!(junk_worst < Duration::from_secs(1), "{junk_worst:?}");
    assert!(good_worst < Duration::from_secs(1), "{good_worst:?}");
}
