//! The electrical model of a site: a tree from the grid connection through boards or feeders to chargers
//! and their EVSEs. Every node may limit the current per phase and/or the power through it, carries a
//! phase count and a phase-to-neutral voltage, may be wired with a phase rotation, and may feed other
//! loads (a static reservation; a live reading posted through the API takes its place while fresh).

use std::collections::HashMap;

use rust_decimal::Decimal;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::units::{Phase, Rotation};
use crate::{ChargerId, DomainError};

/// What a node is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum NodeKind {
    /// The grid connection (the root; exactly one).
    Grid,
    /// A board, feeder or sub-distribution.
    Board,
    /// A charger (names `charger_id`).
    Charger,
    /// An EVSE of the charger above it (names `evse_id`, the 1.6 connectorId).
    Evse,
}

/// A node of the tree.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GridNode {
    /// Id, unique in the site (1 to 64 characters).
    pub id: String,
    /// The node it hangs from; absent only for the grid connection.
    #[serde(default)]
    pub parent: Option<String>,
    /// What it is.
    pub kind: NodeKind,
    /// Phases it has: 1 or 3 (default 3).
    #[serde(default = "three")]
    pub phases: u8,
    /// Phase-to-neutral voltage (default 230).
    #[serde(default = "volts", with = "cpms_ocpp::number")]
    #[schemars(with = "f64")]
    pub voltage_v: Decimal,
    /// How its phases are wired to its parent's (default `L1L2L3`; a single-phase node: the phase it loads).
    #[serde(default)]
    pub phase_rotation: Rotation,
    /// The most current per phase through it, in A (a fuse, a breaker, an EVSE's rating).
    #[serde(default, with = "cpms_ocpp::number::option")]
    #[schemars(with = "Option<f64>")]
    pub limit_a: Option<Decimal>,
    /// The most power through it, in kW (a contract, a transformer).
    #[serde(default, with = "cpms_ocpp::number::option")]
    #[schemars(with = "Option<f64>")]
    pub limit_kw: Option<Decimal>,
    /// Other loads on it, in A per phase, reserved when no fresh reading is posted.
    #[serde(default, with = "cpms_ocpp::number::option")]
    #[schemars(with = "Option<f64>")]
    pub reserved_a: Option<Decimal>,
    /// Other loads on it, in kW, reserved when no fresh reading is posted.
    #[serde(default, with = "cpms_ocpp::number::option")]
    #[schemars(with = "Option<f64>")]
    pub reserved_kw: Option<Decimal>,
    /// A charger node: the charger.
    #[serde(default)]
    pub charger_id: Option<ChargerId>,
    /// An EVSE node: its id (the 1.6 connectorId).
    #[serde(default)]
    pub evse_id: Option<u32>,
    /// A DC EVSE: the efficiency from grid power to DC output (0 to 1).
    #[serde(default, with = "cpms_ocpp::number::option")]
    #[schemars(with = "Option<f64>")]
    pub dc_efficiency: Option<Decimal>,
}

fn three() -> u8 {
    3
}

impl GridNode {
    /// A three-phase 230 V node without limits or reservations.
    pub fn new(id: impl Into<String>, parent: Option<&str>, kind: NodeKind) -> Self {
        GridNode {
            id: id.into(),
            parent: parent.map(str::to_string),
            kind,
            phases: 3,
            voltage_v: volts(),
            phase_rotation: Rotation::IDENTITY,
            limit_a: None,
            limit_kw: None,
            reserved_a: None,
            reserved_kw: None,
            charger_id: None,
            evse_id: None,
            dc_efficiency: None,
        }
    }
}

fn volts() -> Decimal {
    Decimal::from(230)
}

/// A site's tree as given by the operator.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ElectricalTree {
    /// The nodes, in any order.
    pub nodes: Vec<GridNode>,
}

/// Most nodes in one site's tree.
pub const MAX_NODES: usize = 5000;
/// Deepest tree (grid to EVSE).
pub const MAX_DEPTH: usize = 8;

fn invalid(field: &'static str, reason: impl Into<String>) -> DomainError {
    DomainError::Invalid {
        field,
        reason: reason.into(),
    }
}

fn positive(v: Option<Decimal>) -> bool {
    v.is_none_or(|v| v > Decimal::ZERO && v < Decimal::from(1_000_000))
}

fn non_negative(v: Option<Decimal>) -> bool {
    v.is_none_or(|v| v >= Decimal::ZERO && v < Decimal::from(1_000_000))
}

/// A node resolved for allocation: its place, its parent's index and its phases seen from the grid.
#[derive(Debug, Clone)]
pub struct Resolved {
    /// The node.
    pub node: GridNode,
    /// Index of the parent in [`ResolvedTree::nodes`].
    pub parent: Option<usize>,
    /// Its phases L1..L3 as grid phases.
    pub grid_rotation: Rotation,
    /// The grid phases it has (its first `phases` phases, rotated).
    pub grid_phases: Vec<Phase>,
    /// Depth (the grid is 0).
    pub depth: usize,
}

/// A checked tree: parents before children.
#[derive(Debug, Clone)]
pub struct ResolvedTree {
    /// Nodes, parents first.
    pub nodes: Vec<Resolved>,
    /// Things that are allowed but probably wrong (a child with a higher limit than its parent).
    pub warnings: Vec<String>,
    index: HashMap<String, usize>,
    /// (charger node, evse id) to the EVSE node.
    evses: HashMap<(usize, u32), usize>,
    chargers: HashMap<ChargerId, usize>,
}

impl ResolvedTree {
    /// The node with this id.
    pub fn get(&self, id: &str) -> Option<&Resolved> {
        self.index.get(id).map(|&i| &self.nodes[i])
    }

    /// Index of the node with this id.
    pub fn index_of(&self, id: &str) -> Option<usize> {
        self.index.get(id).copied()
    }

    /// The EVSE node of a charger's EVSE (or, for a charger without EVSE nodes, the charger node).
    pub fn evse(&self, charger: &ChargerId, evse_id: u32) -> Option<usize> {
        let c = *self.chargers.get(charger)?;
        Some(self.evses.get(&(c, evse_id)).copied().unwrap_or(c))
    }

    /// The chargers in the tree.
    pub fn chargers(&self) -> impl Iterator<Item = &ChargerId> {
        self.chargers.keys()
    }

    /// Indexes from `i` up to the root.
    pub fn path(&self, i: usize) -> impl Iterator<Item = usize> + '_ {
        std::iter::successors(Some(i), move |&j| self.nodes[j].parent)
    }
}

impl ElectricalTree {
    /// Checks the tree and orders it for allocation. Errors: a missing or second root, an unknown
    /// parent, a cycle, bad numbers, a charger or EVSE without its id, a three-phase node under a
    /// single-phase one. Warnings: a child limited above its parent.
    pub fn resolve(&self) -> Result<ResolvedTree, DomainError> {
        if self.nodes.is_empty() {
            return Err(invalid(
                "nodes",
                "a tree needs at least its grid connection",
            ));
        }
        if self.nodes.len() > MAX_NODES {
            return Err(invalid(
                "nodes",
                format!("at most {MAX_NODES} nodes per site"),
            ));
        }
        let mut by_id: HashMap<&str, usize> = HashMap::new();
        for (i, n) in self.nodes.iter().enumerate() {
            self.check_node(n)?;
            if by_id.insert(n.id.as_str(), i).is_some() {
                return Err(invalid(
                    "nodes",
                    format!("node id {:?} is used twice", n.id),
                ));
            }
        }
        let roots: Vec<&GridNode> = self.nodes.iter().filter(|n| n.parent.is_none()).collect();
        match roots.as_slice() {
            [r] if r.kind == NodeKind::Grid => {}
            [r] => {
                return Err(invalid(
                    "nodes",
                    format!("the root {:?} must be of kind grid", r.id),
                ));
            }
            [] => {
                return Err(invalid(
                    "nodes",
                    "no root: one node (the grid) has no parent",
                ));
            }
            _ => return Err(invalid("nodes", "more than one node has no parent")),
        }
        let mut children: HashMap<&str, Vec<usize>> = HashMap::new();
        for (i, n) in self.nodes.iter().enumerate() {
            if let Some(p) = &n.parent {
                if !by_id.contains_key(p.as_str()) {
                    return Err(invalid(
                        "parent",
                        format!("node {:?}: parent {p:?} is not in the tree", n.id),
                    ));
                }
                if n.kind == NodeKind::Grid {
                    return Err(invalid(
                        "kind",
                        format!("node {:?}: only the root is the grid", n.id),
                    ));
                }
                children.entry(p.as_str()).or_default().push(i);
            }
        }
        // Breadth first from the root: parents before children; what is not reached is in a cycle.
        let root = self
            .nodes
            .iter()
            .position(|n| n.parent.is_none())
            .unwrap_or(0);
        let mut out: Vec<Resolved> = Vec::with_capacity(self.nodes.len());
        let mut index = HashMap::new();
        let mut queue = std::collections::VecDeque::from([(root, None::<usize>)]);
        let mut warnings = Vec::new();
        while let Some((i, parent)) = queue.pop_front() {
            let n = &self.nodes[i];
            let (grid_rotation, depth) = match parent {
                None => (n.phase_rotation, 0),
                Some(p) => (
                    n.phase_rotation.then(out[p].grid_rotation),
                    out[p].depth + 1,
                ),
            };
            if depth > MAX_DEPTH {
                return Err(invalid("nodes", format!("deeper than {MAX_DEPTH} levels")));
            }
            let grid_phases: Vec<Phase> = (0..usize::from(n.phases))
                .map(|k| grid_rotation.0[k])
                .collect();
            if let Some(p) = parent {
                self.check_child(n, &out, p, &grid_phases, &mut warnings)?;
            }
            let me = out.len();
            index.insert(n.id.clone(), me);
            out.push(Resolved {
                node: n.clone(),
                parent,
                grid_rotation,
                grid_phases,
                depth,
            });
            for &c in children.get(n.id.as_str()).into_iter().flatten() {
                queue.push_back((c, Some(me)));
            }
        }
        if out.len() != self.nodes.len() {
            return Err(invalid(
                "parent",
                "some nodes are not under the grid connection (a cycle of parents)",
            ));
        }
        let mut evses = HashMap::new();
        let mut chargers = HashMap::new();
        for (i, r) in out.iter().enumerate() {
            match r.node.kind {
                NodeKind::Charger => {
                    let id = r.node.charger_id.clone().ok_or_else(|| {
                        invalid(
                            "charger_id",
                            format!("charger node {:?} names no charger", r.node.id),
                        )
                    })?;
                    if chargers.insert(id.clone(), i).is_some() {
                        return Err(invalid(
                            "charger_id",
                            format!("charger {id} appears twice in the tree"),
                        ));
                    }
                }
                NodeKind::Evse => {
                    let parent = r
                        .parent
                        .filter(|&p| out[p].node.kind == NodeKind::Charger)
                        .ok_or_else(|| {
                            invalid(
                                "parent",
                                format!("EVSE node {:?} must hang from a charger node", r.node.id),
                            )
                        })?;
                    let evse = r.node.evse_id.ok_or_else(|| {
                        invalid(
                            "evse_id",
                            format!("EVSE node {:?} names no evse_id", r.node.id),
                        )
                    })?;
                    if evses.insert((parent, evse), i).is_some() {
                        return Err(invalid(
                            "evse_id",
                            format!(
                                "EVSE {evse} of charger node {:?} appears twice",
                                out[parent].node.id
                            ),
                        ));
                    }
                }
                _ => {}
            }
        }
        for r in &out {
            if let Some(p) = r.parent
                && matches!(out[p].node.kind, NodeKind::Charger | NodeKind::Evse)
                && (r.node.kind != NodeKind::Evse || out[p].node.kind == NodeKind::Evse)
            {
                return Err(invalid(
                    "parent",
                    format!("node {:?}: only EVSEs hang from a charger", r.node.id),
                ));
            }
        }
        Ok(ResolvedTree {
            nodes: out,
            warnings,
            index,
            evses,
            chargers,
        })
    }

    fn check_node(&self, n: &GridNode) -> Result<(), DomainError> {
        let id_ok = (1..=64).contains(&n.id.len()) && !n.id.chars().any(char::is_control);
        if !id_ok {
            return Err(invalid(
                "id",
                format!("{:?}: 1 to 64 printable characters", n.id),
            ));
        }
        if n.phases != 1 && n.phases != 3 {
            return Err(invalid(
                "phases",
                format!("node {:?}: phases are 1 or 3, not {}", n.id, n.phases),
            ));
        }
        if n.voltage_v < Decimal::from(50) || n.voltage_v > Decimal::from(1000) {
            return Err(invalid(
                "voltage_v",
                format!(
                    "node {:?}: a phase-to-neutral voltage of 50 to 1000 V",
                    n.id
                ),
            ));
        }
        if !positive(n.limit_a) || !positive(n.limit_kw) {
            return Err(invalid(
                "limit",
                format!("node {:?}: limits are positive numbers", n.id),
            ));
        }
        if !non_negative(n.reserved_a) || !non_negative(n.reserved_kw) {
            return Err(invalid(
                "reserved",
                format!("node {:?}: reservations are zero or more", n.id),
            ));
        }
        if let Some(e) = n.dc_efficiency
            && (e <= Decimal::ZERO || e > Decimal::ONE)
        {
            return Err(invalid(
                "dc_efficiency",
                format!("node {:?}: an efficiency above 0 and at most 1", n.id),
            ));
        }
        if n.dc_efficiency.is_some() && n.kind != NodeKind::Evse {
            return Err(invalid(
                "dc_efficiency",
                format!("node {:?}: only EVSE nodes are DC", n.id),
            ));
        }
        Ok(())
    }

    fn check_child(
        &self,
        n: &GridNode,
        out: &[Resolved],
        parent_index: usize,
        grid_phases: &[Phase],
        warnings: &mut Vec<String>,
    ) -> Result<(), DomainError> {
        let parent = &out[parent_index];
        if let Some(p) = grid_phases.iter().find(|p| !parent.grid_phases.contains(p)) {
            return Err(invalid(
                "phases",
                format!(
                    "node {:?} uses grid phase {p}, which its parent {:?} does not have",
                    n.id, parent.node.id
                ),
            ));
        }
        // The nearest node above with a limit of the same kind.
        let above = |f: fn(&GridNode) -> Option<Decimal>| {
            std::iter::successors(Some(parent_index), |&j| out[j].parent)
                .find_map(|j| f(&out[j].node).map(|v| (v, &out[j].node.id)))
        };
        if let (Some(c), Some((p, id))) = (n.limit_a, above(|x| x.limit_a))
            && c > p
        {
            warnings.push(format!(
                "node {:?} allows {c} A, more than {id:?} above it ({p} A): that limit applies",
                n.id
            ));
        }
        if let (Some(c), Some((p, id))) = (n.limit_kw, above(|x| x.limit_kw))
            && c > p
        {
            warnings.push(format!(
                "node {:?} allows {c} kW, more than {id:?} above it ({p} kW): that limit applies",
                n.id
            ));
        }
        Ok(())
    }
}
