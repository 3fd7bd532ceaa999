//! The allocator: from a site's tree, what each node allows now and the connectors that want power, a
//! current limit per connector such that no node is exceeded on any phase, in current or in power.
//!
//! 1. Chargers that cannot be controlled are reserved first, at their rating or at what they were seen to
//!    draw, whichever is more.
//! 2. Connectors are admitted at their minimum (6 A) in priority order (highest priority, then earliest
//!    arrival); one whose minimum does not fit is paused (0 A), never given an unusable current.
//! 3. Priority by priority, the admitted connectors are raised together from their minimum (max-min
//!    fair water-filling), each until a node it loads is full, or it reaches its own cap: the car's
//!    request, what it was measured to draw plus a margin (a car that draws up to its cap gets the cap
//!    lifted at the next computation), its EVSE's rating.
//!
//! The arithmetic is in integers (mA; power in mA x dV, 0.1 mW), rounded down, so a result never
//! exceeds a limit by rounding, and the same input always gives the same output. Every connector's
//! result names the constraint that bound it.

use std::cmp::Reverse;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::limits::Effective;
use super::tree::{NodeKind, ResolvedTree};
use super::units::Phase;
use crate::ChargerId;

/// A connector that wants power (a car plugged in or charging).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Demand {
    /// The charger.
    pub charger: ChargerId,
    /// The EVSE (1.6 connectorId).
    pub evse_id: u32,
    /// The session, when one runs.
    #[serde(default)]
    pub session_id: Option<String>,
    /// Whether the CSMS can limit it (the charger does smart charging and accepts profiles, and keeps
    /// to them).
    #[serde(default = "yes")]
    pub controllable: bool,
    /// Higher goes first (fleet vehicles, a paid priority, an early departure).
    #[serde(default)]
    pub priority: i32,
    /// When the car arrived (earlier goes first within a priority when not all fit).
    pub arrived_at: DateTime<Utc>,
    /// Phases the car draws on, when measured (a single-phase car on a three-phase EVSE: 1).
    #[serde(default)]
    pub phases_in_use: Option<u8>,
    /// The car's most current per phase, in A (ISO 15118 charging needs).
    #[serde(default, with = "cpms_ocpp::number::option")]
    #[schemars(with = "Option<f64>")]
    pub car_max_a: Option<Decimal>,
    /// The car's most power, in W (ISO 15118 charging needs; DC output for a DC EVSE).
    #[serde(default, with = "cpms_ocpp::number::option")]
    #[schemars(with = "Option<f64>")]
    pub car_max_w: Option<Decimal>,
    /// A limit set on the session from outside the site (a roaming partner), in A per phase.
    #[serde(default, with = "cpms_ocpp::number::option")]
    #[schemars(with = "Option<f64>")]
    pub session_max_a: Option<Decimal>,
    /// The same in W.
    #[serde(default, with = "cpms_ocpp::number::option")]
    #[schemars(with = "Option<f64>")]
    pub session_max_w: Option<Decimal>,
    /// The car's least current per phase, in A, when above the site's minimum.
    #[serde(default, with = "cpms_ocpp::number::option")]
    #[schemars(with = "Option<f64>")]
    pub car_min_a: Option<Decimal>,
    /// The highest current it draws now on any phase, in A (from its MeterValues).
    #[serde(default, with = "cpms_ocpp::number::option")]
    #[schemars(with = "Option<f64>")]
    pub measured_a: Option<Decimal>,
    /// The limit it was given last, in A.
    #[serde(default, with = "cpms_ocpp::number::option")]
    #[schemars(with = "Option<f64>")]
    pub previous_limit_a: Option<Decimal>,
    /// Not controllable and reserved at exactly this, in A (an offline charger keeps its last
    /// allocation).
    #[serde(default, with = "cpms_ocpp::number::option")]
    #[schemars(with = "Option<f64>")]
    pub fixed_a: Option<Decimal>,
}

fn yes() -> bool {
    true
}

impl Demand {
    /// A controllable connector of priority 0 that arrived at `arrived_at`, with nothing else known.
    pub fn new(charger: ChargerId, evse_id: u32, arrived_at: DateTime<Utc>) -> Self {
        Demand {
            charger,
            evse_id,
            session_id: None,
            controllable: true,
            priority: 0,
            arrived_at,
            phases_in_use: None,
            car_max_a: None,
            car_max_w: None,
            session_max_a: None,
            session_max_w: None,
            car_min_a: None,
            measured_a: None,
            previous_limit_a: None,
            fixed_a: None,
        }
    }
}

/// How the allocator treats what it is not told.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// The least current an AC car charges with, in A.
    pub min_current_a: Decimal,
    /// The least power a DC EVSE is given, in W.
    pub dc_min_w: Decimal,
    /// A car measured at least this far (A) under its limit is capped at its draw plus `margin_a`.
    /// Less than `margin_a`, so that a car capped by its draw stays capped while it draws the same
    /// (no swing back and forth), and is let up as soon as it draws closer to its cap than this.
    pub unused_a: Decimal,
    /// Added to a car's measured draw when it is capped by it, in A.
    pub margin_a: Decimal,
    /// An EVSE of no known rating is assumed to take this, in A.
    pub default_rating_a: Decimal,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            min_current_a: Decimal::from(6),
            dc_min_w: Decimal::from(1000),
            unused_a: Decimal::ONE,
            margin_a: Decimal::from(2),
            default_rating_a: Decimal::from(32),
        }
    }
}

/// What bound a connector's limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum BindingKind {
    /// A node's current limit on a phase.
    NodeCurrent,
    /// A node's power limit.
    NodePower,
    /// The car's request.
    CarRequest,
    /// What the car was measured to draw (plus the margin).
    MeasuredDraw,
    /// A limit set on the session from outside the site (a roaming partner's smart charging).
    SessionLimit,
    /// Paused: its minimum did not fit under `node` (higher priorities and earlier arrivals took it).
    MinimumUnavailable,
    /// Not controllable: reserved at its rating or measured draw.
    Uncontrollable,
    /// No rating known: the default rating applied.
    DefaultRating,
}

/// The constraint that bound a connector.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Binding {
    /// What kind.
    pub kind: BindingKind,
    /// The node, for node constraints.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    /// The phase, for current constraints.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phase: Option<Phase>,
    /// In words.
    pub detail: String,
}

/// A connector's result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ConnectorState {
    /// Gets `limit_a`.
    Charging,
    /// Gets nothing for now.
    Paused,
    /// Not controlled; `limit_a` is what is reserved for it.
    Reserved,
}

/// The limit of one connector.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ConnectorLimit {
    /// The charger.
    pub charger: ChargerId,
    /// The EVSE.
    pub evse_id: u32,
    /// The session.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    /// What it gets.
    pub state: ConnectorState,
    /// Current per phase, in A (0.1 A steps, rounded down).
    #[serde(with = "cpms_ocpp::number")]
    #[schemars(with = "f64")]
    pub limit_a: Decimal,
    /// The same as power, in W (DC: the output power).
    #[serde(with = "cpms_ocpp::number")]
    #[schemars(with = "f64")]
    pub limit_w: Decimal,
    /// Phases it is given current on.
    pub phases: u8,
    /// Those phases as the grid's.
    pub grid_phases: Vec<Phase>,
    /// Why not more.
    pub binding: Binding,
}

/// The load allocated on one node.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct NodeLoad {
    /// The node.
    pub node: String,
    /// Current per grid phase L1, L2, L3 (connectors and other loads), in A.
    #[schemars(with = "Vec<f64>")]
    #[serde(with = "cpms_ocpp::number::array3")]
    pub current_a: [Decimal; 3],
    /// Power, in kW.
    #[serde(with = "cpms_ocpp::number")]
    #[schemars(with = "f64")]
    pub power_kw: Decimal,
    /// Its current limit now.
    #[serde(with = "cpms_ocpp::number::option")]
    #[schemars(with = "Option<f64>")]
    pub limit_a: Option<Decimal>,
    /// Its power limit now.
    #[serde(with = "cpms_ocpp::number::option")]
    #[schemars(with = "Option<f64>")]
    pub limit_kw: Option<Decimal>,
}

/// A site's allocation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Allocation {
    /// One per demand, in the order given.
    pub connectors: Vec<ConnectorLimit>,
    /// One per node, parents first.
    pub nodes: Vec<NodeLoad>,
    /// What could not be honoured (a demand outside the tree, fixed loads above a limit).
    pub warnings: Vec<String>,
}

const MA: i64 = 1000;
/// No cap of its own (a node above it limits it).
const HUGE: i64 = i64::MAX / 8;

fn to_ma(a: Decimal) -> i64 {
    (a * Decimal::from(MA))
        .floor()
        .to_i64()
        .unwrap_or(i64::MAX / 4)
}

fn from_ma(ma: i64) -> Decimal {
    // Rounded down to 0.1 A.
    Decimal::new(ma.max(0) / 100, 1)
}

fn decivolts(v: Decimal) -> i64 {
    (v * Decimal::TEN).round().to_i64().unwrap_or(2300).max(1)
}

/// kW as the power unit (mA x dV = 1e-4 W).
fn kw_units(kw: Decimal) -> i64 {
    (kw * Decimal::from(10_000_000))
        .floor()
        .to_i64()
        .unwrap_or(i64::MAX / 4)
}

fn units_to_kw(u: i64) -> Decimal {
    // 1e-4 W units to kW with three decimals (whole W), rounded to nearest.
    Decimal::new((u + 5_000).div_euclid(10_000), 3)
}

#[derive(Debug)]
struct Constraint {
    node: usize,
    phase: Option<Phase>,
    capacity: i64,
    used: i64,
    growing: i64,
    members: Vec<(usize, i64)>,
}

#[derive(Debug, Clone)]
struct Item {
    /// Grid phases it loads.
    phases: Vec<Phase>,
    /// Power units per mA.
    coef: i64,
    min: i64,
    cap: i64,
    cap_binding: Why,
    value: i64,
    state: Option<ConnectorState>,
    binding: Option<Why>,
    /// Constraint indexes it is in.
    constraints: Vec<(usize, i64)>,
    dc_efficiency: Option<Decimal>,
    in_tree: bool,
    /// Its EVSE node.
    evse: usize,
}

/// Why a connector got what it got, rendered into a [`Binding`] once at the end.
#[derive(Debug, Clone, Copy)]
enum Why {
    DefaultRating,
    CarA(Decimal),
    CarW(Decimal),
    SessionA(Decimal),
    SessionW(Decimal),
    Measured(Decimal, Decimal),
    /// A constraint bound it (or, `true`, left no room for its minimum).
    Node(usize, bool),
    Uncontrollable,
    /// Held at a given value (an offline charger's last limit).
    Fixed,
    NotInTree,
}

fn binding(kind: BindingKind, detail: String) -> Binding {
    Binding {
        kind,
        node: None,
        phase: None,
        detail,
    }
}

fn render(tree: &ResolvedTree, cs: &[Constraint], why: Why, s: &Settings, paused: bool) -> Binding {
    let pause = |d: String| if paused { format!("paused: {d}") } else { d };
    match why {
        Why::DefaultRating => binding(
            BindingKind::DefaultRating,
            pause(format!("no rating known: {} A assumed", s.default_rating_a)),
        ),
        Why::CarA(a) => binding(
            BindingKind::CarRequest,
            pause(format!("the car asks for at most {a} A")),
        ),
        Why::CarW(w) => binding(
            BindingKind::CarRequest,
            pause(format!("the car asks for at most {w} W")),
        ),
        Why::SessionA(a) => binding(
            BindingKind::SessionLimit,
            pause(format!(
                "the session is limited to {a} A from outside the site"
            )),
        ),
        Why::SessionW(w) => binding(
            BindingKind::SessionLimit,
            pause(format!(
                "the session is limited to {w} W from outside the site"
            )),
        ),
        Why::Measured(m, prev) => binding(
            BindingKind::MeasuredDraw,
            pause(format!("the car draws {m} A of the {prev} A it was given")),
        ),
        Why::Uncontrollable => binding(
            BindingKind::Uncontrollable,
            "not controllable: reserved at its rating or its measured draw".into(),
        ),
        Why::Fixed => binding(
            BindingKind::Uncontrollable,
            "out of reach (offline): its last limit stays reserved".into(),
        ),
        Why::NotInTree => binding(
            BindingKind::MinimumUnavailable,
            "not in the site's electrical tree".into(),
        ),
        Why::Node(k, no_room) => {
            let c = &cs[k];
            let id = tree.nodes[c.node].node.id.clone();
            let (kind, detail) = match (no_room || paused, c.phase) {
                (true, Some(p)) => (
                    BindingKind::MinimumUnavailable,
                    format!("paused: node {id} has no current left on {p} for the minimum"),
                ),
                (true, None) => (
                    BindingKind::MinimumUnavailable,
                    format!("paused: node {id} has no power left for the minimum"),
                ),
                (false, Some(p)) => (
                    BindingKind::NodeCurrent,
                    format!("node {id} is at its current limit on {p}"),
                ),
                (false, None) => (
                    BindingKind::NodePower,
                    format!("node {id} is at its power limit"),
                ),
            };
            Binding {
                kind,
                node: Some(id),
                phase: c.phase,
                detail,
            }
        }
    }
}

/// Allocates the site. `limits` is [`super::limits::effective`] of the same tree.
pub fn allocate(
    tree: &ResolvedTree,
    limits: &Effective,
    demands: &[Demand],
    settings: &Settings,
) -> Allocation {
    let mut warnings = Vec::new();
    let mut items: Vec<Item> = demands
        .iter()
        .map(|d| item(tree, d, settings, &mut warnings))
        .collect();

    // Constraints: every node limit, per phase for current, over the connectors below it.
    let mut constraints: Vec<Constraint> = Vec::new();
    let mut by_node: Vec<Vec<usize>> = vec![Vec::new(); tree.nodes.len()];
    for (i, r) in tree.nodes.iter().enumerate() {
        let l = &limits.nodes[i];
        if let Some(a) = l.limit_a {
            for &p in &r.grid_phases {
                by_node[i].push(constraints.len());
                constraints.push(Constraint {
                    node: i,
                    phase: Some(p),
                    capacity: to_ma(a),
                    used: 0,
                    growing: 0,
                    members: Vec::new(),
                });
            }
        }
        if let Some(kw) = l.limit_kw {
            by_node[i].push(constraints.len());
            constraints.push(Constraint {
                node: i,
                phase: None,
                capacity: kw_units(kw),
                used: 0,
                growing: 0,
                members: Vec::new(),
            });
        }
    }
    // Other loads of a node weigh on it and on every node above it.
    for (i, r) in tree.nodes.iter().enumerate() {
        let l = &limits.nodes[i];
        if l.other_kw.is_zero() && l.other_a.iter().all(Decimal::is_zero) {
            continue;
        }
        let dv = decivolts(r.node.voltage_v);
        let mut per_phase = [0i64; 3];
        let mut power = 0i64;
        for &p in &r.grid_phases {
            let ma = to_ma(l.other_a[p.index()]);
            per_phase[p.index()] += ma;
            power += ma * dv;
        }
        if l.other_kw > Decimal::ZERO {
            let units = kw_units(l.other_kw);
            power += units;
            let n = r.grid_phases.len().max(1) as i64;
            for &p in &r.grid_phases {
                per_phase[p.index()] += units / (n * dv);
            }
        }
        if power == 0 {
            continue;
        }
        for j in tree.path(i) {
            for &k in &by_node[j] {
                let c = &mut constraints[k];
                c.used += match c.phase {
                    Some(p) => per_phase[p.index()],
                    None => power,
                };
            }
        }
    }
    // Membership.
    for (ci, it) in items.iter_mut().enumerate() {
        if !it.in_tree {
            continue;
        }
        for j in tree.path(it.evse) {
            for &k in &by_node[j] {
                let c = &mut constraints[k];
                let coef = match c.phase {
                    Some(p) if it.phases.contains(&p) => 1,
                    Some(_) => continue,
                    None => it.coef,
                };
                c.members.push((ci, coef));
                it.constraints.push((k, coef));
            }
        }
    }
    // A constraint on one connector alone (its EVSE's rating) is a cap of that connector.
    let mut single = vec![false; constraints.len()];
    for (k, c) in constraints.iter().enumerate() {
        if let [(ci, coef)] = c.members.as_slice() {
            let it = &mut items[*ci];
            let cap = (c.capacity - c.used).max(0) / coef;
            if cap < it.cap {
                it.cap = cap;
                it.cap_binding = Why::Node(k, false);
            }
            single[k] = true;
        }
    }
    for it in &mut items {
        it.constraints.retain(|(k, _)| !single[*k]);
    }

    // 1. Uncontrollable: fixed at their reservation.
    for (ci, d) in demands.iter().enumerate() {
        let it = &mut items[ci];
        if !it.in_tree || d.controllable {
            continue;
        }
        let seen = d.measured_a.map(to_ma).unwrap_or(0);
        if let Some(f) = d.fixed_a {
            it.cap = to_ma(f.max(Decimal::ZERO));
        } else if it.cap >= HUGE {
            // Rated only together with other EVSEs of its charger: the charger's rating.
            it.cap = it
                .constraints
                .iter()
                .filter(|&&(k, _)| {
                    matches!(
                        tree.nodes[constraints[k].node].node.kind,
                        NodeKind::Charger | NodeKind::Evse
                    )
                })
                .map(|&(k, coef)| constraints[k].capacity / coef)
                .min()
                .unwrap_or_else(|| to_ma(settings.default_rating_a));
        }
        it.value = if d.fixed_a.is_some() {
            it.cap
        } else {
            it.cap.max(seen)
        };
        it.state = Some(ConnectorState::Reserved);
        it.binding = Some(if d.fixed_a.is_some() {
            Why::Fixed
        } else {
            Why::Uncontrollable
        });
        for &(k, coef) in &it.constraints {
            constraints[k].used += coef * it.value;
        }
    }
    for c in &constraints {
        if c.used > c.capacity {
            warnings.push(format!(
                "node {} is overloaded by loads the CSMS does not control{}",
                tree.nodes[c.node].node.id,
                c.phase.map(|p| format!(" on {p}")).unwrap_or_default()
            ));
        }
    }

    // 2. Admission at the minimum, in priority order.
    let mut order: Vec<usize> = (0..demands.len())
        .filter(|&i| items[i].in_tree && demands[i].controllable)
        .collect();
    order.sort_by(|&i, &j| {
        let (a, b) = (&demands[i], &demands[j]);
        (
            Reverse(a.priority),
            a.arrived_at,
            a.charger.as_str(),
            a.evse_id,
        )
            .cmp(&(
                Reverse(b.priority),
                b.arrived_at,
                b.charger.as_str(),
                b.evse_id,
            ))
    });
    for &ci in &order {
        let it = &items[ci];
        if it.cap < it.min || it.cap == 0 {
            let it = &mut items[ci];
            it.state = Some(ConnectorState::Paused);
            it.binding = Some(it.cap_binding);
            continue;
        }
        let blocked = it
            .constraints
            .iter()
            .find(|&&(k, coef)| constraints[k].used + coef * it.min > constraints[k].capacity)
            .map(|&(k, _)| k);
        let it = &mut items[ci];
        match blocked {
            Some(k) => {
                it.state = Some(ConnectorState::Paused);
                it.binding = Some(Why::Node(k, true));
            }
            None => {
                it.value = it.min;
                for &(k, coef) in &it.constraints {
                    constraints[k].used += coef * it.min;
                }
            }
        }
    }

    // 3. Water-filling, priority by priority.
    let mut start = 0;
    while start < order.len() {
        let p = demands[order[start]].priority;
        let end = order[start..]
            .iter()
            .position(|&i| demands[i].priority != p)
            .map_or(order.len(), |n| start + n);
        let class: Vec<usize> = order[start..end]
            .iter()
            .copied()
            .filter(|&i| items[i].state.is_none())
            .collect();
        fill(&mut items, &mut constraints, &class);
        start = end;
    }

    for it in &mut items {
        it.value -= it.value.rem_euclid(100);
    }

    // Results.
    let connectors = demands
        .iter()
        .zip(&items)
        .map(|(d, it)| {
            let state = it.state.unwrap_or(ConnectorState::Charging);
            let value = if state == ConnectorState::Paused {
                0
            } else {
                it.value
            };
            let limit_a = from_ma(value);
            let n = it.phases.len() as u8;
            // 0.1 A steps times phases times dV is in 1e-4 W.
            let grid_w = Decimal::new((value - value.rem_euclid(100)) * it.coef, 4);
            let limit_w = match it.dc_efficiency {
                Some(e) => (grid_w * e).floor(),
                None => grid_w.floor(),
            };
            ConnectorLimit {
                charger: d.charger.clone(),
                evse_id: d.evse_id,
                session_id: d.session_id.clone(),
                state,
                limit_a,
                limit_w,
                phases: n,
                grid_phases: it.phases.clone(),
                binding: render(
                    tree,
                    &constraints,
                    it.binding.unwrap_or(it.cap_binding),
                    settings,
                    state == ConnectorState::Paused,
                ),
            }
        })
        .collect();
    let nodes = node_loads(tree, limits, &items);
    Allocation {
        connectors,
        nodes,
        warnings,
    }
}

fn item(tree: &ResolvedTree, d: &Demand, s: &Settings, warnings: &mut Vec<String>) -> Item {
    let Some(e) = tree.evse(&d.charger, d.evse_id) else {
        warnings.push(format!(
            "charger {} EVSE {} is not in the site's tree: not allocated",
            d.charger, d.evse_id
        ));
        return Item {
            phases: Vec::new(),
            coef: 0,
            min: 0,
            cap: 0,
            cap_binding: Why::NotInTree,
            value: 0,
            state: Some(ConnectorState::Paused),
            binding: Some(Why::NotInTree),
            constraints: Vec::new(),
            dc_efficiency: None,
            in_tree: false,
            evse: 0,
        };
    };
    let r = &tree.nodes[e];
    let used = d
        .phases_in_use
        .filter(|&n| (1..=r.node.phases).contains(&n))
        .map_or(r.grid_phases.len(), usize::from);
    let phases: Vec<Phase> = r.grid_phases.iter().take(used).copied().collect();
    let n = phases.len().max(1) as u8;
    let volts = r.node.voltage_v;
    let dv = decivolts(volts);
    let coef = i64::from(n) * dv;
    let eff = r.node.dc_efficiency;
    let mut cap = to_ma(s.default_rating_a);
    let mut cap_binding = Why::DefaultRating;
    // A node rating on the charger or EVSE lifts the default (it becomes a cap below).
    if tree
        .path(e)
        .take(2)
        .any(|j| tree.nodes[j].node.limit_a.is_some() || tree.nodes[j].node.limit_kw.is_some())
    {
        cap = HUGE;
    }
    let mut lower = |v: Decimal, b: Why| {
        let ma = to_ma(v.max(Decimal::ZERO));
        if ma < cap {
            cap = ma;
            cap_binding = b;
        }
    };
    let to_grid_a = |w: Decimal| match eff {
        Some(e) => super::units::dc_grid_amps(w, n, volts, e),
        None => super::units::ac_amps(w, n, volts),
    };
    if let Some(a) = d.car_max_a {
        lower(a, Why::CarA(a));
    }
    if let Some(w) = d.car_max_w {
        lower(to_grid_a(w), Why::CarW(w));
    }
    if let Some(a) = d.session_max_a {
        lower(a, Why::SessionA(a));
    }
    if let Some(w) = d.session_max_w {
        lower(to_grid_a(w), Why::SessionW(w));
    }
    let min_a = match eff {
        Some(_) => to_grid_a(s.dc_min_w),
        None => s.min_current_a.max(d.car_min_a.unwrap_or_default()),
    };
    if let (Some(m), Some(prev)) = (d.measured_a, d.previous_limit_a)
        && m + s.unused_a <= prev
    {
        let v = (m + s.margin_a).max(min_a);
        lower(v, Why::Measured(m, prev));
    }
    Item {
        phases,
        coef,
        min: to_ma(min_a),
        cap,
        cap_binding,
        value: 0,
        state: None,
        binding: None,
        constraints: Vec::new(),
        dc_efficiency: eff,
        in_tree: true,
        evse: e,
    }
}

/// What happens next as the level rises: a node fills up, a connector reaches its cap, a connector's
/// minimum is reached and it starts to rise with the others.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Event {
    Join(usize),
    Full(usize, u32),
    Cap(usize),
}

/// Raises `class` (admitted, not yet bound) together from their minimums (progressive filling). The
/// load on constraint k at level L is `base[k] + growing[k] * L` while the set of rising connectors on
/// it stays the same; the level at which it fills is kept in a heap and renewed when that set changes.
fn fill(items: &mut [Item], constraints: &mut [Constraint], class: &[usize]) {
    use std::collections::BinaryHeap;
    if class.is_empty() {
        return;
    }
    let mut in_class = vec![false; items.len()];
    let mut rising = vec![false; items.len()];
    let mut heap: BinaryHeap<Reverse<(i64, Event)>> = BinaryHeap::new();
    let mut base: Vec<i64> = constraints.iter().map(|c| c.used).collect();
    let mut stamp = vec![0u32; constraints.len()];
    let mut dirty = vec![false; constraints.len()];
    let mut touched: Vec<usize> = Vec::new();
    for &i in class {
        in_class[i] = true;
        heap.push(Reverse((items[i].min, Event::Join(i))));
    }
    let full_at = |k: usize, base: &[i64], cs: &[Constraint], level: i64| -> i64 {
        let g = cs[k].growing;
        ((cs[k].capacity - base[k]).div_euclid(g)).max(level)
    };
    let mut level = i64::MIN;
    let mut frozen: Vec<(usize, Why)> = Vec::new();
    while let Some(Reverse((at, event))) = heap.pop() {
        level = level.max(at);
        match event {
            Event::Join(i) if items[i].state.is_none() => {
                rising[i] = true;
                for &(k, coef) in &items[i].constraints {
                    base[k] -= coef * level;
                    constraints[k].growing += coef;
                    stamp[k] += 1;
                    if !dirty[k] {
                        dirty[k] = true;
                        touched.push(k);
                    }
                }
                heap.push(Reverse((items[i].cap.max(level), Event::Cap(i))));
            }
            Event::Cap(i) => {
                if items[i].state.is_none() && rising[i] {
                    frozen.push((i, items[i].cap_binding));
                }
            }
            Event::Full(k, st) if st == stamp[k] && constraints[k].growing > 0 => {
                for &(i, _) in &constraints[k].members {
                    if in_class[i] && items[i].state.is_none() {
                        frozen.push((i, Why::Node(k, false)));
                    }
                }
            }
            // Stale: an item already bound, a constraint changed since.
            Event::Join(_) | Event::Full(..) => {}
        }
        for (i, why) in frozen.drain(..) {
            if items[i].state.is_some() {
                continue;
            }
            items[i].state = Some(ConnectorState::Charging);
            items[i].binding = Some(why);
            if !rising[i] {
                // Still at its minimum.
                items[i].value = items[i].min;
                continue;
            }
            rising[i] = false;
            items[i].value = level;
            for &(k, coef) in &items[i].constraints {
                base[k] += coef * level;
                constraints[k].growing -= coef;
                stamp[k] += 1;
                if !dirty[k] {
                    dirty[k] = true;
                    touched.push(k);
                }
            }
        }
        // Once every event of this level is done, when each changed constraint fills.
        if heap.peek().is_none_or(|Reverse((next, _))| *next > level) {
            for k in touched.drain(..) {
                dirty[k] = false;
                if constraints[k].growing > 0 {
                    let l = full_at(k, &base, constraints, level);
                    heap.push(Reverse((l, Event::Full(k, stamp[k]))));
                }
            }
        }
    }
    for (k, c) in constraints.iter_mut().enumerate() {
        c.used = base[k] + c.growing * level.max(0);
    }
}

fn node_loads(tree: &ResolvedTree, limits: &Effective, items: &[Item]) -> Vec<NodeLoad> {
    let mut current = vec![[0i64; 3]; tree.nodes.len()];
    let mut power = vec![0i64; tree.nodes.len()];
    for (i, r) in tree.nodes.iter().enumerate() {
        let l = &limits.nodes[i];
        if l.other_kw.is_zero() && l.other_a.iter().all(Decimal::is_zero) {
            continue;
        }
        let dv = decivolts(r.node.voltage_v);
        let mut here = [0i64; 3];
        let mut w = kw_units(l.other_kw);
        let n = r.grid_phases.len().max(1) as i64;
        for &p in &r.grid_phases {
            here[p.index()] += to_ma(l.other_a[p.index()]) + w / (n * dv);
        }
        w += r
            .grid_phases
            .iter()
            .map(|p| to_ma(l.other_a[p.index()]) * dv)
            .sum::<i64>();
        for j in tree.path(i) {
            for p in 0..3 {
                current[j][p] += here[p];
            }
            power[j] += w;
        }
    }
    for it in items {
        if !it.in_tree || it.state == Some(ConnectorState::Paused) {
            continue;
        }
        for j in tree.path(it.evse) {
            for p in &it.phases {
                current[j][p.index()] += it.value;
            }
            power[j] += it.value * it.coef;
        }
    }
    tree.nodes
        .iter()
        .enumerate()
        .map(|(i, r)| NodeLoad {
            node: r.node.id.clone(),
            current_a: current[i].map(|ma| Decimal::new((ma + 50).div_euclid(100), 1)),
            power_kw: units_to_kw(power[i]),
            limit_a: limits.nodes[i].limit_a,
            limit_kw: limits.nodes[i].limit_kw,
        })
        .collect()
}
