//! Smart charging at a schedule boundary: 1,000 sites, each a grid connection with one charger of two
//! EVSEs, both charging, computed again one after the other (read the tree, the conditions, the
//! chargers, their sessions and profiles; allocate; store the allocation; nothing to send when the limits
//! did not move). Target: all 1,000 in under 1 s. The store commits without fsync here (the CPU cost);
//! `cpms serve` adds its group-committed fsync.
//!
//! Run: `cargo bench -p cpms-app --bench sites`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use cpms_app::{ConnectOutcome, ConnectRequest, hash_password};
use cpms_domain::allocation::{ElectricalTree, SiteGrid, SitePolicy};
use cpms_domain::charger::Charger;
use cpms_domain::{ChargerId, TenantId};
use cpms_embedded::Durability;
use cpms_ports::{ChargerStore, Documents, Expected};
use criterion::{Criterion, criterion_group, criterion_main};
use serde_json::json;

#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod support;

const SITES: usize = 1000;

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (csms, store) = support::embedded_csms(dir.path(), Durability::NoSync);
    let tenant = TenantId::default_tenant();
    let hash = hash_password("bench-password-0001");
    let sites: Vec<String> = rt.block_on(async {
        let now = Utc::now();
        support::accepted_token(&store, "BENCH").await;
        let grids = Documents::<SiteGrid>::new(Arc::new(store.clone()));
        let mut out = Vec::new();
        for i in 0..SITES {
            let site = format!("site{i}");
            let id = format!("SITECP{i}");
            let mut ch = Charger::register(tenant.clone(), ChargerId::new(&id).unwrap(), now);
            ch.password_hash = Some(hash.clone());
            ch.site_id = Some(site.clone());
            ChargerStore::put(&store, &ch, Expected::Absent, &[]).await.unwrap();
            let tree: ElectricalTree = serde_json::from_value(json!({"nodes": [
                {"id": "grid", "kind": "grid", "limit_a": 40, "limit_kw": 25},
                {"id": "cp", "parent": "grid", "kind": "charger", "charger_id": id, "limit_a": 63},
                {"id": "e1", "parent": "cp", "kind": "evse", "evse_id": 1, "limit_a": 32},
                {"id": "e2", "parent": "cp", "kind": "evse", "evse_id": 2, "limit_a": 32, "phases": 1, "phase_rotation": "L2"}]}))
            .unwrap();
            let grid = SiteGrid {
                tenant: tenant.clone(),
                site_id: site.clone(),
                tree,
                policy: SitePolicy::default(),
                updated_at: now,
            };
            grids.put(&grid, Expected::Absent).await.unwrap();
            let conn = format!("conn{i}");
            let auth = support::basic(&id, "bench-password-0001");
            let r = csms
                .connect(ConnectRequest {
                    connection_id: conn.clone(),
                    identity: id.clone(),
                    authorization: Some(auth),
                    subprotocols: vec!["ocpp1.6".into()],
                    remote_addr: None,
                })
                .await;
            assert!(matches!(r, ConnectOutcome::Accept { .. }));
            let boot = json!([2, "b", "BootNotification", {"chargePointVendor": "B", "chargePointModel": "B"}]);
            csms.message(&conn, boot.to_string().as_bytes()).await;
            for connector in [1, 2] {
                let start = json!([2, format!("s{connector}"), "StartTransaction", {"connectorId": connector,
                    "idTag": "BENCH", "meterStart": 0, "timestamp": Utc::now().to_rfc3339()}]);
                csms.message(&conn, start.to_string().as_bytes()).await;
            }
            out.push(site);
        }
        // The first computation sends the profiles; later ones find the limits unchanged.
        for s in &out {
            csms.recompute_site(&tenant, s, "setup").await.unwrap();
        }
        out
    });
    let mut g = c.benchmark_group("smart_charging");
    g.sample_size(10).measurement_time(Duration::from_secs(20));
    g.bench_function("recompute 1,000 sites", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let t = Instant::now();
                rt.block_on(async {
                    for s in &sites {
                        csms.recompute_site(&tenant, s, "schedule boundary")
                            .await
                            .unwrap();
                    }
                });
                total += t.elapsed();
            }
            total
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
