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
    /// Log bytes per invocation from the Lambda platform (START, END, REPORT lines): none, since the
    /// stack sets `SystemLogLevel: WARN` (with `LogFormat: JSON`); the application's own lines are
    /// measured.
    pub const PLATFORM_LOG_BYTES: f64 = 0.0;
    /// Stored bytes per charger (record, sessions and samples of a year, connectors, log).
    pub const STORED_BYTES: f64 = 3.0e6;
}

/// The standard charger's heartbeat interval (s).
pub const STANDARD_HEARTBEAT_S: f64 = 300.0;

/// The longest heartbeat interval that keeps an idle API Gateway connection open (it closes after 600 s
/// without a message), with a minute to spare.
pub const LONGEST_HEARTBEAT_S: f64 = 540.0;

/// Messages of the standard charger in a 30-day month, per kind, with Heartbeats every `heartbeat_s`.
pub fn month_profile(heartbeat_s: f64) -> BTreeMap<&'static str, f64> {
    let days = 30.0;
    let sessions = 3.0 * days;
    let meter_values_per_session = 4.0 * 60.0 / 3.0;
    BTreeMap::from([
        ("$connect", 12.0 * days),
        ("$disconnect", 12.0 * days),
        ("Heartbeat", 86_400.0 / heartbeat_s * days),
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
    // Each ended session also makes a CDR, whose cdr.created goes to ocpi-push and alerts.
    let events = started + 2.0 * ended + status + conn;
    // started -> smart, ocpi, reconciler, alerts; ended -> billing, smart, ocpi, alerts; cdr.created ->
    // ocpi, alerts; status -> smart, alerts, ocpi; connected and disconnected -> smart, alerts.
    let deliveries = 4.0 * started + 6.0 * ended + 3.0 * status + 2.0 * conn;
    (events, deliveries)
}

/// What a 2.0.1 charger adds per month (USD): each meter value is published and delivered to billing
/// (running cost) and smart charging.
pub fn live_meter_extra() -> f64 {
    use prices::*;
    let metered = month_profile(STANDARD_HEARTBEAT_S)["MeterValues"];
    let deliveries = 2.0 * metered;
    metered * EVENTBRIDGE_EVENT
        + deliveries * 1.2 * SQS_REQUEST
        + deliveries / 10.0 * LAMBDA_REQUEST
}

/// Keys of the alerts consumer's work per event kind in the measured units, with how many of each the
/// standard charger causes in a month (per its message profile).
pub const ALERT_EVENTS: [(&str, &str); 6] = [
    ("alerts: connector status", "StatusNotification"),
    ("alerts: session start", "StartTransaction"),
    ("alerts: session end", "StopTransaction"),
    ("alerts: CDR", "StopTransaction"),
    ("alerts: connect", "$connect"),
    ("alerts: disconnect", "$disconnect"),
];
/// The key of one alert sweep of a tenant with nothing due.
pub const SWEEP_IDLE: &str = "alert sweep, nothing due";
/// The key of one alert sweep with one charger's offline watch due (it was heard from: re-armed).
pub const SWEEP_ONE_WATCH: &str = "alert sweep, one watch due";

/// What alerting costs per standard charger and month (USD): the alerts consumer's reads and writes
/// for the events it gets, and the sweeper's offline check of a charger that keeps talking (one per
/// twice the heartbeat interval plus the grace of 60 s), from the measured units.
pub fn alerting_usd(per: &BTreeMap<&'static str, Measured>, heartbeat_s: f64) -> (f64, f64) {
    use prices::*;
    let profile = month_profile(heartbeat_s);
    let unit = |m: &Measured| m.reads * DDB_READ + m.writes * DDB_WRITE;
    let consumer: f64 = ALERT_EVENTS
        .iter()
        .filter_map(|(k, msg)| Some(unit(per.get(k)?) * profile[msg]))
        .sum();
    let checks = 30.0 * 86_400.0 / (2.0 * heartbeat_s + 60.0);
    let check = match (per.get(SWEEP_ONE_WATCH), per.get(SWEEP_IDLE)) {
        (Some(one), Some(idle)) => {
            (one.reads - idle.reads).max(0.0) * DDB_READ
                + (one.writes - idle.writes).max(0.0) * DDB_WRITE
        }
        _ => 0.0,
    };
    (consumer, checks * check)
}

/// What the sweeper costs a deployment per month whatever its size (USD): one invocation a minute and
/// its four index queries per tenant with nothing due.
pub fn sweeper_fixed_usd(per: &BTreeMap<&'static str, Measured>) -> f64 {
    use prices::*;
    let runs = 30.0 * 24.0 * 60.0;
    let idle = per.get(SWEEP_IDLE).map_or(0.0, |m| m.reads * DDB_READ);
    runs * (LAMBDA_REQUEST + 0.25 * 0.2 * LAMBDA_GB_SECOND + idle)
}

/// The key of one smart-charging computation of a site in the measured units.
pub const SMART_COMPUTATION: &str = "smart-charging computation";

/// What a charger under smart charging adds per month (USD), in a site of `site_chargers`: every
/// computation of the site reads every charger of it, and each charger's sessions cause about four
/// (start, end, two changes of draw) and two TxProfiles (its own start, a neighbour's arrival or
/// departure), each a call and an answer through API Gateway, an `ocpp-message` invocation for the
/// answer, and a `smart-charging` invocation per event (no batching at this rate). `computation` is a
/// measured computation of a site of one charger with one profile sent.
pub fn smart_charging_extra(computation: &Measured, site_chargers: f64) -> f64 {
    use prices::*;
    let sessions = month_profile(STANDARD_HEARTBEAT_S)["StartTransaction"];
    let computations = 4.0 * sessions;
    let profiles = 2.0 * sessions;
    // Per computation: reads grow with the site; writes are the allocation and the profiles sent.
    let reads = computations * computation.reads * site_chargers;
    let writes = computations * computation.writes * 0.5 + profiles * computation.writes * 0.5;
    let messages = 2.0 * profiles;
    // The two draw changes per session are published (1.6) to billing and smart charging.
    let events = 2.0 * sessions;
    let deliveries = 2.0 * events;
    reads * DDB_READ
        + writes * DDB_WRITE
        + messages * WS_MESSAGE
        + (profiles + computations) * LAMBDA_REQUEST
        + (profiles + computations) * assume::LAMBDA_GB * 0.05 * LAMBDA_GB_SECOND
        + events * EVENTBRIDGE_EVENT
        + deliveries * 1.2 * SQS_REQUEST
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
    /// Bytes of JSON log lines at `info` (what the functions write to CloudWatch).
    pub log_bytes: f64,
}

/// Counts the bytes of log lines written.
#[derive(Clone, Default)]
struct LogCounter(Arc<std::sync::atomic::AtomicU64>);

impl std::io::Write for LogCounter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .fetch_add(buf.len() as u64, std::sync::atomic::Ordering::Relaxed);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl LogCounter {
    fn bytes(&self) -> u64 {
        self.0.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The functions' log format (`cpms_lambda::init_tracing`) at `info`, into this counter.
    fn dispatch(&self) -> tracing::Dispatch {
        let me = self.clone();
        tracing::Dispatch::new(
            tracing_subscriber::fmt()
                .json()
                .with_max_level(tracing::Level::INFO)
                .with_current_span(false)
                .without_time()
                .with_writer(move || me.clone())
                .finish(),
        )
    }
}

/// What one message consumed: units and log bytes.
#[derive(Debug, Clone, Copy, Default)]
struct Cost {
    units: Units,
    log_bytes: u64,
}

/// Measures what `work` consumes.
async fn measured<R>(
    meter: &Meter,
    logs: &LogCounter,
    work: impl std::future::Future<Output = R>,
) -> (Cost, R) {
    use tracing::instrument::WithSubscriber;
    let (before, logged) = (meter.units(), logs.bytes());
    let r = work.with_subscriber(logs.dispatch()).await;
    let cost = Cost {
        units: meter.units() - before,
        log_bytes: logs.bytes() - logged,
    };
    (cost, r)
}

/// Sends one frame and returns what it consumed and the answer.
async fn frame(
    csms: &Csms,
    (meter, logs): (&Meter, &LogCounter),
    conn: &str,
    n: &mut u32,
    action: &str,
    payload: serde_json::Value,
) -> (Cost, Option<String>) {
    *n += 1;
    let text = json!([2, format!("m{n}"), action, payload]).to_string();
    let (cost, out) = measured(meter, logs, csms.message(conn, text.as_bytes())).await;
    (cost, out.reply)
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
    let tok = Token::new(
        TenantId::default_tenant(),
        "COSTTAG",
        TokenStatus::Accepted,
        now,
    );
    let _ = csms.ports().tokens.put(&tok, Expected::Absent).await;

    let logs = LogCounter::default();
    let m = (meter, &logs);
    let mut seen: BTreeMap<&'static str, Vec<Cost>> = BTreeMap::new();
    let conn = format!("cost-{}", rand::random::<u32>());
    let auth =
        base64::engine::general_purpose::STANDARD.encode(format!("{id}:cost-model-password"));
    let connect = csms.connect(ConnectRequest {
        connection_id: conn.clone(),
        identity: id.clone(),
        authorization: Some(format!("Basic {auth}")),
        subprotocols: vec!["ocpp1.6".into()],
        remote_addr: None,
    });
    let (cost, _) = measured(meter, &logs, connect).await;
    seen.entry("$connect").or_default().push(cost);
    let ts = |min: i64| (now + chrono::Duration::minutes(min)).to_rfc3339();
    let mut n = 0;
    frame(
        csms,
        m,
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
        let (u, _) = frame(csms, m, &conn, &mut n, action, payload).await;
        seen.entry(action).or_default().push(u);
    }
    let start = json!({"connectorId": 1, "idTag": "COSTTAG", "meterStart": 0, "timestamp": ts(0)});
    let (u, reply) = frame(csms, m, &conn, &mut n, "StartTransaction", start).await;
    seen.entry("StartTransaction").or_default().push(u);
    let tx = reply
        .and_then(|r| serde_json::from_str::<serde_json::Value>(&r).ok())
        .and_then(|v| v[2]["transactionId"].as_i64())
        .ok_or_else(|| anyhow::anyhow!("StartTransaction was not accepted"))?;
    // Smart charging: the charger is put in a site with an electrical tree and the site is computed
    // twice while the session runs (each computation reads the site, the charger, its sessions and
    // profiles, stores the allocation and, the first time, sends a TxProfile through the command path;
    // this model's gateway reaches no charger, so the send ends failed, which writes as much as an
    // answer).
    {
        use cpms_domain::allocation::SiteGrid;
        let site = format!("cost-site-{}", rand::random::<u32>());
        let cid = ChargerId::new(&id)?;
        if let Some(mut ch) = csms.ports().chargers.get(&cid).await? {
            ch.value.site_id = Some(site.clone());
            csms.ports()
                .chargers
                .put(&ch.value, Expected::Version(ch.version), &[])
                .await?;
        }
        let grid = SiteGrid {
            tenant: TenantId::default_tenant(),
            site_id: site.clone(),
            tree: serde_json::from_value(json!({"nodes": [
                {"id": "grid", "kind": "grid", "limit_a": 63},
                {"id": "cp", "parent": "grid", "kind": "charger", "charger_id": id},
                {"id": "e1", "parent": "cp", "kind": "evse", "evse_id": 1, "limit_a": 32}]}))?,
            policy: Default::default(),
            updated_at: now,
        };
        cpms_ports::Documents::<SiteGrid>::new(csms.ports().docs.clone())
            .put(&grid, Expected::Absent)
            .await?;
        for _ in 0..2 {
            let (cost, r) = measured(
                meter,
                &logs,
                csms.recompute_site(&TenantId::default_tenant(), &site, "cost model"),
            )
            .await;
            r?;
            seen.entry(SMART_COMPUTATION).or_default().push(cost);
        }
    }
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
        let (u, _) = frame(csms, m, &conn, &mut n, action, payload).await;
        seen.entry(action).or_default().push(u);
    }
    measure_alerts(csms, meter, &logs, &id, &mut seen).await?;
    let (cost, _) = measured(meter, &logs, csms.disconnect(&conn)).await;
    seen.entry("$disconnect").or_default().push(cost);
    Ok(seen
        .into_iter()
        .map(|(k, v)| {
            let n = v.len() as f64;
            let mean = |f: fn(&Cost) -> f64| v.iter().map(f).sum::<f64>() / n;
            (
                k,
                Measured {
                    reads: mean(|c| c.units.reads),
                    writes: mean(|c| c.units.writes),
                    write_requests: mean(|c| c.units.write_requests as f64),
                    read_requests: mean(|c| c.units.read_requests as f64),
                    log_bytes: mean(|c| c.log_bytes as f64),
                },
            )
        })
        .collect())
}

/// The alerts consumer on the events of a standard session, and the sweeper with nothing due and with
/// this charger's watch due.
async fn measure_alerts(
    csms: &Csms,
    meter: &Meter,
    logs: &LogCounter,
    id: &str,
    seen: &mut BTreeMap<&'static str, Vec<Cost>>,
) -> anyhow::Result<()> {
    use cpms_domain::events::{DomainEvent, EventBody};
    let tenant = TenantId::default_tenant();
    let cid = ChargerId::new(id)?;
    let sid = cpms_domain::SessionId::new(cid.clone(), "1");
    let now = Utc::now();
    let ev = |n: i64, body| DomainEvent {
        id: format!("cost-{n}"),
        tenant: tenant.clone(),
        occurred_at: now + chrono::Duration::milliseconds(n),
        body,
    };
    let status = |n, s: &str| {
        ev(
            n,
            EventBody::ConnectorStatusChanged {
                charger_id: cid.clone(),
                evse_id: 1,
                connector_id: 1,
                status: cpms_domain::charger::ConnectorStatus::from_ocpp(s)
                    .unwrap_or(cpms_domain::charger::ConnectorStatus::Occupied),
                ocpp_status: s.into(),
                error_code: Some("NoError".into()),
                previous: None,
                info: None,
                vendor_id: None,
                vendor_error_code: None,
                reported_at: Some(now + chrono::Duration::milliseconds(n)),
            },
        )
    };
    let plan: Vec<(&'static str, DomainEvent)> = vec![
        (
            "alerts: connect",
            ev(
                0,
                EventBody::ChargerConnected {
                    charger_id: cid.clone(),
                    ocpp_version: "1.6".into(),
                },
            ),
        ),
        ("alerts: connector status", status(1, "Preparing")),
        (
            "alerts: session start",
            ev(
                2,
                EventBody::SessionStarted {
                    session_id: sid.clone(),
                    evse_id: Some(1),
                    id_token: None,
                    started_at: Some(now),
                },
            ),
        ),
        ("alerts: connector status", status(3, "Charging")),
        ("alerts: connector status", status(4, "Finishing")),
        (
            "alerts: session end",
            ev(
                5,
                EventBody::SessionEnded {
                    session_id: sid.clone(),
                    status: cpms_domain::session::SessionStatus::Completed,
                    started_at: Some(now),
                    ended_at: Some(now),
                    energy_wh: Some(rust_decimal::Decimal::from(3700)),
                    id_token: None,
                    stop_reason: None,
                },
            ),
        ),
        (
            "alerts: CDR",
            ev(
                6,
                EventBody::CdrCreated {
                    cdr_id: "cost-cdr".into(),
                    kind: "regular".into(),
                    credits: None,
                    session_id: sid.clone(),
                    billed_party: "driver:COSTTAG".into(),
                    currency: "EUR".into(),
                    total_excl_vat: rust_decimal::Decimal::ONE,
                    total_incl_vat: rust_decimal::Decimal::ONE,
                    review: false,
                },
            ),
        ),
        ("alerts: connector status", status(7, "Available")),
    ];
    for (key, e) in plan {
        let (cost, r) = measured(meter, logs, csms.alert_on_event(&e)).await;
        r?;
        seen.entry(key).or_default().push(cost);
    }
    let (cost, r) = measured(meter, logs, csms.sweep_alerts(&tenant)).await;
    r?;
    seen.entry(SWEEP_IDLE).or_default().push(cost);
    // The watch comes due (its charger was heard from: it is re-armed).
    let watches = cpms_ports::Documents::<cpms_domain::incidents::watch::Watch>::new(
        csms.ports().docs.clone(),
    );
    if let Some(w) = watches.get(&tenant, id).await? {
        let mut v = w.value;
        v.due = Some(Utc::now() - chrono::Duration::seconds(1));
        watches.put(&v, Expected::Version(w.version)).await?;
    }
    let (cost, r) = measured(meter, logs, csms.sweep_alerts(&tenant)).await;
    r?;
    seen.entry(SWEEP_ONE_WATCH).or_default().push(cost);
    Ok(())
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
    /// The total with the heartbeat interval at [`LONGEST_HEARTBEAT_S`].
    pub longest_heartbeat_usd: f64,
}

/// Prices the standard month with the measured units.
pub fn model(per_message: BTreeMap<&'static str, Measured>) -> Model {
    let longest = model_with(per_message.clone(), LONGEST_HEARTBEAT_S).total_usd;
    let mut m = model_with(per_message, STANDARD_HEARTBEAT_S);
    m.longest_heartbeat_usd = longest;
    m
}

/// Prices the month with Heartbeats every `heartbeat_s`.
pub fn model_with(per_message: BTreeMap<&'static str, Measured>, heartbeat_s: f64) -> Model {
    use prices::*;
    let profile = month_profile(heartbeat_s);
    let ocpp: f64 = profile
        .iter()
        .filter(|(k, _)| !k.starts_with('$'))
        .map(|(_, v)| v)
        .sum();
    let invocations: f64 = profile.values().sum();
    let (events, deliveries) = events_and_deliveries(&profile);
    let (mut reads, mut writes, mut log_bytes) =
        (0.0, 0.0, invocations * assume::PLATFORM_LOG_BYTES);
    for (k, n) in &profile {
        if let Some(m) = per_message.get(k) {
            reads += m.reads * n;
            writes += m.writes * n;
            log_bytes += m.log_bytes * n;
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
            item: "Alerts consumer: DynamoDB units (measured)".into(),
            quantity: ALERT_EVENTS.iter().map(|(_, m)| profile[m]).sum(),
            usd: alerting_usd(&per_message, heartbeat_s).0,
        },
        Line {
            item: "Offline checks by the alert sweeper (measured)".into(),
            quantity: 30.0 * 86_400.0 / (2.0 * heartbeat_s + 60.0),
            usd: alerting_usd(&per_message, heartbeat_s).1,
        },
        Line {
            item: "CloudWatch Logs (GB, measured lines at info)".into(),
            quantity: log_bytes / 1e9,
            usd: log_bytes / 1e9 * LOGS_GB,
        },
    ];
    let total_usd = lines.iter().map(|l| l.usd).sum();
    Model {
        per_message,
        messages: profile,
        lines,
        total_usd,
        longest_heartbeat_usd: total_usd,
    }
}

impl Model {
    /// The table printed by `cpms cost-model`.
    pub fn text(&self) -> String {
        let mut s =
            String::from("DynamoDB units per message (measured on the DynamoDB adapter):\n");
        s.push_str(&format!(
            "  {:<20} {:>12} {:>11} {:>14} {:>13} {:>10} {:>10}\n",
            "message",
            "write units",
            "read units",
            "write requests",
            "read requests",
            "log bytes",
            "per month"
        ));
        for (k, m) in &self.per_message {
            let n = self.messages.get(k).copied().unwrap_or(0.0);
            s.push_str(&format!(
                "  {k:<20} {:>12.2} {:>11.2} {:>14.2} {:>13.2} {:>10.0} {n:>10.0}\n",
                m.writes, m.reads, m.write_requests, m.read_requests, m.log_bytes
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
            "\nHeartbeats are half of a charger's messages: at {LONGEST_HEARTBEAT_S} s instead of \
             {STANDARD_HEARTBEAT_S} s (HeartbeatIntervalSeconds in the stack) the total is ${:.5}.",
            self.longest_heartbeat_usd
        ));
        s.push_str(&format!(
            "\nA 2.0.1 charger adds ${:.5} (each meter value published to billing for the running cost \
             and to smart charging).\n",
            live_meter_extra()
        ));
        s.push_str(&format!(
            "The alert sweeper costs a deployment ${:.3} a month whatever its size (one run a minute, \
             four index queries per tenant); each charger adds its offline checks above.\n",
            sweeper_fixed_usd(&self.per_message)
        ));
        if let Some(c) = self.per_message.get(SMART_COMPUTATION) {
            s.push_str(&format!(
                "Smart charging adds ${:.5} per charger in a site of 20 chargers (${:.5} alone): {:.1} \
                 read and {:.1} write units per computation of a one-charger site, about 4 computations \
                 and 2 TxProfiles per session, every computation reading every charger of the site.\n",
                smart_charging_extra(c, 20.0),
                smart_charging_extra(c, 1.0),
                c.reads,
                c.writes
            ));
        }
        s
    }
}

/// Measures on `csms` and prices the month.
pub async fn run(csms: Arc<Csms>, meter: Arc<Meter>) -> anyhow::Result<Model> {
    Ok(model(measure(&csms, &meter).await?))
}
