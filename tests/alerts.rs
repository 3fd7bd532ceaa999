//! Fault detection, incidents and notifications through the local stack over real sockets: a charger
//! reports Faulted, an incident opens, a real HTTP receiver gets the signed webhook, the remedy ladder
//! sends its steps, the charger recovers and the incident resolves by itself; a site whose chargers all
//! disconnect makes one site incident; a flapping connector makes at most one incident; a maintenance
//! window silences alerts and records planned time; a silent charger is found offline; e-mail reaches a
//! real SMTP server; an unacknowledged incident escalates to its second tier (injected clock).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cpms_tests::{Charger, Stack, Tuning};
use hmac::{Hmac, Mac};
use reqwest::Method;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

/// What a webhook receiver got: headers that matter and the body.
#[derive(Debug, Clone)]
struct Hook {
    signature: String,
    event_id: String,
    body: Vec<u8>,
    at: Instant,
}

/// A real HTTP server receiving webhooks on port 0; answers `status` (shared, changeable).
struct Receiver {
    url: String,
    got: Arc<Mutex<Vec<Hook>>>,
    status: Arc<Mutex<u16>>,
}

impl Receiver {
    async fn start() -> Self {
        let got: Arc<Mutex<Vec<Hook>>> = Arc::default();
        let status = Arc::new(Mutex::new(200u16));
        let (g, s) = (got.clone(), status.clone());
        let app = axum::Router::new().route(
            "/hook",
            axum::routing::post(
                move |headers: axum::http::HeaderMap, body: axum::body::Bytes| {
                    let (g, s) = (g.clone(), s.clone());
                    async move {
                        let h = |n: &str| {
                            headers
                                .get(n)
                                .and_then(|v| v.to_str().ok())
                                .unwrap_or("")
                                .to_string()
                        };
                        g.lock().unwrap().push(Hook {
                            signature: h("x-cpms-signature"),
                            event_id: h("x-cpms-event-id"),
                            body: body.to_vec(),
                            at: Instant::now(),
                        });
                        axum::http::StatusCode::from_u16(*s.lock().unwrap()).unwrap()
                    }
                },
            ),
        );
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", l.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(l, app).await.unwrap() });
        Receiver { url, got, status }
    }

    fn bodies(&self) -> Vec<Value> {
        self.got
            .lock()
            .unwrap()
            .iter()
            .map(|h| serde_json::from_slice(&h.body).unwrap())
            .collect()
    }

    /// Waits until a webhook of `kind` (`incident.triggered`, ...) arrived; returns it.
    async fn wait(&self, kind: &str, within: Duration) -> Hook {
        let end = Instant::now() + within;
        loop {
            let found = self
                .got
                .lock()
                .unwrap()
                .iter()
                .find(|h| serde_json::from_slice::<Value>(&h.body).is_ok_and(|b| b["type"] == kind))
                .cloned();
            if let Some(h) = found {
                return h;
            }
            assert!(
                Instant::now() < end,
                "no {kind} webhook; got {:?}",
                self.bodies()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// Checks a signature header `t=<unix>,v1=<hex>` over `"<t>.<body>"`.
fn verify(secret: &str, header: &str, body: &[u8]) -> bool {
    let mut t = "";
    let mut v1 = "";
    for part in header.split(',') {
        match part.split_once('=') {
            Some(("t", x)) => t = x,
            Some(("v1", x)) => v1 = x,
            _ => {}
        }
    }
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{t}.").as_bytes());
    mac.update(body);
    let Ok(sig) = hex::decode(v1) else {
        return false;
    };
    mac.verify_slice(&sig).is_ok()
}

async fn webhook(stack: &Stack, url: &str) -> (String, String) {
    let (s, b) = stack
        .post(
            "/v1/alert-channels",
            json!({"name": "on-call hook", "target": {"kind": "webhook", "url": url}}),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    (
        b["id"].as_str().unwrap().into(),
        b["secret"].as_str().unwrap().into(),
    )
}

async fn patch_rules(stack: &Stack, body: Value) {
    let (s, b) = cpms_tests::send(stack.req(Method::PATCH, "/v1/alert-rules").json(&body)).await;
    assert_eq!(s, 200, "{b}");
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Sends a StatusNotification and waits for its answer, accepting any call the CSMS makes meanwhile
/// (remedies).
async fn status(c: &mut Charger, connector: u32, status: &str, code: &str) {
    let id = format!("st-{}", rand_id());
    let p =
        json!({"connectorId": connector, "status": status, "errorCode": code, "timestamp": now()});
    c.send(Message::text(
        json!([2, id, "StatusNotification", p]).to_string(),
    ))
    .await;
    loop {
        let f = c.recv().await.expect("an answer");
        if f[0] == 2 {
            let answer = json!([3, f[1], {"status": "Accepted"}]);
            c.send(Message::text(answer.to_string())).await;
            continue;
        }
        if f[1] == id.as_str() {
            assert_eq!(f[0], 3, "{f}");
            return;
        }
    }
}

fn rand_id() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

async fn incidents(stack: &Stack, query: &str) -> Vec<Value> {
    let (s, b) = stack.get(&format!("/v1/incidents?{query}")).await;
    assert_eq!(s, 200, "{b}");
    b["items"].as_array().unwrap().clone()
}

/// Answers the CSMS's calls like a charger whose fault a reset clears: a TriggerMessage is accepted
/// and the connector reported (still Faulted); a Reset is accepted and the connector then reports
/// Available. Returns the actions it was sent, in order, once it has been reset.
async fn recover_on_reset(c: &mut Charger) -> Vec<String> {
    let mut actions = Vec::new();
    let end = Instant::now() + Duration::from_secs(20);
    while Instant::now() < end {
        let Some(f) = c.recv().await else { break };
        if f[0] != 2 {
            continue;
        }
        let action = f[2].as_str().unwrap().to_string();
        actions.push(action.clone());
        let answer = json!([3, f[1], {"status": "Accepted"}]);
        c.send(Message::text(answer.to_string())).await;
        match action.as_str() {
            "TriggerMessage" => {
                let m = json!([2, "st-trig", "StatusNotification", {"connectorId": 1, "status": "Faulted", "errorCode": "GroundFailure", "timestamp": now()}]);
                c.send(Message::text(m.to_string())).await;
            }
            "Reset" => {
                let m = json!([2, "st-ok", "StatusNotification", {"connectorId": 1, "status": "Available", "errorCode": "NoError", "timestamp": now()}]);
                c.send(Message::text(m.to_string())).await;
                return actions;
            }
            _ => {}
        }
    }
    actions
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fault_opens_an_incident_notifies_remedies_and_resolves_by_itself() {
    fault_to_resolution(Stack::start().await, Duration::from_secs(2)).await;
}

/// The same on the AWS backend: the handlers on DynamoDB (the emulator), the consumers fed from the
/// table's stream as the relay and the queues do. Events reach the alerts consumer through moto's
/// stream, polled: the bound is the emulator's, not the system's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fault_opens_an_incident_and_resolves_by_itself_on_aws() {
    let m = cpms_tests::moto::moto();
    let table = cpms_tests::moto::unique("alerts");
    let stack = Stack::start_aws_tuned(&m.endpoint, &table, Tuning::default()).await;
    fault_to_resolution(stack, Duration::from_secs(10)).await;
}

async fn fault_to_resolution(stack: Stack, within: Duration) {
    let hook = Receiver::start().await;
    let (_, secret) = webhook(&stack, &hook.url).await;
    stack.register("AL-1").await;
    // Quick checks and hysteresis for this charger only (an override), the built-in ladder. A remedy
    // is checked 3 s after it is sent: the charger's Available after its reset must be stored by then,
    // also on a loaded machine (1 s was missed now and then).
    patch_rules(
        &stack,
        json!({"overrides": [{"scope": {"kind": "charger", "charger_id": "AL-1"}, "rule": "connector_faulted",
            "settings": {"clear_after_s": 1, "check_after_s": 3}}]}),
    )
    .await;
    let mut c = Charger::connect(&stack, "AL-1", "ocpp1.6").await.unwrap();
    c.boot(false).await;
    status(&mut c, 1, "Available", "NoError").await;

    let sent = Instant::now();
    status(&mut c, 1, "Faulted", "GroundFailure").await;
    // An incident opens in time, and the webhook arrives signed.
    let end = sent + within;
    let incident = loop {
        if let Some(i) = incidents(&stack, "charger_id=AL-1").await.first() {
            break i.clone();
        }
        assert!(Instant::now() < end, "no incident within {within:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let opened = sent.elapsed();
    assert_eq!(incident["rule"], "connector_faulted");
    assert_eq!(incident["severity"], "major");
    assert_eq!(incident["resource"]["connector_id"], 1);
    let h = hook.wait("incident.triggered", within).await;
    assert!(
        verify(&secret, &h.signature, &h.body),
        "signature {}",
        h.signature
    );
    assert!(!verify("another secret", &h.signature, &h.body));
    let body: Value = serde_json::from_slice(&h.body).unwrap();
    assert_eq!(body["event_id"], h.event_id);
    assert_eq!(body["incident"]["id"], incident["id"]);
    eprintln!(
        "status frame to incident {:?}, to webhook {:?}",
        opened,
        h.at.duration_since(sent)
    );

    // The ladder: a status trigger first (still faulted), then a soft reset, which clears it.
    let actions = recover_on_reset(&mut c).await;
    assert_eq!(actions, ["TriggerMessage", "Reset"], "{actions:?}");
    let id = incident["id"].as_str().unwrap().to_string();
    let done = stack
        .wait_for(&format!("/v1/incidents/{id}"), |v| v["state"] == "resolved")
        .await;
    assert_eq!(done["auto_resolved"], true);
    assert_eq!(done["remedy"]["cleared_by"], "soft_reset", "{done}");
    let kinds: Vec<&str> = done["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    for k in ["opened", "notification", "remedy", "resolved"] {
        assert!(kinds.contains(&k), "{k} missing from {kinds:?}");
    }
    let resolved = hook
        .wait("incident.resolved", within + Duration::from_secs(5))
        .await;
    assert!(verify(&secret, &resolved.signature, &resolved.body));
    // The delivery log shows each notice delivered once, with its attempt.
    // (the receiver may see a notice before its attempt is recorded)
    let d = stack
        .wait_for(&format!("/v1/incidents/{id}/deliveries"), |v| {
            v["items"]
                .as_array()
                .is_some_and(|d| d.iter().all(|x| x["state"] == "delivered"))
        })
        .await;
    let d = d["items"].as_array().unwrap();
    assert_eq!(d.len(), 2, "{d:?}");
    assert!(d.iter().all(|x| x["attempts"][0]["status"] == 200), "{d:?}");
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_chargers_of_a_site_going_down_together_make_one_site_incident() {
    let stack = Stack::start().await;
    let site = json!({"id": "s1", "name": "Depot", "address": {"street": "1 Road", "city": "Utrecht", "country": "NLD"},
        "coordinates": {"latitude": 52.1, "longitude": 5.1}, "time_zone": "Europe/Amsterdam"});
    assert_eq!(stack.post("/v1/sites", site).await.0, 201);
    patch_rules(
        &stack,
        json!({"rules": {"charger_offline": {"disconnected_s": 1}}}),
    )
    .await;
    let ids: Vec<String> = (0..50).map(|i| format!("SITE-{i:02}")).collect();
    let mut chargers = Vec::new();
    for id in &ids {
        stack.register(id).await;
        let (s, b) = cpms_tests::send(
            stack
                .req(Method::PATCH, &format!("/v1/chargers/{id}"))
                .json(&json!({"site_id": "s1"})),
        )
        .await;
        assert_eq!(s, 200, "{b}");
        let mut c = Charger::connect(&stack, id, "ocpp1.6").await.unwrap();
        c.boot(false).await;
        chargers.push(c);
    }
    // Every watch is armed before the power goes.
    tokio::time::sleep(Duration::from_millis(500)).await;
    futures_util::future::join_all(chargers.into_iter().map(|c| c.close())).await;
    let v = stack
        .wait_for("/v1/incidents?rule=site_offline", |v| {
            v["items"][0]["chargers"]
                .as_array()
                .is_some_and(|c| c.len() == 50)
        })
        .await;
    assert_eq!(v["items"].as_array().unwrap().len(), 1, "{v}");
    assert_eq!(v["items"][0]["severity"], "critical");
    // Give stragglers time: still one incident, and no charger incident of its own.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let open = incidents(&stack, "state=all").await;
    assert_eq!(open.len(), 1, "{open:?}");

    // The site comes back: its incident resolves by itself.
    let mut back = Vec::new();
    for id in &ids {
        let mut c = Charger::connect(&stack, id, "ocpp1.6").await.unwrap();
        c.boot(false).await;
        back.push(c);
    }
    let id = v["items"][0]["id"].as_str().unwrap().to_string();
    stack
        .wait_for(&format!("/v1/incidents/{id}"), |v| v["state"] == "resolved")
        .await;
    let open = incidents(&stack, "").await;
    assert!(open.is_empty(), "{open:?}");
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connector_flapping_twenty_times_in_a_minute_makes_at_most_one_incident() {
    let stack = Stack::start().await;
    let hook = Receiver::start().await;
    webhook(&stack, &hook.url).await;
    stack.register("AL-FLAP").await;
    let mut c = Charger::connect(&stack, "AL-FLAP", "ocpp1.6")
        .await
        .unwrap();
    c.boot(false).await;
    for i in 0..20 {
        if i % 2 == 0 {
            status(&mut c, 1, "Faulted", "GroundFailure").await;
        } else {
            status(&mut c, 1, "Available", "NoError").await;
        }
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let all = incidents(&stack, "state=all&charger_id=AL-FLAP").await;
    assert!(all.len() <= 1, "{all:?}");
    assert_eq!(all.len(), 1, "the fault is reported once");
    let triggered = hook
        .bodies()
        .iter()
        .filter(|b| b["type"] == "incident.triggered")
        .count();
    assert_eq!(triggered, 1, "one notice, not one per flap");
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_maintenance_window_silences_alerts_and_records_planned_time() {
    let stack = Stack::start().await;
    stack.register("AL-MW").await;
    let start = chrono::Utc::now() - chrono::Duration::minutes(1);
    let (s, w) = stack
        .post(
            "/v1/maintenance-windows",
            json!({"scope": {"kind": "charger", "charger_id": "AL-MW"},
                "time": {"kind": "once", "start": start, "end": start + chrono::Duration::hours(2)},
                "reason": "replacing the cable"}),
        )
        .await;
    assert_eq!(s, 201, "{w}");
    let mut c = Charger::connect(&stack, "AL-MW", "ocpp1.6").await.unwrap();
    c.boot(false).await;
    status(&mut c, 1, "Faulted", "GroundFailure").await;
    let from = (chrono::Utc::now() - chrono::Duration::minutes(5))
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
        .replace('+', "%2B");
    let tl = stack
        .wait_for(&format!("/v1/chargers/AL-MW/timeline?from={from}"), |v| {
            v["entries"]
                .as_array()
                .is_some_and(|e| e.iter().any(|e| e["kind"] == "planned"))
        })
        .await;
    let planned = tl["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "planned")
        .unwrap()
        .clone();
    assert_eq!(planned["window_id"], w["id"]);
    assert_eq!(planned["rule"], "connector_faulted");
    assert!(incidents(&stack, "state=all").await.is_empty());
    stack.stop().await;
}

fn quick_heartbeats(hb: Duration) -> Tuning {
    Tuning {
        csms: cpms_app::CsmsConfig {
            heartbeat_interval: hb,
            last_seen_every: Duration::from_millis(500),
            ..Default::default()
        },
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_charger_that_silently_stops_talking_is_found_offline_in_time() {
    let hb = Duration::from_secs(2);
    let stack = Stack::start_tuned(quick_heartbeats(hb)).await;
    silent_charger(stack, hb, Duration::ZERO).await;
}

/// The same on the AWS backend, the sweep reading the watches' due index in DynamoDB; the reads and
/// writes per charger per minute of a fleet that keeps talking are counted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offline_detection_on_aws_with_its_units_per_charger_and_minute() {
    let m = cpms_tests::moto::moto();
    let hb = Duration::from_secs(2);
    let table = cpms_tests::moto::unique("offline");
    let stack = Stack::start_aws_tuned(&m.endpoint, &table, quick_heartbeats(hb)).await;
    // Checks every twice the heartbeat interval plus a grace of 3 s (a loaded test machine delays
    // the emulator's answers by seconds; the built-in grace is 60 s).
    patch_rules(
        &stack,
        json!({"rules": {"charger_offline": {"threshold_s": 3}}}),
    )
    .await;
    // Ten chargers heartbeat for half a minute: what watching them costs.
    let mut fleet = Vec::new();
    for i in 0..10 {
        let id = format!("AW-{i}");
        stack.register(&id).await;
        let mut c = Charger::connect(&stack, &id, "ocpp1.6").await.unwrap();
        c.boot(false).await;
        fleet.push(c);
    }
    // They keep heartbeating every interval (a round of ten takes about 0.7 s on the emulator): the
    // first seconds warm up, the next thirty are metered.
    let meter = stack.meter().expect("the aws backend meters its table");
    let started = Instant::now();
    let mut before = None;
    while started.elapsed() < Duration::from_secs(33) {
        if before.is_none() && started.elapsed() >= Duration::from_secs(3) {
            before = Some((meter.units(), Instant::now()));
        }
        let beats = fleet.iter_mut().map(|c| c.call("Heartbeat", json!({})));
        for r in futures_util::future::join_all(beats).await {
            assert_eq!(r[0], 3);
        }
        tokio::time::sleep(hb / 2).await;
    }
    let (before, metered) = before.expect("metered");
    let after = meter.units();
    let minutes = metered.elapsed().as_secs_f64() / 60.0;
    let per = |x: f64| x / 10.0 / minutes;
    // At a 2 s heartbeat a watch is checked about every 4 s; at the standard 300 s every 660 s.
    eprintln!(
        "per charger and minute at a 2 s heartbeat (heartbeats, last-seen writes, offline checks): \
         {:.1} read units, {:.1} write units, {:.1} read requests, {:.1} write requests",
        per(after.reads - before.reads),
        per(after.writes - before.writes),
        per((after.read_requests - before.read_requests) as f64),
        per((after.write_requests - before.write_requests) as f64),
    );
    let opened = incidents(&stack, "state=all").await;
    assert!(
        opened.is_empty(),
        "chargers that keep talking are not offline: {opened:?}"
    );
    for c in fleet {
        c.close().await;
    }
    silent_charger(stack, hb, Duration::from_secs(2)).await;
}

/// A charger goes silent with its connection open; found within twice its heartbeat interval plus the
/// sweep interval (plus `slack`: the emulator's stream), and back when it talks again.
async fn silent_charger(stack: Stack, hb: Duration, slack: Duration) {
    let sweep = Duration::from_secs(1);
    patch_rules(
        &stack,
        json!({"rules": {"charger_offline": {"threshold_s": 0}}}),
    )
    .await;
    stack.register("AL-SILENT").await;
    let mut c = Charger::connect(&stack, "AL-SILENT", "ocpp1.6")
        .await
        .unwrap();
    c.boot(false).await;
    let r = c.call("Heartbeat", json!({})).await;
    assert_eq!(r[0], 3);
    // From here on, nothing: no frame, no close (the connection stays open).
    let last = Instant::now();
    let found = loop {
        if let Some(i) = incidents(&stack, "charger_id=AL-SILENT").await.first() {
            break i.clone();
        }
        assert!(
            last.elapsed() < Duration::from_secs(15),
            "never found offline"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let took = last.elapsed();
    eprintln!("silent charger found offline after {took:?}");
    assert_eq!(found["rule"], "charger_offline");
    assert!(
        took <= hb * 2 + sweep + slack + Duration::from_millis(500),
        "found after {took:?}, bound {:?}",
        hb * 2 + sweep + slack
    );
    // It talks again: the incident resolves by itself.
    let r = c.call("Heartbeat", json!({})).await;
    assert_eq!(r[0], 3);
    let id = found["id"].as_str().unwrap().to_string();
    stack
        .wait_for(&format!("/v1/incidents/{id}"), |v| v["state"] == "resolved")
        .await;
    drop(c);
    stack.stop().await;
}

/// A real SMTP server (aiosmtpd) writing what it receives to a file.
struct SmtpSink {
    child: std::process::Child,
    port: u16,
    file: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

impl SmtpSink {
    fn start() -> Self {
        use std::io::BufRead;
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("mail.jsonl");
        let mut child = std::process::Command::new(cpms_tests::python())
            .arg(cpms_tests::root().join("tests/python/smtp_sink.py"))
            .arg(&file)
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("python with aiosmtpd (tests/python/requirements.txt)");
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line
            .trim()
            .strip_prefix("PORT ")
            .expect("PORT n")
            .parse()
            .unwrap();
        SmtpSink {
            child,
            port,
            file,
            _dir: dir,
        }
    }

    async fn messages(&self, n: usize) -> Vec<Value> {
        for _ in 0..200 {
            let text = std::fs::read_to_string(&self.file).unwrap_or_default();
            let v: Vec<Value> = text
                .lines()
                .map(|l| serde_json::from_str(l).unwrap())
                .collect();
            if v.len() >= n {
                return v;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the SMTP server did not get {n} messages");
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn e_mail_reaches_a_real_smtp_server() {
    let smtp = SmtpSink::start();
    let stack = Stack::start_tuned(Tuning {
        smtp: Some(format!("smtp://127.0.0.1:{}", smtp.port)),
        ..Default::default()
    })
    .await;
    let (s, ch) = stack
        .post(
            "/v1/alert-channels",
            json!({"name": "ops mail", "target": {"kind": "email", "to": ["ops@example.com"]}}),
        )
        .await;
    assert_eq!(s, 201, "{ch}");
    let id = ch["id"].as_str().unwrap();
    // A test notice, then a real incident.
    let (s, d) = stack
        .post(&format!("/v1/alert-channels/{id}/test"), json!({}))
        .await;
    assert_eq!(s, 200, "{d}");
    assert_eq!(d["state"], "delivered", "{d}");
    stack.register("AL-MAIL").await;
    let mut c = Charger::connect(&stack, "AL-MAIL", "ocpp1.6")
        .await
        .unwrap();
    c.boot(false).await;
    status(&mut c, 2, "Faulted", "HighTemperature").await;
    let mail = smtp.messages(2).await;
    assert_eq!(mail[0]["to"], json!(["ops@example.com"]));
    assert!(
        mail[0]["subject"].as_str().unwrap().contains("Test"),
        "{mail:?}"
    );
    let m = &mail[1];
    assert!(
        m["subject"].as_str().unwrap().contains("AL-MAIL EVSE 2"),
        "{m}"
    );
    assert!(
        m["body"].as_str().unwrap().contains("HighTemperature"),
        "{m}"
    );
    assert!(m["from"].as_str().unwrap().contains("alerts@cpms.test"));
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unacknowledged_incident_escalates_to_its_second_tier() {
    let clock = Arc::new(cpms_ports::clock::ManualClock::new(chrono::Utc::now()));
    let stack = Stack::start_tuned(Tuning {
        clock: Some(clock.clone()),
        ..Default::default()
    })
    .await;
    let first = Receiver::start().await;
    let second = Receiver::start().await;
    let (a, _) = webhook(&stack, &first.url).await;
    let (b, _) = webhook(&stack, &second.url).await;
    let (s, p) = stack
        .post(
            "/v1/escalation-policies",
            json!({"name": "on call", "tiers": [{"channels": [a], "delay_s": 600}, {"channels": [b], "delay_s": 900}]}),
        )
        .await;
    assert_eq!(s, 201, "{p}");
    patch_rules(&stack, json!({"default_policy": p["id"]})).await;
    stack.register("AL-ESC").await;
    let mut c = Charger::connect(&stack, "AL-ESC", "ocpp1.6").await.unwrap();
    c.boot(false).await;
    status(&mut c, 1, "Faulted", "GroundFailure").await;
    first
        .wait("incident.triggered", Duration::from_secs(3))
        .await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(
        second.bodies().is_empty(),
        "tier 2 is told only after the delay"
    );
    // Ten minutes pass with nobody acknowledging.
    clock.advance(chrono::Duration::seconds(601));
    let h = second
        .wait("incident.escalated", Duration::from_secs(5))
        .await;
    let body: Value = serde_json::from_slice(&h.body).unwrap();
    assert_eq!(body["tier"], 1);
    // Acknowledged: no further tier, and tier 1 hears of it.
    let id = body["incident"]["id"].as_str().unwrap().to_string();
    let (s, i) = stack
        .post(&format!("/v1/incidents/{id}/acknowledge"), json!({}))
        .await;
    assert_eq!(s, 200, "{i}");
    assert_eq!(i["state"], "acknowledged");
    first
        .wait("incident.acknowledged", Duration::from_secs(3))
        .await;
    assert!(
        i["entries"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["kind"] == "escalated")
    );
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_receiver_is_retried_and_logged() {
    let stack = Stack::start().await;
    let hook = Receiver::start().await;
    *hook.status.lock().unwrap() = 503;
    let (id, _) = webhook(&stack, &hook.url).await;
    let (s, d) = stack
        .post(&format!("/v1/alert-channels/{id}/test"), json!({}))
        .await;
    assert_eq!(s, 200, "{d}");
    assert_eq!(d["state"], "pending");
    assert_eq!(d["attempts"][0]["status"], 503);
    assert!(d["next_at"].is_string());
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_alerting_requests_get_problems() {
    let stack = Stack::start().await;
    let bad: Vec<(Method, &str, Value)> = vec![
        // A struct given as an array (serde would take it by position).
        (
            Method::PATCH,
            "/v1/alert-rules",
            json!({"overrides": [{"scope": {"kind": "charger", "charger_id": "X"}, "rule": "charger_offline", "settings": [true, "major"]}]}),
        ),
        (
            Method::PATCH,
            "/v1/alert-rules",
            json!({"rules": {"charger_offline": [false]}}),
        ),
        (
            Method::PATCH,
            "/v1/alert-rules",
            json!({"rules": {"no_such_rule": {}}}),
        ),
        (
            Method::PATCH,
            "/v1/alert-rules",
            json!({"rules": {"charger_offline": {"threshold_s": 99999999}}}),
        ),
        (
            Method::PATCH,
            "/v1/alert-rules",
            json!({"site_outage": {"percent": 0, "min_chargers": 3, "window_s": 60}}),
        ),
        (
            Method::PATCH,
            "/v1/alert-rules",
            json!({"default_policy": "no-such-policy"}),
        ),
        (
            Method::POST,
            "/v1/alert-channels",
            json!({"name": "x", "target": {"kind": "webhook", "url": "ftp://example.com"}}),
        ),
        (
            Method::POST,
            "/v1/alert-channels",
            json!({"name": "x", "target": {"kind": "webhook", "url": "https://x", "format": "pagerduty"}}),
        ),
        (
            Method::POST,
            "/v1/alert-channels",
            json!({"name": "x", "target": {"kind": "email", "to": ["not an address"]}}),
        ),
        (
            Method::POST,
            "/v1/alert-channels",
            json!({"name": "x", "target": ["webhook", "https://x"]}),
        ),
        (
            Method::POST,
            "/v1/escalation-policies",
            json!({"name": "p", "tiers": []}),
        ),
        (
            Method::POST,
            "/v1/escalation-policies",
            json!({"name": "p", "tiers": [{"channels": ["nope"], "delay_s": 600}]}),
        ),
        (
            Method::POST,
            "/v1/maintenance-windows",
            json!({"scope": {"kind": "site", "site_id": "s"}, "time": {"kind": "once", "start": "2026-12-02T00:00:00Z", "end": "2026-12-01T00:00:00Z"}}),
        ),
        (
            Method::POST,
            "/v1/maintenance-windows",
            json!({"scope": {"kind": "site", "site_id": "s"}, "time": {"kind": "weekly", "days": ["Mon"], "start": "02:00:00", "duration_min": 60, "time_zone": "Mars/Olympus"}}),
        ),
        (
            Method::PUT,
            "/v1/vendor-codes",
            json!({"vendor": "", "code": "E1", "severity": "major", "responsible": "vendor"}),
        ),
        (Method::POST, "/v1/incidents/nope/acknowledge", json!({})),
        (
            Method::POST,
            "/v1/incidents/nope/notes",
            json!({"text": ""}),
        ),
    ];
    for (m, path, body) in bad {
        let (s, b) = cpms_tests::send(stack.req(m.clone(), path).json(&body)).await;
        assert!((400..500).contains(&s), "{m} {path} {body}: {s} {b}");
        assert!(
            b["type"].is_string() && b["detail"].is_string(),
            "{m} {path}: {b}"
        );
    }
    for q in [
        "state=closed",
        "limit=0",
        "limit=501",
        "severity=huge",
        "rule=nope",
        "unknown=1",
    ] {
        let (s, b) = stack.get(&format!("/v1/incidents?{q}")).await;
        assert!((400..500).contains(&s), "{q}: {s} {b}");
    }
    let (s, _) = stack.get("/v1/stream?types=everything").await;
    assert_eq!(s, 400);
    stack.stop().await;
}

/// From a status frame to an open incident and its first webhook on the local stack, over 100 faults
/// on 25 chargers (4 connectors each) reported while the other chargers keep sending status: the
/// figures (p50, p99, max) are printed (the target, a p99 under 1 s, is read from them, not asserted:
/// a loaded test machine is no measure).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_frame_to_incident_and_webhook_latency() {
    let stack = Stack::start().await;
    let hook = Receiver::start().await;
    webhook(&stack, &hook.url).await;
    let mut chargers = Vec::new();
    for i in 0..25 {
        let id = format!("LAT-{i:02}");
        stack.register(&id).await;
        let mut c = Charger::connect(&stack, &id, "ocpp1.6").await.unwrap();
        c.boot(false).await;
        chargers.push((id, c));
    }
    let mut sent: Vec<(String, Instant)> = Vec::new();
    for connector in 1..=4u32 {
        for (id, c) in &mut chargers {
            sent.push((format!("{id}:{connector}"), Instant::now()));
            status(c, connector, "Faulted", "GroundFailure").await;
        }
    }
    // Every webhook arrives; each fault's latency is its frame to its webhook (the first, should a
    // receiver see one again: delivery is at least once, with an event id to deduplicate on).
    let distinct = || {
        let got = hook.got.lock().unwrap();
        let mut ids: Vec<&str> = got.iter().map(|h| h.event_id.as_str()).collect();
        ids.sort_unstable();
        ids.dedup();
        ids.len()
    };
    let end = Instant::now() + Duration::from_secs(30);
    while distinct() < sent.len() {
        assert!(
            Instant::now() < end,
            "{} of {} webhooks",
            distinct(),
            sent.len()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut h = hdrhistogram::Histogram::<u64>::new(3).unwrap();
    let mut seen = std::collections::HashSet::new();
    for hk in hook.got.lock().unwrap().iter() {
        if !seen.insert(hk.event_id.clone()) {
            continue;
        }
        let b: Value = serde_json::from_slice(&hk.body).unwrap();
        let key = format!(
            "{}:{}",
            b["incident"]["charger_id"].as_str().unwrap(),
            b["incident"]["resource"]
                .as_str()
                .unwrap()
                .rsplit(':')
                .nth(1)
                .unwrap()
        );
        let Some((_, at)) = sent.iter().find(|(k, _)| *k == key) else {
            panic!("a webhook of no fault sent: {b}");
        };
        h.record(hk.at.duration_since(*at).as_micros() as u64)
            .unwrap();
    }
    let ms = |q: f64| h.value_at_quantile(q) as f64 / 1000.0;
    eprintln!(
        "status frame to first webhook over {} faults: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        h.len(),
        ms(0.5),
        ms(0.99),
        h.max() as f64 / 1000.0
    );
    assert_eq!(h.len(), 100);
    let open = incidents(&stack, "limit=500").await;
    if open.len() != 100 {
        let all = incidents(&stack, "limit=500&state=all").await;
        let keys: Vec<String> = all
            .iter()
            .map(|i| format!("{} {} {}", i["resource"], i["state"], i["entries"]))
            .collect();
        let webhooks: Vec<String> = hook
            .bodies()
            .iter()
            .map(|b| format!("{} {}", b["kind"], b["incident"]["resource"]))
            .collect();
        panic!(
            "{} open, {} in all: {keys:#?}\nwebhooks: {webhooks:#?}",
            open.len(),
            all.len()
        );
    }
    stack.stop().await;
}

/// Sends a call and answers whatever the CSMS sends meanwhile with `{"status": answer}`; returns the
/// call's answer.
async fn call_answering(c: &mut Charger, action: &str, payload: Value, answer: &str) -> Value {
    let id = format!("c-{}", rand_id());
    c.send(Message::text(json!([2, id, action, payload]).to_string()))
        .await;
    loop {
        let f = c.recv().await.expect("an answer");
        if f[0] == 2 {
            let a = json!([3, f[1], {"status": answer}]);
            c.send(Message::text(a.to_string())).await;
            continue;
        }
        if f[1] == id.as_str() {
            return f;
        }
    }
}

/// A firmware update that fails opens an incident until an update installs; a tampering security
/// event opens a critical one while routine events (start-up) open none; commands the charger keeps
/// rejecting open one after the third.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_firmware_security_events_and_rejected_commands_open_incidents() {
    let stack = Stack::start().await;
    let hook = Receiver::start().await;
    webhook(&stack, &hook.url).await;
    stack.register("AL-FW").await;
    let mut c = Charger::connect(&stack, "AL-FW", "ocpp1.6").await.unwrap();
    c.boot(false).await;
    let by_rule = |rule: &'static str| format!("/v1/incidents?rule={rule}&state=all");

    // Firmware: progress opens nothing, a failure opens, an installed update resolves.
    for s in ["Downloading", "Downloaded", "Installing"] {
        let r = c
            .call("FirmwareStatusNotification", json!({"status": s}))
            .await;
        assert_eq!(r[0], 3, "{r}");
    }
    let r = c
        .call(
            "FirmwareStatusNotification",
            json!({"status": "InstallationFailed"}),
        )
        .await;
    assert_eq!(r[0], 3, "{r}");
    let v = stack
        .wait_for(&by_rule("firmware_failed"), |v| {
            v["items"].as_array().is_some_and(|i| !i.is_empty())
        })
        .await;
    let fw = &v["items"][0];
    assert_eq!(fw["severity"], "warning");
    assert!(
        fw["detail"]
            .as_str()
            .unwrap()
            .contains("InstallationFailed"),
        "{fw}"
    );
    let id = fw["id"].as_str().unwrap().to_string();
    let r = c
        .call("FirmwareStatusNotification", json!({"status": "Installed"}))
        .await;
    assert_eq!(r[0], 3, "{r}");
    let done = stack
        .wait_for(&format!("/v1/incidents/{id}"), |v| v["state"] == "resolved")
        .await;
    assert_eq!(done["auto_resolved"], true);

    // Security events: a routine one is logged only; tampering is critical, and notified.
    let sec = |t: &str| json!({"type": t, "timestamp": now(), "techInfo": "door sensor 2"});
    let r = c
        .call("SecurityEventNotification", sec("StartupOfTheDevice"))
        .await;
    assert_eq!(r[0], 3, "{r}");
    let r = c
        .call("SecurityEventNotification", sec("TamperDetectionActivated"))
        .await;
    assert_eq!(r[0], 3, "{r}");
    let v = stack
        .wait_for(&by_rule("security_event"), |v| {
            v["items"].as_array().is_some_and(|i| !i.is_empty())
        })
        .await;
    let items = v["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "the start-up opened nothing: {v}");
    assert_eq!(items[0]["severity"], "critical");
    assert!(
        items[0]["detail"]
            .as_str()
            .unwrap()
            .starts_with("TamperDetectionActivated: door sensor 2"),
        "{v}"
    );
    let h = hook
        .wait("incident.triggered", Duration::from_secs(5))
        .await;
    let body: Value = serde_json::from_slice(&h.body).unwrap();
    assert!(body["incident"]["rule"].is_string(), "{body}");
    let (_, tl) = stack.get("/v1/chargers/AL-FW/timeline").await;
    let kinds: Vec<&str> = tl["entries"]
        .as_array()
        .map(|i| i.iter().filter_map(|e| e["kind"].as_str()).collect())
        .unwrap_or_default();
    assert!(kinds.contains(&"security"), "{tl}");

    // Commands: two rejections are within the rule's count, the third opens an incident.
    for n in 1..=3 {
        let (s, b) = stack
            .post(
                "/v1/chargers/AL-FW/commands",
                json!({"type": "unlock_connector", "evse_id": 1}),
            )
            .await;
        assert_eq!(s, 202, "{b}");
        let r = call_answering(&mut c, "Heartbeat", json!({}), "UnlockFailed").await;
        assert_eq!(r[0], 3, "{r}");
        let cmd = stack
            .wait_for(
                &format!("/v1/commands/{}", b["id"].as_str().unwrap()),
                |v| v["state"] == "answered",
            )
            .await;
        assert_eq!(cmd["status"], "UnlockFailed", "{cmd}");
        if n < 3 {
            tokio::time::sleep(Duration::from_millis(300)).await;
            assert!(incidents(&stack, "rule=command_failed").await.is_empty());
        }
    }
    let v = stack
        .wait_for("/v1/incidents?rule=command_failed", |v| {
            v["items"].as_array().is_some_and(|i| !i.is_empty())
        })
        .await;
    assert!(
        v["items"][0]["detail"]
            .as_str()
            .unwrap()
            .contains("UnlockConnector"),
        "{v}"
    );
    stack.stop().await;
}
