//! Cost of handling one charger frame in-process: parse, validate against the schema, normalize, apply to
//! the session or charger, and write the store (commit included).
//!
//! - `cpu/*`: the store commits without fsync, so the time is the CPU cost of the whole path (the target:
//!   p50 under 50 µs for MeterValues and StatusNotification).
//! - `durable/*`: real fsync per frame, one frame at a time (latency a lone charger sees).
//! - `durable_concurrent/*`: 64 chargers' frames at once sharing commits (group commit), reported per
//!   frame.
//!
//! Run: `cargo bench -p cpms-app --bench frames`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use cpms_app::{ConnectOutcome, ConnectRequest, Csms, hash_password};
use cpms_domain::charger::Charger;
use cpms_domain::{ChargerId, TenantId};
use cpms_embedded::Durability;
use cpms_ports::{ChargerStore, Expected};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use serde_json::json;
use tokio::runtime::Runtime;

/// The allocator the `cpms` binary and the Lambda functions use.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod support;

struct Setup {
    csms: Arc<Csms>,
    _dir: tempfile::TempDir,
}

/// A CSMS with `n` booted chargers, each with an open session; returns their connection ids and
/// 1.6 transaction ids.
fn setup(
    rt: &Runtime,
    durability: Durability,
    n: usize,
    v201: bool,
) -> (Setup, Vec<(String, i64)>) {
    let dir = tempfile::tempdir().unwrap();
    let (csms, store) = support::embedded_csms(dir.path(), durability);
    let hash = hash_password("bench-password-0001");
    let conns = rt.block_on(async {
        support::accepted_token(&store, "BENCH").await;
        let mut out = Vec::new();
        for i in 0..n {
            let id = format!("BENCH{i}");
            let mut c = Charger::register(TenantId::default_tenant(), ChargerId::new(&id).unwrap(), Utc::now());
            c.password_hash = Some(hash.clone());
            ChargerStore::put(&store, &c, Expected::Absent, &[]).await.unwrap();
            let conn = format!("conn{i}");
            let auth = support::basic(&id, "bench-password-0001");
            let proto = if v201 { "ocpp2.0.1" } else { "ocpp1.6" };
            let r = csms
                .connect(ConnectRequest {
                    connection_id: conn.clone(),
                    identity: id.clone(),
                    authorization: Some(auth),
                    subprotocols: vec![proto.into()],
                    remote_addr: None,
                })
                .await;
            assert!(matches!(r, ConnectOutcome::Accept { .. }));
            let boot = if v201 {
                json!([2, "b", "BootNotification", {"reason": "PowerUp", "chargingStation": {"vendorName": "B", "model": "B"}}])
            } else {
                json!([2, "b", "BootNotification", {"chargePointVendor": "B", "chargePointModel": "B"}])
            };
            csms.message(&conn, boot.to_string().as_bytes()).await;
            let tx = if v201 {
                let start = json!([2, "s", "TransactionEvent", {"eventType": "Started", "timestamp": Utc::now().to_rfc3339(),
                    "triggerReason": "Authorized", "seqNo": 0, "transactionInfo": {"transactionId": "T1"},
                    "idToken": {"idToken": "BENCH", "type": "ISO14443"}, "evse": {"id": 1, "connectorId": 1}}]);
                csms.message(&conn, start.to_string().as_bytes()).await;
                0
            } else {
                let start = json!([2, "s", "StartTransaction", {"connectorId": 1, "idTag": "BENCH", "meterStart": 0,
                    "timestamp": Utc::now().to_rfc3339()}]);
                let r = csms.message(&conn, start.to_string().as_bytes()).await.reply.unwrap();
                let v: serde_json::Value = serde_json::from_str(&r).unwrap();
                v[2]["transactionId"].as_i64().unwrap()
            };
            out.push((conn, tx));
        }
        out
    });
    (Setup { csms, _dir: dir }, conns)
}

fn meter_values_16(tx: i64, i: u64) -> String {
    let ts = (Utc::now() + chrono::Duration::milliseconds(i as i64)).to_rfc3339();
    json!([2, format!("m{i}"), "MeterValues", {"connectorId": 1, "transactionId": tx, "meterValue": [{"timestamp": ts,
        "sampledValue": [
            {"value": (1000 + i).to_string(), "measurand": "Energy.Active.Import.Register", "unit": "Wh"},
            {"value": "11000", "measurand": "Power.Active.Import", "unit": "W"},
            {"value": "16.1", "measurand": "Current.Import", "unit": "A", "phase": "L1"},
            {"value": "55", "measurand": "SoC", "unit": "Percent"}]}]}])
    .to_string()
}

fn status_16(i: u64) -> String {
    let ts = (Utc::now() + chrono::Duration::milliseconds(i as i64)).to_rfc3339();
    let status = if i.is_multiple_of(2) {
        "Charging"
    } else {
        "SuspendedEV"
    };
    json!([2, format!("s{i}"), "StatusNotification", {"connectorId": 1, "status": status, "errorCode": "NoError", "timestamp": ts}])
        .to_string()
}

fn transaction_event_201(i: u64) -> String {
    let ts = (Utc::now() + chrono::Duration::milliseconds(i as i64)).to_rfc3339();
    json!([2, format!("t{i}"), "TransactionEvent", {"eventType": "Updated", "timestamp": ts, "triggerReason": "MeterValuePeriodic",
        "seqNo": i + 1, "transactionInfo": {"transactionId": "T1", "chargingState": "Charging"},
        "meterValue": [{"timestamp": ts, "sampledValue": [
            {"value": 1000 + i, "measurand": "Energy.Active.Import.Register"},
            {"value": 11.0, "measurand": "Power.Active.Import", "unitOfMeasure": {"unit": "kW"}}]}]}])
    .to_string()
}

/// Times `iters` frames sent one after the other on one connection.
fn sequential(
    rt: &Runtime,
    s: &Setup,
    conn: &str,
    iters: u64,
    start: u64,
    make: &dyn Fn(u64) -> String,
) -> Duration {
    let frames: Vec<String> = (start..start + iters).map(make).collect();
    rt.block_on(async {
        let t = Instant::now();
        for f in &frames {
            let out = s.csms.message(conn, f.as_bytes()).await;
            debug_assert!(out.reply.is_some_and(|r| r.starts_with("[3,")));
        }
        t.elapsed()
    })
}

fn cpu(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let mut g = c.benchmark_group("cpu");
    g.throughput(Throughput::Elements(1));
    let (s16, conns16) = setup(&rt, Durability::NoSync, 1, false);
    let (conn, tx) = conns16[0].clone();
    let mut n = 0;
    g.bench_function("meter_values_1_6", |b| {
        b.iter_custom(|iters| {
            n += iters;
            sequential(&rt, &s16, &conn, iters, n, &|i| meter_values_16(tx, i))
        })
    });
    let mut n = 0;
    g.bench_function("status_notification_1_6", |b| {
        b.iter_custom(|iters| {
            n += iters;
            sequential(&rt, &s16, &conn, iters, n, &status_16)
        })
    });
    g.bench_function("heartbeat_1_6", |b| {
        b.iter_custom(|iters| {
            sequential(&rt, &s16, &conn, iters, 0, &|i| {
                format!("[2,\"h{i}\",\"Heartbeat\",{{}}]")
            })
        })
    });
    // A 120 KiB frame of stray commas (it took a second when their repair was quadratic).
    let junk = format!("[2,\"j\",\"Heartbeat\",{{{}}}]", " ,".repeat(61_000));
    g.bench_function("junk_frame_120kib_1_6", |b| {
        b.iter_custom(|iters| sequential(&rt, &s16, &conn, iters, 0, &|_| junk.clone()))
    });
    let (s201, conns201) = setup(&rt, Durability::NoSync, 1, true);
    let conn201 = conns201[0].0.clone();
    let mut n = 0;
    g.bench_function("transaction_event_2_0_1", |b| {
        b.iter_custom(|iters| {
            n += iters;
            sequential(&rt, &s201, &conn201, iters, n, &transaction_event_201)
        })
    });
    g.finish();
}

fn durable(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut g = c.benchmark_group("durable");
    g.throughput(Throughput::Elements(1));
    g.sample_size(20);
    let (s, conns) = setup(&rt, Durability::Immediate, 64, false);
    let (conn, tx) = conns[0].clone();
    let mut n = 0;
    g.bench_function("meter_values_1_6", |b| {
        b.iter_custom(|iters| {
            n += iters;
            sequential(&rt, &s, &conn, iters, n, &|i| meter_values_16(tx, i))
        })
    });
    g.finish();
    let mut g = c.benchmark_group("durable_concurrent");
    g.throughput(Throughput::Elements(conns.len() as u64));
    g.sample_size(20);
    let mut n = 1_000_000;
    g.bench_function("meter_values_1_6_x64", |b| {
        b.iter_custom(|iters| {
            let csms = s.csms.clone();
            let conns = conns.clone();
            n += iters;
            let base = n;
            rt.block_on(async move {
                let t = Instant::now();
                let mut tasks = Vec::new();
                for (conn, tx) in conns {
                    let csms = csms.clone();
                    tasks.push(tokio::spawn(async move {
                        for i in 0..iters {
                            let f = meter_values_16(tx, base + i);
                            csms.message(&conn, f.as_bytes()).await;
                        }
                    }));
                }
                for t in tasks {
                    t.await.unwrap();
                }
                t.elapsed()
            })
        })
    });
    g.finish();
}

criterion_group!(benches, cpu, durable);
criterion_main!(benches);
