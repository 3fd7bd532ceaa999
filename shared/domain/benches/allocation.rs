//! Allocating a site: 1,000 connectors (500 chargers of two EVSEs, a third single-phase on rotated
//! phases) under 10 boards and a grid connection, with a power limit, cars of different maxima, a few
//! measured under their limit, three priorities and some uncontrollable chargers. Target: p50 under 1 ms.

use chrono::{DateTime, Duration, Utc};
use cpms_domain::ChargerId;
use cpms_domain::allocation::{
    Conditions, Demand, ElectricalTree, GridNode, NodeKind, Settings, SitePolicy, allocate,
    effective,
};
use criterion::{Criterion, criterion_group, criterion_main};
use rust_decimal::Decimal;

fn node(id: String, parent: Option<String>, kind: NodeKind) -> GridNode {
    GridNode::new(id, parent.as_deref(), kind)
}

fn site() -> (ElectricalTree, Vec<Demand>) {
    let mut grid = node("grid".into(), None, NodeKind::Grid);
    grid.limit_a = Some(Decimal::from(4000));
    grid.limit_kw = Some(Decimal::from(2500));
    let mut nodes = vec![grid];
    let mut demands = Vec::new();
    let t0: DateTime<Utc> = "2026-12-01T08:00:00Z".parse().unwrap();
    let rotations = ["L1L2L3", "L2L3L1", "L3L1L2"];
    for b in 0..10 {
        let mut board = node(format!("b{b}"), Some("grid".into()), NodeKind::Board);
        board.limit_a = Some(Decimal::from(500));
        nodes.push(board);
        for c in 0..50 {
            let n: usize = b * 50 + c;
            let id = format!("CP{n:04}");
            let mut charger = node(format!("c{n}"), Some(format!("b{b}")), NodeKind::Charger);
            charger.charger_id = Some(ChargerId::new(&id).unwrap());
            charger.limit_a = Some(Decimal::from(48));
            if n.is_multiple_of(3) {
                charger.phases = 1;
            }
            charger.phase_rotation = rotations[n % 3].parse().unwrap();
            let phases = charger.phases;
            nodes.push(charger);
            for e in 1..=2u32 {
                let mut evse = node(format!("c{n}-{e}"), Some(format!("c{n}")), NodeKind::Evse);
                evse.evse_id = Some(e);
                evse.phases = phases;
                evse.limit_a = Some(Decimal::from(32));
                nodes.push(evse);
                let k = n * 2 + e as usize;
                demands.push(Demand {
                    charger: ChargerId::new(&id).unwrap(),
                    evse_id: e,
                    session_id: None,
                    controllable: !k.is_multiple_of(50),
                    priority: i32::from(k.is_multiple_of(7)) + i32::from(k.is_multiple_of(13)),
                    arrived_at: t0 + Duration::seconds((k * 37 % 3600) as i64),
                    phases_in_use: (k.is_multiple_of(5)).then_some(1),
                    car_max_a: Some(Decimal::from([16, 32, 24, 11][k % 4])),
                    car_max_w: None,
                    session_max_a: (k.is_multiple_of(11)).then(|| Decimal::from(10)),
                    session_max_w: None,
                    car_min_a: None,
                    measured_a: (k.is_multiple_of(9)).then(|| Decimal::from(5)),
                    previous_limit_a: (k.is_multiple_of(9)).then(|| Decimal::from(16)),
                    fixed_a: None,
                });
            }
        }
    }
    (ElectricalTree { nodes }, demands)
}

fn bench(c: &mut Criterion) {
    let (tree, demands) = site();
    let resolved = tree.resolve().expect("tree");
    let now: DateTime<Utc> = "2026-12-01T18:00:00Z".parse().unwrap();
    let policy = SitePolicy::default();
    let cond = Conditions::default();
    let limits = effective(&resolved, &policy, &cond, chrono_tz::UTC, now);
    let settings = Settings::default();
    c.bench_function("allocate 1,000 connectors", |b| {
        b.iter(|| allocate(&resolved, &limits, &demands, &settings))
    });
    c.bench_function("resolve, limits and allocate 1,000 connectors", |b| {
        b.iter(|| {
            let r = tree.resolve().expect("tree");
            let l = effective(&r, &policy, &cond, chrono_tz::UTC, now);
            allocate(&r, &l, &demands, &settings)
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
