//! OCPI Locations on a network of 1,000 sites with 5 chargers of 2 EVSEs each (5,000 chargers,
//! 10,000 EVSEs): publishing every location (what a resync does), a partner's GET of a page of 100
//! (the first and the last), and a connector status becoming an EVSE PATCH (what every
//! StatusNotification costs roaming). The store commits without fsync here (the CPU cost).
//!
//! Run: `cargo bench -p cpms-roaming --bench locations`.

use std::sync::Arc;
use std::time::Instant;

use chrono::Utc;
use cpms_domain::charger::{
    Charger, ConnectorFormat, ConnectorSpec, ConnectorStandard, ConnectorState, ConnectorStatus,
    EvseSpec, PowerType,
};
use cpms_domain::events::{DomainEvent, EventBody};
use cpms_domain::site::{Address, Coordinates, Site};
use cpms_domain::{ChargerId, TenantId};
use cpms_embedded::{Durability, EmbeddedStore};
use cpms_ocpi::page::PageParams;
use cpms_ports::{ChargerStore, Documents, Expected, SystemClock};
use cpms_roaming::{Roaming, RoamingConfig, RoamingPorts};
use criterion::{Criterion, criterion_group, criterion_main};
use rust_decimal::Decimal;

const SITES: usize = 1000;
const PER_SITE: usize = 5;

fn charger(tenant: &TenantId, site: &str, id: &str) -> Charger {
    let now = Utc::now();
    let mut c = Charger::register(tenant.clone(), ChargerId::new(id).unwrap(), now);
    c.site_id = Some(site.to_string());
    c.evses = (1..=2)
        .map(|e| EvseSpec {
            evse_id: e,
            connectors: vec![ConnectorSpec {
                connector_id: 1,
                standard: ConnectorStandard::Type2,
                format: ConnectorFormat::Socket,
                power_type: PowerType::Ac3Phase,
                max_power_kw: Decimal::from(22),
            }],
        })
        .collect();
    c.connectors = (1..=2)
        .map(|e| ConnectorState {
            evse_id: e,
            connector_id: 1,
            status: ConnectorStatus::Available,
            ocpp_status: "Available".into(),
            error_code: None,
            info: None,
            vendor_error_code: None,
            vendor_id: None,
            reported_at: now,
            received_at: now,
            meter: None,
        })
        .collect();
    c
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedStore::open(dir.path(), Durability::NoSync).unwrap();
    let roaming = Roaming::new(
        RoamingPorts {
            docs: Arc::new(store.clone()),
            chargers: Arc::new(store.clone()),
            sessions: Arc::new(store.clone()),
            tokens: Arc::new(store.clone()),
            clock: Arc::new(SystemClock),
            client: Arc::new(cpms_ports::partner_client::NoPartners),
        },
        RoamingConfig::default(),
    );
    let tenant = TenantId::default_tenant();
    rt.block_on(async {
        roaming
            .set_settings(&tenant, "DE", "CPO", "Bench CPO".into(), None)
            .await
            .unwrap();
        let sites = Documents::<Site>::new(Arc::new(store.clone()));
        let now = Utc::now();
        for s in 0..SITES {
            let id = format!("site-{s:04}");
            let site = Site {
                tenant: tenant.clone(),
                id: id.clone(),
                name: format!("Site {s}"),
                address: Address {
                    street: "Street 1".into(),
                    city: "City".into(),
                    postal_code: None,
                    country: "DEU".into(),
                },
                coordinates: Coordinates {
                    latitude: Decimal::new(52_000_000 + s as i64, 6),
                    longitude: Decimal::new(13_000_000 + s as i64, 6),
                },
                time_zone: "Europe/Berlin".into(),
                grid_limit_kw: None,
                created_at: now,
                updated_at: now,
            };
            sites.put(&site, Expected::Absent).await.unwrap();
            for k in 0..PER_SITE {
                let ch = charger(&tenant, &id, &format!("CP-{s:04}-{k}"));
                ChargerStore::put(&store, &ch, Expected::Absent, &[])
                    .await
                    .unwrap();
            }
        }
        let t = Instant::now();
        let n = roaming.resync(&tenant, None).await.unwrap();
        eprintln!(
            "published {n} locations ({} chargers) in {:?}",
            SITES * PER_SITE,
            t.elapsed()
        );
    });

    let mut g = c.benchmark_group("ocpi_locations");
    g.sample_size(20);
    for (name, offset) in [("get_first_page_of_100", 0), ("get_last_page_of_100", 900)] {
        g.bench_function(name, |b| {
            b.to_async(&rt).iter(|| async {
                let p = PageParams {
                    offset,
                    limit: 100,
                    ..PageParams::default()
                };
                let (items, total) = roaming
                    .published_page(&tenant, "locations", None, &p)
                    .await
                    .unwrap();
                assert_eq!((items.len(), total), (100, SITES));
            })
        });
    }
    let mut faulted = false;
    g.bench_function("status_change_to_evse_patch", |b| {
        b.to_async(&rt).iter(|| {
            faulted = !faulted;
            let (store, roaming, tenant) = (store.clone(), &roaming, tenant.clone());
            async move {
                let id = ChargerId::new("CP-0500-2").unwrap();
                let mut ch = ChargerStore::get(&store, &id).await.unwrap().unwrap();
                let status = if faulted {
                    ConnectorStatus::Faulted
                } else {
                    ConnectorStatus::Available
                };
                ch.value.connectors[0].status = status;
                ChargerStore::put(&store, &ch.value, Expected::Version(ch.version), &[])
                    .await
                    .unwrap();
                let ev = DomainEvent {
                    id: format!("bench-{}", rand_id()),
                    tenant,
                    occurred_at: Utc::now(),
                    body: EventBody::ConnectorStatusChanged {
                        charger_id: id,
                        evse_id: 1,
                        connector_id: 1,
                        status,
                        ocpp_status: format!("{status:?}"),
                        error_code: None,
                        previous: None,
                        info: None,
                        vendor_id: None,
                        vendor_error_code: None,
                        reported_at: None,
                    },
                };
                roaming.publish(&ev).await.unwrap();
            }
        })
    });
    g.finish();
}

fn rand_id() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

criterion_group!(benches, bench);
criterion_main!(benches);
