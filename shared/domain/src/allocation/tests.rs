//! Unit and property tests of the allocator, the tree, the limits and the unit conversions.

use chrono::{DateTime, Duration, NaiveTime, TimeZone, Utc};
use proptest::prelude::*;
use rust_decimal::Decimal;

use super::*;
use crate::ChargerId;

macro_rules! dec {
    ($x:literal) => {
        stringify!($x).parse::<Decimal>().unwrap()
    };
}

fn node(id: &str, parent: Option<&str>, kind: NodeKind) -> GridNode {
    GridNode::new(id, parent, kind)
}

fn cp(id: &str) -> ChargerId {
    ChargerId::new(id).unwrap()
}

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 1, 12, 0, 0).unwrap()
}

/// A grid of `grid_a` with `n` three-phase chargers of one 32 A EVSE each.
fn site(grid_a: Decimal, n: usize) -> ElectricalTree {
    let mut g = node("grid", None, NodeKind::Grid);
    g.limit_a = Some(grid_a);
    let mut nodes = vec![g];
    for i in 0..n {
        let mut c = node(&format!("cp{i}"), Some("grid"), NodeKind::Charger);
        c.charger_id = Some(cp(&format!("CP{i:03}")));
        let mut e = node(&format!("cp{i}-1"), Some(&format!("cp{i}")), NodeKind::Evse);
        e.evse_id = Some(1);
        e.limit_a = Some(dec!(32));
        nodes.extend([c, e]);
    }
    ElectricalTree { nodes }
}

fn demand(charger: &str, minutes: i64) -> Demand {
    Demand::new(cp(charger), 1, t0() + Duration::minutes(minutes))
}

fn run(tree: &ElectricalTree, demands: &[Demand]) -> Allocation {
    let r = tree.resolve().unwrap();
    let e = effective(
        &r,
        &SitePolicy::default(),
        &Conditions::default(),
        chrono_tz::UTC,
        t0(),
    );
    allocate(&r, &e, demands, &Settings::default())
}

#[test]
fn watts_and_amps_with_explicit_phases_voltage_and_efficiency() {
    // GIVEN 16 A on three phases at 230 V THEN 11,040 W, and back.
    assert_eq!(units::ac_watts(dec!(16), 3, dec!(230)), dec!(11040));
    assert_eq!(units::ac_amps(dec!(11040), 3, dec!(230)), dec!(16));
    // One phase at 120 V.
    assert_eq!(units::ac_watts(dec!(32), 1, dec!(120)), dec!(3840));
    assert_eq!(units::ac_amps(dec!(3840), 1, dec!(120)), dec!(32));
    // DC 50 kW at 95 % from three phases at 230 V takes 76.28 A per phase.
    let a = units::dc_grid_amps(dec!(50000), 3, dec!(230), dec!(0.95));
    assert_eq!(a.round_dp(2), dec!(76.28));
    assert_eq!(
        units::dc_watts(a, 3, dec!(230), dec!(0.95)).round_dp(6),
        dec!(50000)
    );
    assert_eq!(units::ac_amps(dec!(1000), 0, dec!(0)), Decimal::ZERO);
}

#[test]
fn rotations_parse_compose_and_refuse_junk() {
    let r: Rotation = "L2L3L1".parse().unwrap();
    assert_eq!(r.map(Phase::L1), Phase::L2);
    assert_eq!(r.then(r).to_string(), "L3L1L2");
    let single: Rotation = "L3".parse().unwrap();
    assert_eq!(single.map(Phase::L1), Phase::L3);
    for bad in ["", "L1L1L2", "L4", "L1L2", "x", "L1L2L3L1"] {
        assert!(bad.parse::<Rotation>().is_err(), "{bad}");
    }
}

#[test]
fn a_tree_is_checked() {
    let mut t = site(dec!(100), 1);
    assert!(t.resolve().unwrap().warnings.is_empty());
    // A child above its parent is a warning.
    t.nodes[2].limit_a = Some(dec!(125));
    assert_eq!(t.resolve().unwrap().warnings.len(), 1);
    // An unknown parent, a second root, a cycle, a three-phase node under a single-phase one: errors.
    let mut bad = site(dec!(100), 1);
    bad.nodes[1].parent = Some("nowhere".into());
    assert!(bad.resolve().is_err());
    let mut bad = site(dec!(100), 1);
    bad.nodes[1].parent = None;
    assert!(bad.resolve().is_err());
    let mut bad = site(dec!(100), 2);
    bad.nodes[1].parent = Some("cp1".into());
    bad.nodes[3].parent = Some("cp0".into());
    assert!(bad.resolve().is_err());
    let mut bad = site(dec!(100), 1);
    bad.nodes[1].phases = 1;
    assert!(bad.resolve().is_err());
    let mut bad = site(dec!(100), 1);
    bad.nodes[2].evse_id = None;
    assert!(bad.resolve().is_err());
    let mut bad = site(dec!(100), 1);
    bad.nodes[0].limit_a = Some(Decimal::NEGATIVE_ONE);
    assert!(bad.resolve().is_err());
    assert!(ElectricalTree { nodes: vec![] }.resolve().is_err());
}

#[test]
fn cars_share_a_connection_equally_and_pause_the_latest_when_the_minimum_does_not_fit() {
    // GIVEN 100 A and 3 cars THEN each gets its EVSE's 32 A.
    let t = site(dec!(100), 20);
    let few: Vec<Demand> = (0..3).map(|i| demand(&format!("CP{i:03}"), i)).collect();
    let a = run(&t, &few);
    assert!(a.connectors.iter().all(|c| c.limit_a == dec!(32)));
    assert_eq!(a.connectors[0].binding.kind, BindingKind::NodeCurrent);
    assert_eq!(a.connectors[0].binding.node.as_deref(), Some("cp0-1"));
    // 5 cars: 20 A each, bound by the grid.
    let five: Vec<Demand> = (0..5).map(|i| demand(&format!("CP{i:03}"), i)).collect();
    let a = run(&t, &five);
    assert!(a.connectors.iter().all(|c| c.limit_a == dec!(20)), "{a:?}");
    assert_eq!(a.connectors[0].binding.node.as_deref(), Some("grid"));
    assert_eq!(a.nodes[0].current_a, [dec!(100), dec!(100), dec!(100)]);
    // 20 cars: 16 fit at 6 A, the 4 that came last are paused, the rest share 100 A: 6.2 A each.
    let all: Vec<Demand> = (0..20).map(|i| demand(&format!("CP{i:03}"), i)).collect();
    let a = run(&t, &all);
    for (i, c) in a.connectors.iter().enumerate() {
        if i < 16 {
            assert_eq!(
                (c.state, c.limit_a),
                (ConnectorState::Charging, dec!(6.2)),
                "{i}"
            );
        } else {
            assert_eq!(
                (c.state, c.limit_a),
                (ConnectorState::Paused, dec!(0)),
                "{i}"
            );
            assert_eq!(c.binding.kind, BindingKind::MinimumUnavailable);
        }
    }
}

#[test]
fn unused_headroom_goes_to_others_and_comes_back() {
    let t = site(dec!(60), 3);
    let mut ds: Vec<Demand> = (0..3).map(|i| demand(&format!("CP{i:03}"), i)).collect();
    // GIVEN a car that draws 8 A of the 20 A it was given THEN it is held at 10 A and the others get 25.
    ds[0].measured_a = Some(dec!(8));
    ds[0].previous_limit_a = Some(dec!(20));
    let a = run(&t, &ds);
    assert_eq!(a.connectors[0].limit_a, dec!(10));
    assert_eq!(a.connectors[0].binding.kind, BindingKind::MeasuredDraw);
    assert_eq!(a.connectors[1].limit_a, dec!(25));
    // WHEN it goes on drawing 8 A of its 10 THEN it stays at 10 (no swing back up and down).
    ds[0].previous_limit_a = Some(dec!(10));
    let a = run(&t, &ds);
    assert_eq!(a.connectors[0].limit_a, dec!(10));
    // WHEN it draws up to its cap THEN the cap is lifted.
    ds[0].measured_a = Some(dec!(9.8));
    ds[0].previous_limit_a = Some(dec!(10));
    let a = run(&t, &ds);
    assert_eq!(a.connectors[0].limit_a, dec!(20));
}

#[test]
fn priorities_fill_first_and_single_phase_cars_load_their_phase() {
    let mut t = site(dec!(40), 3);
    // cp1 is a single-phase charger on grid phase L2.
    t.nodes[3].phases = 1;
    t.nodes[3].phase_rotation = "L2".parse().unwrap();
    t.nodes[4].phases = 1;
    let mut ds: Vec<Demand> = (0..3).map(|i| demand(&format!("CP{i:03}"), i)).collect();
    ds[2].priority = 5;
    let a = run(&t, &ds);
    // The others keep their minimum (6 A each, both on L2); the priority car takes what L2 has left.
    assert_eq!(a.connectors[1].grid_phases, vec![Phase::L2]);
    assert_eq!(a.connectors[2].limit_a, dec!(28));
    assert_eq!(a.connectors[2].binding.phase, Some(Phase::L2));
    assert_eq!(
        (a.connectors[0].limit_a, a.connectors[1].limit_a),
        (dec!(6), dec!(6))
    );
    // Without cp1, L2 no longer binds: the priority car gets 32 A, cp0 gets the 8 A left.
    let a = run(&t, &[ds[0].clone(), ds[2].clone()]);
    assert_eq!(
        (a.connectors[0].limit_a, a.connectors[1].limit_a),
        (dec!(8), dec!(32))
    );
    // A car measured on one phase of a three-phase EVSE loads only that phase.
    let mut one = demand("CP000", 0);
    one.phases_in_use = Some(1);
    let a = run(&site(dec!(100), 1), &[one]);
    assert_eq!(a.connectors[0].grid_phases, vec![Phase::L1]);
    assert_eq!(a.connectors[0].limit_w, dec!(7360));
}

#[test]
fn power_limits_and_dc_efficiency() {
    let mut t = site(dec!(400), 2);
    t.nodes[0].limit_kw = Some(dec!(50));
    // cp1's EVSE is DC at 95 % and may take 100 A per phase.
    t.nodes[4].dc_efficiency = Some(dec!(0.95));
    t.nodes[4].limit_a = Some(dec!(100));
    let mut ds = vec![demand("CP000", 0), demand("CP001", 1)];
    ds[1].car_max_w = Some(dec!(150000));
    let a = run(&t, &ds);
    let grid_w: Decimal = a
        .connectors
        .iter()
        .map(|c| c.limit_a * Decimal::from(c.phases) * dec!(230))
        .sum();
    assert!(grid_w <= dec!(50000), "{grid_w}");
    assert!(grid_w > dec!(49000));
    // The DC car's output is its grid power times the efficiency.
    let dc = &a.connectors[1];
    assert_eq!(dc.limit_w, (dc.limit_a * dec!(690) * dec!(0.95)).floor());
    // The AC car is held by its EVSE's 32 A, the DC car by the grid's 50 kW.
    assert_eq!(a.connectors[0].limit_a, dec!(32));
    assert_eq!(a.connectors[0].binding.node.as_deref(), Some("cp0-1"));
    assert_eq!(dc.binding.kind, BindingKind::NodePower);
    assert_eq!(dc.binding.node.as_deref(), Some("grid"));
}

#[test]
fn uncontrollable_chargers_are_reserved_at_their_rating_or_draw() {
    let t = site(dec!(80), 3);
    let mut ds: Vec<Demand> = (0..3).map(|i| demand(&format!("CP{i:03}"), i)).collect();
    ds[0].controllable = false;
    ds[0].measured_a = Some(dec!(40));
    let a = run(&t, &ds);
    assert_eq!(a.connectors[0].state, ConnectorState::Reserved);
    assert_eq!(a.connectors[0].limit_a, dec!(40));
    assert_eq!(a.connectors[1].limit_a, dec!(20));
    // Fixed loads above a limit are reported.
    let mut ds2 = ds.clone();
    ds2[1].controllable = false;
    ds2[1].measured_a = Some(dec!(45));
    let a = run(&t, &ds2);
    assert!(a.warnings.iter().any(|w| w.contains("overloaded")));
    assert_eq!(a.connectors[2].state, ConnectorState::Paused);
    // A demand outside the tree is not allocated.
    let a = run(&t, &[demand("ELSEWHERE", 0)]);
    assert_eq!(a.connectors[0].state, ConnectorState::Paused);
    assert_eq!(a.warnings.len(), 1);
}

#[test]
fn schedules_prices_external_limits_and_readings() {
    let t = site(dec!(100), 2);
    let r = t.resolve().unwrap();
    let tz: chrono_tz::Tz = "Europe/Berlin".parse().unwrap();
    let policy = SitePolicy {
        schedules: vec![ScheduledLimit {
            node: "grid".into(),
            days: vec![],
            from: NaiveTime::from_hms_opt(17, 0, 0).unwrap(),
            to: NaiveTime::from_hms_opt(21, 0, 0).unwrap(),
            limit_a: Some(dec!(50)),
            limit_kw: None,
        }],
        price_caps: vec![PriceCap {
            node: "grid".into(),
            at_or_above: dec!(0.30),
            limit_kw: dec!(20),
        }],
        ..SitePolicy::default()
    };
    // 16:59 Berlin (15:59 UTC in December): no schedule yet; the next change is at 17:00.
    let before = Utc.with_ymd_and_hms(2026, 12, 1, 15, 59, 0).unwrap();
    let e = effective(&r, &policy, &Conditions::default(), tz, before);
    assert_eq!(e.nodes[0].limit_a, Some(dec!(100)));
    assert_eq!(
        e.next_change,
        Some(Utc.with_ymd_and_hms(2026, 12, 1, 16, 0, 0).unwrap())
    );
    let during = Utc.with_ymd_and_hms(2026, 12, 1, 18, 0, 0).unwrap();
    let e = effective(&r, &policy, &Conditions::default(), tz, during);
    assert_eq!(e.nodes[0].limit_a, Some(dec!(50)));
    assert_eq!(
        e.nodes[0].limit_a_by.as_deref(),
        Some("schedule 17:00-21:00")
    );
    assert_eq!(
        e.next_change,
        Some(Utc.with_ymd_and_hms(2026, 12, 1, 20, 0, 0).unwrap())
    );
    // A price at or above 0.30 caps the grid at 20 kW.
    let cond = Conditions {
        price_curve: vec![PricePoint {
            from: before - Duration::hours(1),
            to: before + Duration::minutes(30),
            price_per_kwh: dec!(0.31),
        }],
        external_limits: vec![ExternalLimit {
            id: "dso-1".into(),
            node: "grid".into(),
            source: Some("dso".into()),
            limit_a: Some(dec!(63)),
            limit_kw: None,
            until: before + Duration::minutes(10),
        }],
        readings: vec![LoadReading {
            node: "grid".into(),
            current_a: Some(vec![dec!(10), dec!(20), dec!(30)]),
            power_kw: None,
            at: before - Duration::minutes(1),
        }],
    };
    let e = effective(&r, &policy, &cond, tz, before);
    assert_eq!(e.nodes[0].limit_kw, Some(dec!(20)));
    assert_eq!(e.nodes[0].limit_a, Some(dec!(63)));
    assert_eq!(e.nodes[0].other_a, [dec!(10), dec!(20), dec!(30)]);
    // The next change: 17:00 in Berlin comes before the reading goes stale (16:03 UTC).
    assert_eq!(
        e.next_change,
        Some(Utc.with_ymd_and_hms(2026, 12, 1, 16, 0, 0).unwrap())
    );
    let e2 = effective(&r, &SitePolicy::default(), &cond, tz, before);
    assert_eq!(e2.next_change, Some(before + Duration::minutes(4)));
    // The allocation keeps the 30 A of other load on L3 and the 20 kW in mind.
    let a = allocate(
        &r,
        &e,
        &[demand("CP000", 0), demand("CP001", 1)],
        &Settings::default(),
    );
    let l3 = a.nodes[0].current_a[2];
    assert!(l3 <= dec!(63), "{l3}");
    assert!(a.nodes[0].power_kw <= dec!(20), "{:?}", a.nodes[0]);
    // Later: the external limit lapsed, the reading is stale, the price interval is over.
    let later = before + Duration::minutes(45);
    let e = effective(&r, &policy, &cond, tz, later);
    assert_eq!(
        (e.nodes[0].limit_a, e.nodes[0].limit_kw),
        (Some(dec!(50)), None)
    );
    assert_eq!(e.nodes[0].other_a, [Decimal::ZERO; 3]);
}

#[test]
fn priorities_by_token_and_fleet() {
    let policy = SitePolicy {
        priorities: vec![
            PriorityRule {
                token: None,
                group: Some("FLEET".into()),
                priority: 2,
            },
            PriorityRule {
                token: Some("VIP".into()),
                group: None,
                priority: 5,
            },
        ],
        ..SitePolicy::default()
    };
    assert_eq!(policy.priority_of(Some("T1"), Some("FLEET")), 2);
    assert_eq!(policy.priority_of(Some("VIP"), Some("FLEET")), 5);
    assert_eq!(policy.priority_of(Some("T2"), None), 0);
    let bad = SitePolicy {
        priorities: vec![PriorityRule {
            token: None,
            group: None,
            priority: 1,
        }],
        ..SitePolicy::default()
    };
    assert!(bad.validate(&site(dec!(40), 1).resolve().unwrap()).is_err());
}

#[test]
fn capabilities_are_read_from_both_versions_answers() {
    let at = t0();
    let v16 = serde_json::json!({"configurationKey": [
        {"key": "SupportedFeatureProfiles", "readonly": true, "value": "Core,SmartCharging"},
        {"key": "ChargeProfileMaxStackLevel", "readonly": true, "value": "1"},
        {"key": "ChargingScheduleAllowedChargingRateUnit", "readonly": true, "value": "Power"}],
        "unknownKey": ["ChargingScheduleMaxPeriods"]});
    let c = ProfileCapabilities::from_answer(&v16, at);
    assert!(c.smart_charging);
    assert_eq!(
        (c.max_stack_level, c.unit(), c.stack_level(2)),
        (Some(1), "W", 1)
    );
    let no = serde_json::json!({"configurationKey": [{"key": "SupportedFeatureProfiles", "readonly": true, "value": "Core"}]});
    assert!(!ProfileCapabilities::from_answer(&no, at).smart_charging);
    let v201 = serde_json::json!({"getVariableResult": [
        {"attributeStatus": "Accepted", "component": {"name": "SmartChargingCtrlr"}, "variable": {"name": "Enabled"}, "attributeValue": "true"},
        {"attributeStatus": "Accepted", "component": {"name": "SmartChargingCtrlr"}, "variable": {"name": "RateUnit"}, "attributeValue": "A,W"},
        {"attributeStatus": "UnknownVariable", "component": {"name": "SmartChargingCtrlr"}, "variable": {"name": "ProfileStackLevel"}}]});
    let c = ProfileCapabilities::from_answer(&v201, at);
    assert!(c.smart_charging);
    assert_eq!((c.max_stack_level, c.unit()), (None, "A"));
    // An answer that says nothing: assume smart charging (the profiles' answers will tell).
    assert!(ProfileCapabilities::from_answer(&serde_json::json!({}), at).smart_charging);
}

#[test]
fn load_history_buckets_peaks_and_prices() {
    use super::load::{LoadStep, SiteLoadDay, buckets, energy_cost, peak};
    let step = |min: i64, kw: i64| LoadStep {
        at: t0() + Duration::minutes(min),
        kw: Decimal::from(kw),
        current_a: [Decimal::from(kw); 3],
    };
    let mut day = SiteLoadDay {
        tenant: crate::TenantId::default_tenant(),
        site_id: "s".into(),
        day: t0().date_naive(),
        steps: vec![],
    };
    // GIVEN 10 kW from 12:00, 40 kW from 12:10, 0 from 12:20 (a repeat changes nothing).
    assert!(day.record(step(0, 10)));
    assert!(!day.record(step(5, 10)));
    assert!(day.record(step(10, 40)));
    assert!(day.record(step(20, 0)));
    assert_eq!(day.steps.len(), 3);
    // THEN the 15-minute buckets average 20 kW (12:00) and 13.333 kW (12:15).
    let b = buckets(
        &day.steps,
        t0(),
        t0() + Duration::minutes(30),
        Duration::minutes(15),
    );
    assert_eq!(b.len(), 2);
    assert_eq!(b[0].avg_kw, dec!(20));
    assert_eq!(b[0].max_kw, dec!(40));
    assert_eq!(b[1].avg_kw, dec!(13.333));
    let p = peak(&day.steps, t0(), t0() + Duration::hours(1)).unwrap();
    assert_eq!(p.start, t0());
    // Priced: 0.10 until 12:10, 0.40 after; energy 10 kW x 10 min + 40 kW x 10 min = 8.333 kWh.
    let curve = vec![
        PricePoint {
            from: t0(),
            to: t0() + Duration::minutes(10),
            price_per_kwh: dec!(0.10),
        },
        PricePoint {
            from: t0() + Duration::minutes(10),
            to: t0() + Duration::minutes(30),
            price_per_kwh: dec!(0.40),
        },
    ];
    let c = energy_cost(&day.steps, &curve, t0(), t0() + Duration::minutes(30));
    assert_eq!(c.energy_kwh, dec!(8.333));
    assert_eq!(c.cost.round_dp(2), dec!(2.83));
    assert_eq!(c.average_price, Some(dec!(0.3)));
    // Drawing the expensive hours cost more than the average: nothing saved.
    assert!(c.saved.unwrap() < Decimal::ZERO);
}

// ---------------------------------------------------------------------------------------------
// Properties.

#[derive(Debug, Clone)]
struct Case {
    tree: ElectricalTree,
    demands: Vec<Demand>,
}

fn case() -> impl Strategy<Value = Case> {
    let board = (
        prop::option::of(16u32..400),
        prop::option::of(10u32..200),
        1usize..5,
    );
    let charger = (
        any::<bool>(),
        0usize..3,
        prop::option::of(10u32..64),
        1usize..3,
    );
    (
        20u32..600,
        prop::option::of(5u32..300),
        prop::collection::vec(board, 0..4),
        prop::collection::vec(charger, 1..24),
        prop::collection::vec(
            (
                0u8..4,
                prop::option::of(6u32..80),
                0i32..3,
                any::<bool>(),
                0usize..3,
            ),
            0..40,
        ),
    )
        .prop_map(|(grid_a, grid_kw, boards, chargers, demands)| {
            let mut g = node("grid", None, NodeKind::Grid);
            g.limit_a = Some(Decimal::from(grid_a));
            g.limit_kw = grid_kw.map(Decimal::from);
            let mut nodes = vec![g];
            for (i, (a, kw, _)) in boards.iter().enumerate() {
                let mut b = node(&format!("b{i}"), Some("grid"), NodeKind::Board);
                b.limit_a = a.map(Decimal::from);
                b.limit_kw = kw.map(Decimal::from);
                nodes.push(b);
            }
            let rotations = ["L1L2L3", "L2L3L1", "L3L1L2"];
            let mut evses = Vec::new();
            for (i, (three, rot, rating, n_evse)) in chargers.iter().enumerate() {
                let parent = if boards.is_empty() {
                    "grid".to_string()
                } else {
                    format!("b{}", i % boards.len())
                };
                let id = format!("c{i}");
                let mut c = node(&id, Some(&parent), NodeKind::Charger);
                c.charger_id = Some(cp(&format!("CP{i:03}")));
                c.phases = if *three { 3 } else { 1 };
                c.phase_rotation = rotations[*rot].parse().unwrap();
                nodes.push(c);
                for e in 1..=*n_evse {
                    let mut ev = node(&format!("{id}-{e}"), Some(&id), NodeKind::Evse);
                    ev.evse_id = Some(e as u32);
                    ev.phases = if *three { 3 } else { 1 };
                    ev.limit_a = rating.map(Decimal::from);
                    nodes.push(ev);
                    evses.push((format!("CP{i:03}"), e as u32));
                }
            }
            let mut taken = std::collections::HashSet::new();
            let demands = demands
                .iter()
                .enumerate()
                .filter_map(|(k, (phases, max, prio, ctl, _))| {
                    let (c, e) = evses[k % evses.len()].clone();
                    if !taken.insert((c.clone(), e)) {
                        return None;
                    }
                    let mut d = demand(&c, k as i64);
                    d.evse_id = e;
                    d.phases_in_use = (*phases > 0).then_some(*phases);
                    d.car_max_a = max.map(Decimal::from);
                    d.priority = *prio;
                    // One in eight is not controllable.
                    d.controllable = *ctl || k % 8 != 0;
                    Some(d)
                })
                .collect();
            Case {
                tree: ElectricalTree { nodes },
                demands,
            }
        })
}

fn load_of(
    r: &ResolvedTree,
    a: &Allocation,
    demands: &[Demand],
    node: usize,
) -> ([Decimal; 3], Decimal) {
    let mut cur = [Decimal::ZERO; 3];
    let mut w = Decimal::ZERO;
    for (d, c) in demands.iter().zip(&a.connectors) {
        let Some(e) = r.evse(&d.charger, d.evse_id) else {
            continue;
        };
        if !r.path(e).any(|j| j == node) || c.state == ConnectorState::Paused {
            continue;
        }
        for p in &c.grid_phases {
            cur[p.index()] += c.limit_a;
        }
        w += c.limit_a * Decimal::from(c.phases) * dec!(230);
    }
    (cur, w)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn no_node_is_exceeded_minimums_hold_shares_are_fair_and_results_repeat(c in case()) {
        let r = c.tree.resolve().unwrap();
        let e = effective(&r, &SitePolicy::default(), &Conditions::default(), chrono_tz::UTC, t0());
        let s = Settings::default();
        let a = allocate(&r, &e, &c.demands, &s);
        prop_assert_eq!(a.connectors.len(), c.demands.len());
        let overloaded = a.warnings.iter().any(|w| w.contains("overloaded"));
        // No node exceeded on any phase (unless loads the CSMS does not control already do).
        if !overloaded {
            for (i, n) in r.nodes.iter().enumerate() {
                let (cur, w) = load_of(&r, &a, &c.demands, i);
                if let Some(l) = n.node.limit_a {
                    for v in cur {
                        prop_assert!(v <= l, "node {} phase load {} > {}", n.node.id, v, l);
                    }
                }
                if let Some(kw) = n.node.limit_kw {
                    prop_assert!(w <= kw * dec!(1000), "node {} {} W > {} kW", n.node.id, w, kw);
                }
            }
        }
        for (d, x) in c.demands.iter().zip(&a.connectors) {
            if x.state == ConnectorState::Charging {
                // Every connector not paused gets at least its minimum.
                prop_assert!(x.limit_a >= s.min_current_a, "{:?}", x);
                // Never above the car's request.
                if let Some(m) = d.car_max_a {
                    prop_assert!(x.limit_a <= m);
                }
            }
        }
        // Max-min fairness within a priority: a connector bound by a node has at least what every
        // other connector of its priority on that node (and phase) has, up to the 0.1 A rounding.
        for (i, x) in a.connectors.iter().enumerate() {
            if x.state != ConnectorState::Charging
                || !matches!(x.binding.kind, BindingKind::NodeCurrent | BindingKind::NodePower)
            {
                continue;
            }
            let node = r.index_of(x.binding.node.as_deref().unwrap()).unwrap();
            for (j, y) in a.connectors.iter().enumerate() {
                if i == j || y.state != ConnectorState::Charging
                    || c.demands[j].priority != c.demands[i].priority
                {
                    continue;
                }
                let e = r.evse(&c.demands[j].charger, c.demands[j].evse_id).unwrap();
                let under = r.path(e).any(|k| k == node);
                let same_phase = x.binding.phase.is_none_or(|p| y.grid_phases.contains(&p));
                if under && same_phase {
                    prop_assert!(
                        y.limit_a <= x.limit_a + dec!(0.1),
                        "{} has {} but {} bound at {} by {:?}", j, y.limit_a, i, x.limit_a, x.binding
                    );
                }
            }
        }
        // A connector is paused only when its minimum does not fit beside the minimums of those that
        // charge and the reservations on that node and phase.
        for (i, x) in a.connectors.iter().enumerate() {
            if x.binding.kind != BindingKind::MinimumUnavailable || x.binding.phase.is_none() {
                continue;
            }
            let Some(node) = x.binding.node.as_deref().and_then(|n| r.index_of(n)) else {
                continue;
            };
            let phase = x.binding.phase.unwrap();
            let mut need = s.min_current_a;
            for (j, y) in a.connectors.iter().enumerate() {
                let e = r.evse(&c.demands[j].charger, c.demands[j].evse_id).unwrap();
                if i == j || !r.path(e).any(|k| k == node) || !y.grid_phases.contains(&phase) {
                    continue;
                }
                need += match y.state {
                    ConnectorState::Charging => s.min_current_a,
                    ConnectorState::Reserved => y.limit_a,
                    ConnectorState::Paused => Decimal::ZERO,
                };
            }
            let limit = r.nodes[node].node.limit_a.unwrap();
            prop_assert!(need > limit, "{} paused at {:?} though {} <= {}", i, x.binding, need, limit);
        }
        // The same input gives the same output, in any order of the demands.
        prop_assert_eq!(&allocate(&r, &e, &c.demands, &s), &a);
        let mut reversed = c.demands.clone();
        reversed.reverse();
        let mut b = allocate(&r, &e, &reversed, &s);
        b.connectors.reverse();
        prop_assert_eq!(b.connectors, a.connectors);
    }
}

#[test]
fn a_session_limit_caps_its_connector_and_frees_the_rest_for_the_others() {
    // Two cars share 40 A; a partner limits the first to 10 A: the other gets the 30 A left (its 32 A
    // EVSE is not reached), and each result names what bound it.
    let mut ds = vec![demand("CP000", 0), demand("CP001", 1)];
    ds[0].session_max_a = Some(dec!(10));
    let a = run(&site(dec!(40), 2), &ds);
    assert_eq!(a.connectors[0].limit_a, dec!(10));
    assert_eq!(a.connectors[0].binding.kind, BindingKind::SessionLimit);
    assert_eq!(a.connectors[1].limit_a, dec!(30));
    // A power limit is the same as current on the EVSE's phases (3 x 230 V): 6.9 kW is 10 A.
    ds[0].session_max_a = None;
    ds[0].session_max_w = Some(dec!(6900));
    assert_eq!(run(&site(dec!(40), 2), &ds).connectors[0].limit_a, dec!(10));
    // Below the minimum (or 0): paused, bound by the session's limit; the site's limit still wins
    // over a higher one.
    ds[0].session_max_w = Some(dec!(0));
    let a = run(&site(dec!(40), 2), &ds);
    assert_eq!(a.connectors[0].state, ConnectorState::Paused);
    assert_eq!(a.connectors[0].binding.kind, BindingKind::SessionLimit);
    ds[0].session_max_w = None;
    ds[0].session_max_a = Some(dec!(100));
    let a = run(&site(dec!(40), 2), &ds);
    assert_eq!(a.connectors[0].limit_a + a.connectors[1].limit_a, dec!(40));
}

#[test]
fn a_session_limit_follows_its_schedule() {
    use crate::command::{RateUnit, SchedulePeriod};
    let period = |start_s, limit| SchedulePeriod {
        start_s,
        limit,
        phases: None,
    };
    let l = SessionLimit {
        evse_id: 1,
        transaction_id: "7".into(),
        source: "ocpi:NL-EXA".into(),
        start: t0(),
        duration_s: Some(3600),
        rate_unit: RateUnit::A,
        periods: vec![period(0, dec!(16)), period(1800, dec!(8))],
        min_rate: None,
        set_at: t0(),
    };
    assert!(l.validate().is_ok());
    assert_eq!(l.limit_at(t0() - Duration::seconds(1)), None);
    assert_eq!(l.next_change(t0() - Duration::seconds(1)), Some(t0()));
    assert_eq!(l.limit_at(t0()), Some(dec!(16)));
    assert_eq!(l.limit_at(t0() + Duration::seconds(1799)), Some(dec!(16)));
    assert_eq!(
        l.next_change(t0() + Duration::seconds(10)),
        Some(t0() + Duration::seconds(1800))
    );
    assert_eq!(l.limit_at(t0() + Duration::seconds(1800)), Some(dec!(8)));
    assert_eq!(
        l.next_change(t0() + Duration::seconds(1800)),
        Some(t0() + Duration::seconds(3600))
    );
    assert_eq!(l.limit_at(t0() + Duration::seconds(3600)), None);
    assert_eq!(l.next_change(t0() + Duration::seconds(3600)), None);
    let p = l.as_profile(42, 1);
    assert_eq!(p.transaction_id.as_deref(), Some("7"));
    assert!(p.validate(1, false).is_ok(), "{p:?}");
    // Malformed schedules are refused.
    for periods in [
        vec![],
        vec![period(10, dec!(16))],
        vec![period(0, dec!(16)), period(0, dec!(8))],
        vec![period(0, dec!(-1))],
    ] {
        assert!(
            SessionLimit {
                periods,
                ..l.clone()
            }
            .validate()
            .is_err()
        );
    }
}
