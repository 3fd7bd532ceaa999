//! One simulated charger, as a real one behaves: connect (again, with backoff, when the CSMS goes away),
//! boot (waiting out `Pending`), run its sessions with meter values in OCPP 1.6 or 2.0.1, answer the
//! CSMS's calls at any time (a reset reboots it, a remote start starts a session, a remote stop stops
//! it, ...), send a Heartbeat when idle, and resend its unanswered transaction messages after a
//! reconnect. Energy is a car's: 16 or 32 A on one or three phases (3.7 to 22 kW) on AC chargers, 50 to
//! 150 kW on DC ones, over simulated time (each meter value stands for `--sample-minutes` of charging,
//! so a CDR shows a believable price). The car draws the least of what it can take and the charger's
//! composite limit from the charging profiles it got (a few cars ignore them, `--ignore-profiles-every`),
//! and its meter values carry the current per phase.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use backon::BackoffBuilder;
use chrono::{DateTime, SecondsFormat, Utc};
use cpms_ocpp::OcppVersion;
use serde_json::{Value, json};

use super::client::{Client, ConnectError, Reply};
use super::device::{Device, Request};
use super::stats::Stats;
use super::{Plan, Progress};

fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Messages a charger must not lose: resent after a reconnect until answered.
const TRANSACTION_MESSAGES: [&str; 3] = ["MeterValues", "StopTransaction", "TransactionEvent"];

/// A running session.
struct Session {
    /// 1.6: the CSMS's transaction id; 2.0.1: the charger's.
    tx: String,
    /// Meter values sent so far.
    step: u64,
    /// Simulated time of the start (so that the session ends about now).
    t0: DateTime<Utc>,
    /// The car: most current per phase (A) and phases it charges on (AC); most power (kW, DC).
    car: Car,
    /// Token.
    id_tag: String,
    /// 2.0.1 sequence number of the next event.
    seq: u64,
    /// Whether the CSMS started it.
    remote: bool,
}

/// What a car draws at one reading.
#[derive(Debug, Clone, Copy)]
struct Draw {
    power_w: f64,
    current_a: f64,
    phases: u8,
}

/// A car as the charger sees it.
#[derive(Debug, Clone, Copy)]
struct Car {
    max_a: f64,
    phases: u8,
    dc_max_kw: Option<f64>,
}

/// Phase-to-neutral voltage of the simulated grid.
const VOLTS: f64 = 230.0;

struct Sim<'a> {
    plan: &'a Plan,
    progress: Arc<Progress>,
    stats: Stats,
    started: Instant,
    id: String,
    device: Device,
    client: Option<Client>,
    unsent: VecDeque<(String, Value)>,
    register_wh: u64,
    session: Option<Session>,
    last_sent: Instant,
    dc: bool,
    /// Its car ignores the charging profiles (a few do).
    ignores_profiles: bool,
}

impl Sim<'_> {
    /// Sends a CALL (answering the CSMS's calls while it waits); counts it. `None` when it failed: a
    /// CallError is recorded; a lost connection drops the client, and a transaction message is kept to
    /// be sent again.
    async fn call(&mut self, action: &str, payload: Value) -> Option<Value> {
        let Some(client) = self.client.as_mut() else {
            // Offline: a transaction message waits for the next connection, as in a real charger.
            if TRANSACTION_MESSAGES.contains(&action) {
                self.unsent.push_back((action.to_string(), payload));
            }
            return None;
        };
        self.stats.calls += 1;
        self.progress.calls.fetch_add(1, Ordering::Relaxed);
        self.last_sent = Instant::now();
        let device = &mut self.device;
        let outcome = client
            .call(action, payload.clone(), &mut |a, p| device.answer(a, p))
            .await;
        match outcome {
            Ok((reply, took)) => {
                self.stats
                    .latencies_us
                    .push(took.as_micros().min(u32::MAX as u128) as u32);
                let at = self.started.elapsed().as_millis().min(u32::MAX as u128) as u32;
                self.stats.done_at_ms.push(at);
                match reply {
                    Reply::Result(v) => {
                        self.stats.results += 1;
                        Some(v)
                    }
                    Reply::Error(code, desc) => {
                        self.stats.errors += 1;
                        self.progress.errors.fetch_add(1, Ordering::Relaxed);
                        self.stats
                            .note(format!("{}: {action} -> {code}: {desc}", self.id));
                        None
                    }
                }
            }
            Err(e) => {
                // A call the connection took down with it is not a failure of the CSMS (it is sent again
                // if it matters); one the CSMS did not answer in time is.
                let timed_out = format!("{e}").contains("no answer within");
                if timed_out {
                    self.stats.failures += 1;
                    self.progress.failures.fetch_add(1, Ordering::Relaxed);
                } else {
                    self.stats.interrupted += 1;
                }
                self.stats.note(format!("{}: {e:#}", self.id));
                if TRANSACTION_MESSAGES.contains(&action) {
                    self.unsent.push_back((action.to_string(), payload));
                }
                if let Some(c) = self.client.take() {
                    c.close().await;
                }
                None
            }
        }
    }

    /// Connects and boots, trying again with a growing delay (1 s to 30 s) for `plan.reconnect_for`.
    /// False when it gave up (or the CSMS does not know the charger).
    async fn connect(&mut self, reason: &str) -> bool {
        let mut delays = backon::ExponentialBuilder::default()
            .with_min_delay(Duration::from_secs(1))
            .with_max_delay(Duration::from_secs(30))
            .with_jitter()
            .without_max_times()
            .build();
        let give_up = Instant::now() + self.plan.reconnect_for;
        loop {
            let password = self.device.password.clone();
            match Client::connect(
                &self.plan.url,
                &self.id,
                self.plan.version,
                password.as_deref(),
                self.plan.timeout,
            )
            .await
            {
                Ok(c) => {
                    self.client = Some(c);
                    if self.boot(reason).await {
                        return true;
                    }
                }
                Err(ConnectError::Unknown) => {
                    self.stats.note(format!(
                        "{}: the CSMS does not know this charger: register it (POST /v1/chargers with its id \
                         and password) or run the simulator with --api and --admin-key, which registers its chargers",
                        self.id
                    ));
                    return false;
                }
                Err(ConnectError::Unauthorized) => {
                    self.stats.note(format!(
                        "{}: the CSMS refused its password: give the one it was registered with (--password)",
                        self.id
                    ));
                    return false;
                }
                Err(ConnectError::Other(e)) => self.stats.note(format!("{}: {e}", self.id)),
            }
            let wait = delays.next().unwrap_or(Duration::from_secs(30));
            if Instant::now() + wait > give_up {
                self.stats
                    .note(format!("{}: gave up reconnecting", self.id));
                return false;
            }
            tokio::time::sleep(wait).await;
            self.stats.reconnects += 1;
            self.progress.reconnects.fetch_add(1, Ordering::Relaxed);
        }
    }

    async fn boot(&mut self, reason: &str) -> bool {
        let payload = match self.plan.version {
            OcppVersion::V16 => {
                json!({"chargePointVendor": "CPMS", "chargePointModel": if self.dc { "Simulator DC" } else { "Simulator AC" },
                "chargePointSerialNumber": self.id, "firmwareVersion": env!("CARGO_PKG_VERSION")})
            }
            OcppVersion::V201 => {
                json!({"reason": reason, "chargingStation": {"vendorName": "CPMS",
                "model": if self.dc { "Simulator DC" } else { "Simulator AC" }, "serialNumber": self.id,
                "firmwareVersion": env!("CARGO_PKG_VERSION")}})
            }
        };
        for _ in 0..20 {
            let Some(r) = self.call("BootNotification", payload.clone()).await else {
                return false;
            };
            match r["status"].as_str() {
                Some("Accepted") => {
                    self.status().await;
                    return true;
                }
                Some("Pending") => {
                    let wait = r["interval"].as_u64().unwrap_or(10).clamp(1, 60);
                    if !self.idle(Duration::from_secs(wait)).await {
                        return false;
                    }
                }
                other => {
                    self.stats
                        .note(format!("{}: boot answered {other:?}", self.id));
                    return false;
                }
            }
        }
        false
    }

    /// Waits, answering the CSMS; false when the connection is lost.
    async fn idle(&mut self, how_long: Duration) -> bool {
        let Some(client) = self.client.as_mut() else {
            return false;
        };
        let device = &mut self.device;
        match client.idle(how_long, &mut |a, p| device.answer(a, p)).await {
            Ok(_) => true,
            Err(e) => {
                self.stats.note(format!("{}: {e:#}", self.id));
                self.client = None;
                false
            }
        }
    }

    async fn status(&mut self) {
        let (s16, s201) = match (&self.session, self.device.available) {
            (Some(_), _) => ("Charging", "Occupied"),
            (None, true) => ("Available", "Available"),
            (None, false) => ("Unavailable", "Unavailable"),
        };
        let now = ts(Utc::now());
        let p = match self.plan.version {
            OcppVersion::V16 => {
                json!({"connectorId": 1, "status": s16, "errorCode": "NoError", "timestamp": now})
            }
            OcppVersion::V201 => {
                json!({"timestamp": now, "connectorStatus": s201, "evseId": 1, "connectorId": 1})
            }
        };
        self.call("StatusNotification", p).await;
    }

    fn samples(&self, at: DateTime<Utc>, draw: Draw, soc: u64, context: &str) -> Value {
        let wh = self.register_wh;
        let power_w = draw.power_w;
        let phases = ["L1", "L2", "L3"];
        let n = usize::from(draw.phases);
        match self.plan.version {
            OcppVersion::V16 => {
                let mut v = vec![
                    json!({"value": wh.to_string(), "measurand": "Energy.Active.Import.Register", "unit": "Wh", "context": context}),
                    json!({"value": format!("{power_w:.0}"), "measurand": "Power.Active.Import", "unit": "W", "context": context}),
                    json!({"value": soc.to_string(), "measurand": "SoC", "unit": "Percent", "context": context}),
                ];
                for p in &phases[..n] {
                    v.push(json!({"value": format!("{:.1}", draw.current_a), "measurand": "Current.Import", "unit": "A", "phase": p, "context": context}));
                }
                json!([{"timestamp": ts(at), "sampledValue": v}])
            }
            OcppVersion::V201 => {
                let mut v = vec![
                    json!({"value": wh, "measurand": "Energy.Active.Import.Register", "unitOfMeasure": {"unit": "Wh"}, "context": context}),
                    json!({"value": power_w.round(), "measurand": "Power.Active.Import", "unitOfMeasure": {"unit": "W"}, "context": context}),
                    json!({"value": soc, "measurand": "SoC", "unitOfMeasure": {"unit": "Percent"}, "context": context}),
                ];
                for p in &phases[..n] {
                    v.push(json!({"value": (draw.current_a * 10.0).round() / 10.0, "measurand": "Current.Import", "unitOfMeasure": {"unit": "A"}, "phase": p, "context": context}));
                }
                json!([{"timestamp": ts(at), "sampledValue": v}])
            }
        }
    }

    /// The car plugged in now: 16 or 32 A on one or three phases (3.7 to 22 kW) on AC chargers, 50 to
    /// 150 kW on DC ones.
    fn car(&self) -> Car {
        if self.dc {
            Car {
                max_a: 0.0,
                phases: 3,
                dc_max_kw: Some(rand::random_range(50.0..=150.0f64).round()),
            }
        } else {
            let (max_a, phases) =
                [(16.0, 1), (32.0, 1), (16.0, 3), (32.0, 3)][rand::random_range(0..4usize)];
            Car {
                max_a,
                phases,
                dc_max_kw: None,
            }
        }
    }

    /// What the car draws now: the least of what it can take and the charger's limit (unless it
    /// ignores profiles); below 6 A an AC car pauses.
    fn draw(&self, car: Car) -> Draw {
        let limit = if self.ignores_profiles {
            None
        } else {
            self.device.limit_a()
        };
        match car.dc_max_kw {
            Some(kw) => {
                let w = limit.map_or(kw * 1000.0, |a| (kw * 1000.0).min(a * 3.0 * VOLTS));
                Draw {
                    power_w: w,
                    current_a: w / 3.0 / VOLTS,
                    phases: 3,
                }
            }
            None => {
                let a = limit.map_or(car.max_a, |l| car.max_a.min(l));
                let a = if a < 6.0 { 0.0 } else { a };
                Draw {
                    power_w: a * f64::from(car.phases) * VOLTS,
                    current_a: a,
                    phases: car.phases,
                }
            }
        }
    }

    fn sample_step(&self) -> chrono::Duration {
        chrono::Duration::seconds(self.plan.sample_minutes as i64 * 60)
    }

    /// Starts a session (`remote`: the CSMS asked for it; it is not authorized again, as with 1.6
    /// AuthorizeRemoteTxRequests and 2.0.1 AuthorizeRemoteStart false).
    async fn start_session(
        &mut self,
        id_tag: String,
        remote: bool,
        remote_start_id: Option<i64>,
    ) -> bool {
        let steps = self.plan.meter_values + 1;
        let t0 = Utc::now() - self.sample_step() * steps as i32;
        let car = self.car();
        if !remote {
            let auth = match self.plan.version {
                OcppVersion::V16 => self.call("Authorize", json!({"idTag": id_tag})).await,
                OcppVersion::V201 => {
                    self.call(
                        "Authorize",
                        json!({"idToken": {"idToken": id_tag, "type": "ISO14443"}}),
                    )
                    .await
                }
            };
            let Some(a) = auth else { return false };
            let status = a["idTagInfo"]["status"]
                .as_str()
                .or(a["idTokenInfo"]["status"].as_str());
            if status != Some("Accepted") {
                self.stats
                    .note(format!("{}: token {id_tag} is {status:?}", self.id));
                return false;
            }
        }
        self.device.start_sent = Some(Instant::now());
        let tx = match self.plan.version {
            OcppVersion::V16 => {
                let r = self
                    .call(
                        "StartTransaction",
                        json!({"connectorId": 1, "idTag": id_tag,
                        "meterStart": self.register_wh, "timestamp": ts(t0)}),
                    )
                    .await;
                match r.and_then(|r| r["transactionId"].as_i64()) {
                    Some(t) => t.to_string(),
                    None => return false,
                }
            }
            OcppVersion::V201 => {
                let tx = format!("{}-{:08x}", self.id, rand::random::<u32>());
                let tx = tx[tx.len().saturating_sub(36)..].to_string();
                let mut info = json!({"transactionId": tx, "chargingState": "Charging"});
                if let Some(r) = remote_start_id {
                    info["remoteStartId"] = json!(r);
                }
                let samples = self.samples(
                    t0,
                    Draw {
                        power_w: 0.0,
                        current_a: 0.0,
                        phases: car.phases,
                    },
                    20,
                    "Transaction.Begin",
                );
                let event = json!({"eventType": "Started", "timestamp": ts(t0),
                    "triggerReason": if remote { "RemoteStart" } else { "Authorized" },
                    "seqNo": 0, "evse": {"id": 1, "connectorId": 1},
                    "idToken": {"idToken": id_tag, "type": if remote { "Central" } else { "ISO14443" }},
                    "transactionInfo": info, "meterValue": samples});
                // Lost with the connection, the Started is sent again after the reconnect and the session
                // goes on; a CallError ends it here.
                if self.call("TransactionEvent", event).await.is_none() && self.client.is_some() {
                    return false;
                }
                tx
            }
        };
        self.device.transaction = Some(tx.clone());
        self.session = Some(Session {
            tx,
            step: 0,
            t0,
            car,
            id_tag,
            seq: 1,
            remote,
        });
        self.status().await;
        true
    }

    /// One meter value of the running session.
    async fn meter_step(&mut self) {
        let Some(s) = &self.session else { return };
        let step = s.step + 1;
        let at = s.t0 + self.sample_step() * step as i32;
        let draw = self.draw(s.car);
        let wh = draw.power_w * self.plan.sample_minutes as f64 / 60.0;
        let (tx, seq) = (s.tx.clone(), s.seq);
        self.register_wh += wh.round() as u64;
        let soc = (20 + step * 60 / self.plan.meter_values.max(1)).min(100);
        let samples = self.samples(at, draw, soc, "Sample.Periodic");
        let (action, payload) = match self.plan.version {
            OcppVersion::V16 => (
                "MeterValues",
                json!({"connectorId": 1, "transactionId": tx.parse::<i64>().unwrap_or(0), "meterValue": samples}),
            ),
            OcppVersion::V201 => (
                "TransactionEvent",
                json!({"eventType": "Updated", "timestamp": ts(at), "triggerReason": "MeterValuePeriodic",
                    "seqNo": seq, "transactionInfo": {"transactionId": tx, "chargingState": "Charging"},
                    "meterValue": samples}),
            ),
        };
        if let Some(s) = &mut self.session {
            s.step = step;
            s.seq += 1;
        }
        self.call(action, payload).await;
    }

    async fn stop_session(&mut self, reason: &str) {
        let Some(s) = self.session.take() else { return };
        self.device.transaction = None;
        // A transaction's profile ends with it.
        self.device.profiles.retain(|p| p.purpose != "TxProfile");
        let at = (s.t0 + self.sample_step() * (s.step + 1) as i32).min(Utc::now());
        let wh = self.draw(s.car).power_w * self.plan.sample_minutes as f64 / 60.0;
        self.register_wh += wh.round() as u64;
        let (action, payload) = match self.plan.version {
            OcppVersion::V16 => (
                "StopTransaction",
                json!({"transactionId": s.tx.parse::<i64>().unwrap_or(0), "idTag": s.id_tag,
                    "meterStop": self.register_wh, "timestamp": ts(at), "reason": reason}),
            ),
            OcppVersion::V201 => {
                let samples = self.samples(
                    at,
                    Draw {
                        power_w: 0.0,
                        current_a: 0.0,
                        phases: s.car.phases,
                    },
                    80,
                    "Transaction.End",
                );
                let trigger = match reason {
                    "Remote" => "RemoteStop",
                    "UnlockCommand" => "UnlockCommand",
                    "ImmediateReset" => "ResetCommand",
                    _ => "StopAuthorized",
                };
                (
                    "TransactionEvent",
                    json!({"eventType": "Ended", "timestamp": ts(at), "triggerReason": trigger, "seqNo": s.seq,
                        "transactionInfo": {"transactionId": s.tx, "stoppedReason": reason}, "meterValue": samples}),
                )
            }
        };
        let sent = self.call(action, payload).await.is_some();
        self.stats.sessions += 1;
        self.progress.sessions.fetch_add(1, Ordering::Relaxed);
        if s.remote {
            self.stats.remote_sessions += 1;
        }
        if sent {
            self.status().await;
        }
    }

    /// Sends what a TriggerMessage asked for.
    async fn triggered(&mut self, what: &str) {
        match what {
            "BootNotification" => {
                self.boot("Triggered").await;
            }
            "Heartbeat" => {
                self.call("Heartbeat", json!({})).await;
            }
            "StatusNotification" => self.status().await,
            "MeterValues" | "TransactionEvent" if self.session.is_some() => self.meter_step().await,
            "MeterValues" => {
                let draw = match &self.session {
                    Some(s) => self.draw(s.car),
                    None => Draw {
                        power_w: 0.0,
                        current_a: 0.0,
                        phases: 1,
                    },
                };
                let samples = self.samples(Utc::now(), draw, 0, "Trigger");
                self.call(
                    "MeterValues",
                    json!({"connectorId": 1, "evseId": 1, "meterValue": samples}),
                )
                .await;
            }
            "DiagnosticsStatusNotification" => {
                self.call("DiagnosticsStatusNotification", json!({"status": "Idle"}))
                    .await;
            }
            "FirmwareStatusNotification" => {
                self.call("FirmwareStatusNotification", json!({"status": "Idle"}))
                    .await;
            }
            "LogStatusNotification" => {
                self.call("LogStatusNotification", json!({"status": "Idle"}))
                    .await;
            }
            _ => {}
        }
    }

    /// Acts on what the CSMS asked for; the reason when the charger is to reboot.
    async fn requests(&mut self) -> Option<&'static str> {
        let requests = std::mem::take(&mut self.device.requests);
        for r in requests {
            match r {
                Request::Start {
                    id_tag,
                    remote_start_id,
                } => {
                    if self.session.is_none() {
                        self.start_session(id_tag, true, remote_start_id).await;
                    }
                }
                Request::Stop(reason) => self.stop_session(reason).await,
                Request::Reboot(reason) => return Some(reason),
                Request::Send(what) => self.triggered(&what).await,
                Request::Status => self.status().await,
            }
        }
        None
    }

    /// Sends again the transaction messages that were not answered.
    async fn resend(&mut self) {
        while let Some((action, payload)) = self.unsent.pop_front() {
            if self.call(&action, payload).await.is_none() && self.client.is_none() {
                return; // kept for the next connection
            }
        }
    }
}

/// Runs one charger's plan; returns what it measured.
pub async fn run(plan: &Plan, index: usize, started: Instant, progress: Arc<Progress>) -> Stats {
    let id = plan.charger_id(index);
    let mut sim = Sim {
        plan,
        progress: progress.clone(),
        stats: Stats::default(),
        started,
        id,
        device: Device::new(
            plan.version,
            plan.password.clone(),
            plan.heartbeat.as_secs(),
        ),
        client: None,
        unsent: VecDeque::new(),
        register_wh: 1_000_000 + index as u64 * 10_000,
        session: None,
        last_sent: Instant::now(),
        dc: plan.dc_every > 0 && index % plan.dc_every == plan.dc_every - 1,
        ignores_profiles: plan.ignore_profiles_every > 0
            && index % plan.ignore_profiles_every == plan.ignore_profiles_every - 1,
    };
    let mut auto_left = plan.sessions;
    let mut hold_until: Option<Instant> = None;
    let mut boot_reason = "PowerUp";
    let mut ever_connected = false;
    loop {
        if sim.client.is_none() {
            if !sim.connect(boot_reason).await {
                if !ever_connected {
                    sim.stats.connect_failures += 1;
                }
                break;
            }
            if !ever_connected {
                ever_connected = true;
                sim.stats.connected += 1;
                progress.connected.fetch_add(1, Ordering::Relaxed);
            }
            boot_reason = "PowerUp";
            sim.resend().await;
            continue;
        }
        if let Some(reason) = sim.requests().await {
            // A reset: the session stops, the charger reboots and boots again.
            sim.stop_session(reason).await;
            if let Some(c) = sim.client.take() {
                c.close().await;
            }
            sim.stats.reboots += 1;
            tokio::time::sleep(Duration::from_secs(1)).await;
            boot_reason = "RemoteReset";
            continue;
        }
        if sim.client.is_none() {
            continue;
        }
        let pause = plan.interval;
        match &sim.session {
            Some(s) if s.step >= plan.meter_values => {
                let reason = if s.remote { "Local" } else { "EVDisconnected" };
                sim.stop_session(reason).await;
                continue;
            }
            Some(_) => {
                if sim.idle(pause).await && !sim.device.requests.is_empty() {
                    continue;
                }
                sim.meter_step().await;
                continue;
            }
            None if auto_left > 0 && sim.device.available => {
                if sim.idle(pause).await && !sim.device.requests.is_empty() {
                    continue;
                }
                auto_left -= 1;
                let tag = plan.id_tag.clone();
                if !sim.start_session(tag, false, None).await {
                    sim.stats
                        .note(format!("{}: a session did not start", sim.id));
                }
                continue;
            }
            None => {}
        }
        let until = *hold_until.get_or_insert_with(|| Instant::now() + plan.hold);
        if Instant::now() >= until {
            break;
        }
        let heartbeat = Duration::from_secs(sim.device.heartbeat_s().unwrap_or(60).clamp(1, 3600));
        let left = until.saturating_duration_since(Instant::now());
        let wait = heartbeat
            .saturating_sub(sim.last_sent.elapsed())
            .min(left)
            .max(Duration::from_millis(10));
        let alive = sim.idle(wait).await;
        if alive
            && sim.device.requests.is_empty()
            && sim.last_sent.elapsed() >= heartbeat
            && Instant::now() < until
        {
            sim.call("Heartbeat", json!({})).await;
        }
    }
    sim.stats.answered = sim.device.answered;
    sim.stats.profile_latencies_us = std::mem::take(&mut sim.device.profile_latencies_us);
    progress
        .answered
        .fetch_add(sim.device.answered, Ordering::Relaxed);
    if let Some(c) = sim.client.take() {
        c.close().await;
    }
    sim.stats
}
