//! `cpms cost-model`: what one charger costs per month on AWS, from the capacity units its messages
//! actually consume. It runs a standard session through the application on the DynamoDB adapter (an
//! emulator or a real table), reads the adapter's meter around every message, and prices a standard
//! month with on-demand list prices.
//!
//! The standard charger (the profile): connected all month; Heartbeat every 300 s; 3 sessions a
//! day, 4 h of charging in all, MeterValues every 60 s while charging; API Gateway drops every connection
//! after 2 h, so 12 reconnects a day (chargers do not boot again on reconnect).

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::Utc;
use cpms_app::{ConnectRequest, Csms, hash_password};
use cpms_aws::dynamodb::{Meter, Units};
use cpms_domain::charger::Charger;
use cpms_domain::token::{Token, TokenStatus};
use cpms_domain::{ChargerId, TenantId};
use cpms_ports::Expected;
use serde::Serialize;
use serde_json::json;

/// List prices, us-east-1, on demand (USD), as published in 2026.
pub mod prices {
    /// API Gateway WebSocket: per message (each direction, per 32 KiB).
    pub const WS_MESSAGE: f64 = 1.00 / 1e6;
    /// API Gateway WebSocket: per connection minute.
    pub const WS_CONNECTION_MINUTE: f64 = 0.25 / 1e6;
    /// Lambda: per request.
    pub const LAMBDA_REQUEST: f64 = 0.20 / 1e6;
    /// Lambda arm64: per GB-second.
    pub const LAMBDA_GB_SECOND: f64 = 0.000_013_333_4;
    /// DynamoDB on demand: per write request unit.
    pub const DDB_WRITE: f64 = 0.625 / 1e6;
    /// DynamoDB on demand: per read request unit.
    pub const DDB_READ: f64 = 0.125 / 1e6;
    /// DynamoDB storage: per GB-month.
    pub const DDB_STORAGE_GB_MONTH: f64 = 0.25;
    /// EventBridge custom events: per event.
    pub const EVENTBRIDGE_EVENT: f64 = 1.00 / 1e6;
    /// SQS standard: per request.
    pub const SQS_REQUEST: f64 = 0.40 / 1e6;
    /// CloudWatch Logs ingestion: per GB.
    pub const LOGS_GB: f64 = 0.50;
}

/// Assumptions that are not measured here.
pub mod assume {
    /// Lambda memory (GB) and mean duration (s) per invocation (two or three table round trips).
    pub const LAMBDA_GB: f64 = 0.25;
    /// Mean invocation duration in seconds.
    pub const LAMBDA_SECONDS: f64 = 0.020;
    /// Log bytes per invocation (the runtime's report line and one JSON line).
    pub const LOG_BYTES: f64 = 400.0;
    /// Stored bytes per charger (record, sessions and samples of a year, connectors, log).
    pub const STORED_BYTES: f64 = 3.0e6;
}

/// Messages of the standard charger in a 30-day month, per kind.
pub fn month_profile() -> BTreeMap<&'static str, f64> {
    let days = 30.0;
    let sessions = 3.0 * days;
    let meter_values_per_session = 4.0 * 60.0 / 3.0;
    BTreeMap::from([
        ("$connect", 12.0 * days),
        ("$disconnect", 12.0 * days),
        ("Heartbeat", 86_400.0 / 300.0 * days),
        ("Authorize", sessions),
        ("StartTransaction", sessions),
        ("MeterValues", sessions * meter_values_per_session),
        ("StopTransaction", sessions),
        ("StatusNotification", 4.0 * sessions),
    ])
}

/// Domain events published per month by the standard charger (relay -> EventBridge), and the SQS
/// deliveries they cause (per `events/catalog/routing.json`). The standard charger speaks 1.6, whose meter
/// values publish nothing (`cpms_domain::events::publishes_live_meter`); see [`live_meter_extra`] for a
/// 2.0.1 charger.
fn events_and_deliveries(p: &BTreeMap<&str, f64>) -> (f64, f64) {
    let started = p["StartTransaction"];
    let ended = p["StopTransaction"];
    let status = p["StatusNotification"];
    let conn = p["$connect"] + p["$disconnect"];
    // Each ended session also makes a CDR, whose cdr.created goes to ocpi-push.
    let events = started + 2.0 * ended + status + conn;
    // started -> smart, ocpi, reconciler; ended -> billing, smart, ocpi; cdr.created -> ocpi;
    // status -> smart, alerts, ocpi; connected -> alerts; disconnected -> smart, alerts.
    let deliveries = 3.0 * started + 4.0 * ended + 3.0 * status + 1.5 * conn;
    (events, deliveries)
}

/// What a 2.0.1 charger adds per month (USD): each meter value is published and delivered to billing
/// (running cost) and smart charging.
pub fn live_meter_extra() -> f64 {
    use prices::*;
    let metered = month_profile()["MeterValues"];
    let deliveries = 2.0 * metered;
    metered * EVENTBRIDGE_EVENT
        + deliveries * 1.2 * SQS_REQUEST
        + deliveries / 10.0 * LAMBDA_REQUEST
}

/// Units consumed by one message of each kind, measured.
#[derive(Debug, Clone, Serialize)]
pub struct Measured {
    /// Read units.
    pub reads: f64,
    /// Write units.
    pub writes: f64,
    /// Write requests (a transaction is one).
    pub write_requests: f64,
    /// Read requests.
    pub read_requests: f64,
}

/// Sends one frame and returns the units it consumed and the answer.
async fn frame(
    csms: &Csms,
    meter: &Meter,
    conn: &str,
    n: &mut u32,
    action: &str,
    payload: serde_json::Value,
) -> (Units, Option<String>) {
    *n += 1;
    let text = json!([2, format!("m{n}"), action, payload]).to_string();
    let before = meter.units();
    let reply = csms.message(conn, text.as_bytes()).await.reply;
    (meter.units() - before, reply)
}

/// Runs one standard session through `csms` and measures each message kind with `meter`.
pub async fn measure(
    csms: &Csms,
    meter: &Meter,
) -> anyhow::Result<BTreeMap<&'static str, Measured>> {
    use base64::Engine;
    let now = Utc::now();
    let id = format!("COST-{}", rand::random::<u32>());
    let mut c = Charger::register(TenantId::default_tenant(), ChargerId::new(&id)?, now);
    c.password_hash = Some(hash_password("cost-model-password"));
    csms.ports().chargers.put(&c, Expected::Absent, &[]).await?;
    let tok = Token {
        tenant: TenantId::default_tenant(),
        id: "COSTTAG".into(),
        kind: None,
        status: TokenStatus::Accepted,
        expires_at: None,
        group_id: None,
        partner: None,
        created_at: now,
        updated_at: now,
    };
    let _ = csms.ports().tokens.put(&tok, Expected::Absent).await;

    let mut seen: BTreeMap<&'static str, Vec<Units>> = BTreeMap::new();
    let conn = format!("cost-{}", rand::random::<u32>());
    let auth =
        base64::engine::general_purpose::STANDARD.encode(format!("{id}:cost-model-password"));
    let before = meter.units();
    csms.connect(ConnectRequest {
        connection_id: conn.clone(),
        identity: id.clone(),
        authorization: Some(format!("Basic {auth}")),
        subprotocols: vec!["ocpp1.6".into()],
        remote_addr: None,
    })
    .await;
    seen.entry("$connect")
        .or_default()
        .push(meter.units() - before);
    let ts = |min: i64| (now + chrono::Duration::minutes(min)).to_rfc3339();
    let mut n = 0;
    frame(
        csms,
        meter,
        &conn,
        &mut n,
        "BootNotification",
        json!({"chargePointVendor": "V", "chargePointModel": "M"}),
    )
    .await;
    let mut plan: Vec<(&'static str, serde_json::Value)> = vec![
        ("Heartbeat", json!({})),
        ("Heartbeat", json!({})),
        ("Heartbeat", json!({})),
        (
            "StatusNotification",
            json!({"connectorId": 1, "status": "Preparing", "errorCode": "NoError", "timestamp": ts(0)}),
        ),
        ("Authorize", json!({"idTag": "COSTTAG"})),
    ];
    for (action, payload) in plan.drain(..) {
        let (u, _) = frame(csms, meter, &conn, &mut n, action, payload).await;
        seen.entry(action).or_default().push(u);
    }
    let start = json!({"connectorId": 1, "idTag": "COSTTAG", "meterStart": 0, "timestamp": ts(0)});
    let (u, reply) = frame(csms, meter, &conn, &mut n, "StartTransaction", start).await;
    seen.entry("StartTransaction").or_default().push(u);
    let tx = reply
        .and_then(|r| serde_json::from_str::<serde_json::Value>(&r).ok())
        .and_then(|v| v[2]["transactionId"].as_i64())
        .ok_or_else(|| anyhow::anyhow!("StartTransaction was not accepted"))?;
    plan.push((
        "StatusNotification",
        json!({"connectorId": 1, "status": "Charging", "errorCode": "NoError", "timestamp": ts(1)}),
    ));
    for i in 1..=20 {
        plan.push(("MeterValues", json!({"connectorId": 1, "transactionId": tx, "meterValue": [{"timestamp": ts(i), "sampledValue": [
            {"value": (i * 183).to_string(), "measurand": "Energy.Active.Import.Register", "unit": "Wh"},
            {"value": "11000", "measurand": "Power.Active.Import", "unit": "W"},
            {"value": "16", "measurand": "Current.Import", "unit": "A"},
            {"value": (20 + i).to_string(), "measurand": "SoC", "unit": "Percent"}]}]})));
    }
    plan.push((
        "StopTransaction",
        json!({"transactionId": tx, "idTag": "COSTTAG", "meterStop": 3700, "timestamp": ts(21)}),
    ));
    plan.push(("StatusNotification", json!({"connectorId": 1, "status": "Available", "errorCode": "NoError", "timestamp": ts(22)})));
    for (action, payload) in plan {
        let (u, _) = frame(csms, meter, &conn, &mut n, action, payload).await;
        seen.entry(action).or_default().push(u);
    }
    let before = meter.units();
    csms.disconnect(&conn).await;
    seen.entry("$disconnect")
        .or_default()
        .push(meter.units() - before);
    Ok(seen
        .into_iter()
        .map(|(k, v)| {
            let n = v.len() as f64;
            let mean = |f: fn(&Units) -> f64| v.iter().map(f).sum::<f64>() / n;
            (
                k,
                Measured {
                    reads: mean(|u| u.reads),
                    writes: mean(|u| u.writes),
                    write_requests: mean(|u| u.write_requests as f64),
                    read_requests: mean(|u| u.read_requests as f64),
                },
            )
        })
        .collect())
}

/// One line of the monthly bill.
#[derive(Debug, Serialize)]
pub struct Line {
    /// What.
    pub item: String,
    /// Quantity per month.
    pub quantity: f64,
    /// USD per month.
    pub usd: f64,
}

/// The monthly cost of one standard charger.
#[derive(Debug, Serialize)]
pub struct Model {
    /// Measured units per message kind.
    pub per_message: BTreeMap<&'static str, Measured>,
    /// Messages per month.
    pub messages: BTreeMap<&'static str, f64>,
    /// The bill.
    pub lines: Vec<Line>,
    /// Total USD per charger per month.
    pub total_usd: f64,
}

/// Prices the standard month with the measured units.
pub fn model(per_message: BTreeMap<&'static str, Measured>) -> Model {
    use prices::*;
    let profile = month_profile();
    let ocpp: f64 = profile
        .iter()
        .filter(|(k, _)| !k.starts_with('$'))
        .map(|(_, v)| v)
        .sum();
    let invocations: f64 = profile.values().sum();
    let (events, deliveries) = events_and_deliveries(&profile);
    let (mut reads, mut writes) = (0.0, 0.0);
    for (k, n) in &profile {
        if let Some(m) = per_message.get(k) {
            reads += m.reads * n;
            writes += m.writes * n;
        }
    }
    let minutes = 30.0 * 24.0 * 60.0;
    let lines = vec![
        Line {
            item: "API Gateway WebSocket messages (call + answer)".into(),
            quantity: 2.0 * ocpp,
            usd: 2.0 * ocpp * WS_MESSAGE,
        },
        Line {
            item: "API Gateway connection minutes".into(),
            quantity: minutes,
            usd: minutes * WS_CONNECTION_MINUTE,
        },
        Line {
            item: "Lambda requests (routes + relay + consumers)".into(),
            quantity: invocations + deliveries / 10.0,
            usd: (invocations + deliveries / 10.0) * LAMBDA_REQUEST,
        },
        Line {
            item: format!(
                "Lambda compute ({} GB x {} s each)",
                assume::LAMBDA_GB,
                assume::LAMBDA_SECONDS
            ),
            quantity: invocations * assume::LAMBDA_GB * assume::LAMBDA_SECONDS,
            usd: invocations * assume::LAMBDA_GB * assume::LAMBDA_SECONDS * LAMBDA_GB_SECOND,
        },
        Line {
            item: "DynamoDB write request units (measured)".into(),
            quantity: writes,
            usd: writes * DDB_WRITE,
        },
        Line {
            item: "DynamoDB read request units (measured)".into(),
            quantity: reads,
            usd: reads * DDB_READ,
        },
        Line {
            item: "DynamoDB storage (GB-month)".into(),
            quantity: assume::STORED_BYTES / 1e9,
            usd: assume::STORED_BYTES / 1e9 * DDB_STORAGE_GB_MONTH,
        },
        Line {
            item: "EventBridge events".into(),
            quantity: events,
            usd: events * EVENTBRIDGE_EVENT,
        },
        Line {
            item: "SQS requests (send, receive, delete)".into(),
            quantity: deliveries * 1.2,
            usd: deliveries * 1.2 * SQS_REQUEST,
        },
        Line {
            item: "CloudWatch Logs (GB)".into(),
            quantity: invocations * assume::LOG_BYTES / 1e9,
            usd: invocations * assume::LOG_BYTES / 1e9 * LOGS_GB,
        },
    ];
    let total_usd = lines.iter().map(|l| l.usd).sum();
    Model {
        per_message,
        messages: profile,
        lines,
        total_usd,
    }
}

impl Model {
    /// The table printed by `cpms cost-model`.
    pub fn text(&self) -> String {
        let mut s =
            String::from("DynamoDB units per message (measured on the DynamoDB adapter):\n");
        s.push_str(&format!(
            "  {:<20} {:>12} {:>11} {:>14} {:>13} {:>10}\n",
            "message", "write units", "read units", "write requests", "read requests", "per month"
        ));
        for (k, m) in &self.per_message {
            let n = self.messages.get(k).copied().unwrap_or(0.0);
            s.push_str(&format!(
                "  {k:<20} {:>12.2} {:>11.2} {:>14.2} {:>13.2} {n:>10.0}\n",
                m.writes, m.reads, m.write_requests, m.read_requests
            ));
        }
        s.push_str("\nOne standard charger per month (us-east-1 on-demand prices):\n");
        for l in &self.lines {
            s.push_str(&format!(
                "  {:<52} {:>12.1} ${:>9.5}\n",
                l.item, l.quantity, l.usd
            ));
        }
        s.push_str(&format!(
            "  {:<52} {:>12} ${:>9.5}\n",
            "total", "", self.total_usd
        ));
        s.push_str(&format!(
            "\nA 2.0.1 charger adds ${:.5} (each meter value published to billing for the running cost \
             and to smart charging).\n",
            live_meter_extra()
        ));
        s
    }
}

/// Measures on `csms` and prices the month.
pub async fn run(csms: Arc<Csms>, meter: Arc<Meter>) -> anyhow::Result<Model> {
    Ok(model(measure(&csms, &meter).await?))
}
