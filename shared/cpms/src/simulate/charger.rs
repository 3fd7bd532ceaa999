//! One simulated charger: connect, boot (waiting out `Pending`), then full charging sessions with meter
//! values, in OCPP 1.6 or 2.0.1.

use std::time::{Duration, Instant};

use chrono::{SecondsFormat, Utc};
use cpms_ocpp::OcppVersion;
use serde_json::{Value, json};

use super::Plan;
use super::client::{Client, Reply};
use super::stats::Stats;

fn now() -> String {
    Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true)
}

struct Sim<'a> {
    client: Client,
    plan: &'a Plan,
    stats: Stats,
    started: Instant,
    id: String,
}

impl Sim<'_> {
    /// Sends a CALL; counts it; `None` when it failed (the failure is recorded).
    async fn call(&mut self, action: &str, payload: Value) -> Option<Value> {
        self.stats.calls += 1;
        match self.client.call(action, payload).await {
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
                        self.stats
                            .note(format!("{}: {action} -> {code}: {desc}", self.id));
                        None
                    }
                }
            }
            Err(e) => {
                self.stats.failures += 1;
                self.stats.note(format!("{}: {e:#}", self.id));
                None
            }
        }
    }

    async fn boot(&mut self) -> bool {
        let payload = match self.plan.version {
            OcppVersion::V16 => {
                json!({"chargePointVendor": "CPMS", "chargePointModel": "Simulator",
                "chargePointSerialNumber": self.id, "firmwareVersion": env!("CARGO_PKG_VERSION")})
            }
            OcppVersion::V201 => {
                json!({"reason": "PowerUp", "chargingStation": {"vendorName": "CPMS",
                "model": "Simulator", "serialNumber": self.id, "firmwareVersion": env!("CARGO_PKG_VERSION")}})
            }
        };
        for _ in 0..10 {
            let Some(r) = self.call("BootNotification", payload.clone()).await else {
                return false;
            };
            match r["status"].as_str() {
                Some("Accepted") => return true,
                Some("Pending") => {
                    let wait = r["interval"].as_u64().unwrap_or(10).clamp(1, 60);
                    tokio::time::sleep(Duration::from_secs(wait)).await;
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

    async fn status(&mut self, status16: &str, status201: &str) {
        let p = match self.plan.version {
            OcppVersion::V16 => {
                json!({"connectorId": 1, "status": status16, "errorCode": "NoError", "timestamp": now()})
            }
            OcppVersion::V201 => {
                json!({"timestamp": now(), "connectorStatus": status201, "evseId": 1, "connectorId": 1})
            }
        };
        self.call("StatusNotification", p).await;
    }

    fn samples(&self, register_wh: u64, soc: u64) -> Value {
        match self.plan.version {
            OcppVersion::V16 => json!([{"timestamp": now(), "sampledValue": [
                {"value": register_wh.to_string(), "measurand": "Energy.Active.Import.Register", "unit": "Wh"},
                {"value": "11000", "measurand": "Power.Active.Import", "unit": "W"},
                {"value": soc.to_string(), "measurand": "SoC", "unit": "Percent"}]}]),
            OcppVersion::V201 => json!([{"timestamp": now(), "sampledValue": [
                {"value": register_wh, "measurand": "Energy.Active.Import.Register", "unitOfMeasure": {"unit": "Wh"}},
                {"value": 11000, "measurand": "Power.Active.Import", "unitOfMeasure": {"unit": "W"}},
                {"value": soc, "measurand": "SoC", "unitOfMeasure": {"unit": "Percent"}}]}]),
        }
    }

    async fn session(&mut self, n: usize, register: &mut u64) -> bool {
        let tag = self.plan.id_tag.clone();
        let pause = self.plan.interval;
        self.status("Preparing", "Occupied").await;
        let auth = match self.plan.version {
            OcppVersion::V16 => self.call("Authorize", json!({"idTag": tag})).await,
            OcppVersion::V201 => {
                self.call(
                    "Authorize",
                    json!({"idToken": {"idToken": tag, "type": "ISO14443"}}),
                )
                .await
            }
        };
        if auth.is_none() {
            return false;
        }
        tokio::time::sleep(pause).await;
        let per_step = 11_000 * pause.as_millis().max(1) as u64 / 3_600_000 + 1;
        let txid = format!("{}-{n}-{:08x}", self.id, rand::random::<u32>());
        let txid = &txid[txid.len().saturating_sub(36)..];
        let tx16 = match self.plan.version {
            OcppVersion::V16 => {
                let r = self
                    .call(
                        "StartTransaction",
                        json!({"connectorId": 1, "idTag": tag,
                    "meterStart": *register, "timestamp": now()}),
                    )
                    .await;
                match r.and_then(|r| r["transactionId"].as_i64()) {
                    Some(t) => t,
                    None => return false,
                }
            }
            OcppVersion::V201 => {
                let samples = self.samples(*register, 20);
                let r = self
                    .call(
                        "TransactionEvent",
                        json!({"eventType": "Started", "timestamp": now(),
                    "triggerReason": "Authorized", "seqNo": 0, "evse": {"id": 1, "connectorId": 1},
                    "idToken": {"idToken": tag, "type": "ISO14443"},
                    "transactionInfo": {"transactionId": txid, "chargingState": "Charging"},
                    "meterValue": samples}),
                    )
                    .await;
                if r.is_none() {
                    return false;
                }
                0
            }
        };
        self.status("Charging", "Occupied").await;
        for i in 0..self.plan.meter_values {
            tokio::time::sleep(pause).await;
            *register += per_step;
            let soc = (20 + i).min(100);
            let samples = self.samples(*register, soc);
            match self.plan.version {
                OcppVersion::V16 => {
                    self.call(
                        "MeterValues",
                        json!({"connectorId": 1, "transactionId": tx16, "meterValue": samples}),
                    )
                    .await;
                }
                OcppVersion::V201 => {
                    self.call(
                        "TransactionEvent",
                        json!({"eventType": "Updated", "timestamp": now(),
                        "triggerReason": "MeterValuePeriodic", "seqNo": i + 1,
                        "transactionInfo": {"transactionId": txid}, "meterValue": samples}),
                    )
                    .await;
                }
            }
        }
        tokio::time::sleep(pause).await;
        *register += per_step;
        let stopped = match self.plan.version {
            OcppVersion::V16 => {
                self.call(
                    "StopTransaction",
                    json!({"transactionId": tx16, "idTag": tag,
                "meterStop": *register, "timestamp": now(), "reason": "Local"}),
                )
                .await
            }
            OcppVersion::V201 => {
                let samples = self.samples(*register, 80);
                self.call(
                    "TransactionEvent",
                    json!({"eventType": "Ended", "timestamp": now(),
                    "triggerReason": "StopAuthorized", "seqNo": self.plan.meter_values + 1,
                    "transactionInfo": {"transactionId": txid, "stoppedReason": "Local"},
                    "meterValue": samples}),
                )
                .await
            }
        };
        self.status("Available", "Available").await;
        stopped.is_some()
    }
}

/// Runs one charger's plan; returns what it measured.
pub async fn run(plan: &Plan, index: usize, started: Instant) -> Stats {
    let id = plan.charger_id(index);
    let mut stats = Stats::default();
    let client = match Client::connect(
        &plan.url,
        &id,
        plan.version,
        plan.password.as_deref(),
        plan.timeout,
    )
    .await
    {
        Ok(c) => c,
        Err(e) => {
            stats.connect_failures += 1;
            stats.note(format!("{id}: {e:#}"));
            return stats;
        }
    };
    let mut sim = Sim {
        client,
        plan,
        stats,
        started,
        id,
    };
    if !sim.boot().await {
        sim.stats.connect_failures += 1;
        sim.client.close().await;
        return sim.stats;
    }
    sim.stats.connected += 1;
    sim.status("Available", "Available").await;
    let mut register = 1_000 + index as u64 * 10;
    for n in 0..plan.sessions {
        if sim.session(n, &mut register).await {
            sim.stats.sessions += 1;
        }
    }
    let hold_until = Instant::now() + plan.hold;
    while Instant::now() < hold_until {
        let left = hold_until.saturating_duration_since(Instant::now());
        tokio::time::sleep(left.min(plan.heartbeat)).await;
        if Instant::now() < hold_until {
            sim.call("Heartbeat", json!({})).await;
        }
    }
    sim.client.close().await;
    sim.stats
}
