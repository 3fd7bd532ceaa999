//! Phases and the conversion between current and power. AC: W = A x phases x V (phase-to-neutral).
//! DC: the charger's rectifier draws its output power divided by its efficiency from the grid, spread
//! over its AC phases, so the grid current per phase is W / efficiency / phases / V.

use std::fmt;
use std::str::FromStr;

use rust_decimal::Decimal;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::DomainError;

/// A grid phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Phase {
    /// L1.
    L1,
    /// L2.
    L2,
    /// L3.
    L3,
}

impl Phase {
    /// All three, in order.
    pub const ALL: [Phase; 3] = [Phase::L1, Phase::L2, Phase::L3];

    /// 0, 1 or 2.
    pub fn index(self) -> usize {
        self as usize
    }

    /// `L1`, `L2`, `L3`.
    pub fn as_str(self) -> &'static str {
        ["L1", "L2", "L3"][self.index()]
    }

    fn parse(s: &str) -> Option<Phase> {
        match s {
            "L1" => Some(Phase::L1),
            "L2" => Some(Phase::L2),
            "L3" => Some(Phase::L3),
            _ => None,
        }
    }
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Phase {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Phase {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Phase::parse(&s).ok_or_else(|| serde::de::Error::custom(format!("{s:?}: L1, L2 or L3")))
    }
}

impl schemars::JsonSchema for Phase {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Phase".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({"type": "string", "enum": ["L1", "L2", "L3"]})
    }
}

/// How a node's own phases L1, L2, L3 are wired to its parent's (phase rotation): `L2L3L1` means the
/// node's L1 is the parent's L2, its L2 the parent's L3, its L3 the parent's L1. A single-phase node
/// gives one phase: the parent phase it loads (`L2`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Rotation(pub [Phase; 3]);

impl Rotation {
    /// L1 to L1, L2 to L2, L3 to L3.
    pub const IDENTITY: Rotation = Rotation([Phase::L1, Phase::L2, Phase::L3]);

    /// The parent's phase that this node's `p` is wired to.
    pub fn map(self, p: Phase) -> Phase {
        self.0[p.index()]
    }

    /// This rotation seen from the grid, given the parent's rotation seen from the grid.
    pub fn then(self, parent: Rotation) -> Rotation {
        Rotation(self.0.map(|p| parent.map(p)))
    }
}

impl Default for Rotation {
    fn default() -> Self {
        Rotation::IDENTITY
    }
}

impl FromStr for Rotation {
    type Err = DomainError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || DomainError::Invalid {
            field: "phase_rotation",
            reason: format!(
                "{s:?}: a permutation of the three phases (L1L2L3, L2L3L1, L3L1L2, L1L3L2, ...) or, for a \
                 single-phase node, the one phase it loads (L1, L2 or L3)"
            ),
        };
        let phases: Option<Vec<Phase>> = (0..s.len() / 2)
            .map(|i| s.get(2 * i..2 * i + 2).and_then(Phase::parse))
            .collect();
        let phases = phases
            .filter(|_| s.len().is_multiple_of(2))
            .ok_or_else(bad)?;
        match phases.as_slice() {
            [a] => {
                // The single phase loads `a`; the others follow in order (they carry nothing).
                let b = Phase::ALL[(a.index() + 1) % 3];
                let c = Phase::ALL[(a.index() + 2) % 3];
                Ok(Rotation([*a, b, c]))
            }
            [a, b, c] if a != b && b != c && a != c => Ok(Rotation([*a, *b, *c])),
            _ => Err(bad()),
        }
    }
}

impl fmt::Display for Rotation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for p in self.0 {
            f.write_str(p.as_str())?;
        }
        Ok(())
    }
}

impl Serialize for Rotation {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Rotation {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

impl schemars::JsonSchema for Rotation {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "PhaseRotation".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "pattern": "^(L[1-3]){1}$|^(L[1-3]){3}$",
            "description": "L1L2L3 (default), L2L3L1, ...; a single-phase node: the phase it loads"
        })
    }
}

/// AC power in W of `amps` per phase on `phases` phases at `volts` phase-to-neutral.
pub fn ac_watts(amps: Decimal, phases: u8, volts: Decimal) -> Decimal {
    amps * Decimal::from(phases) * volts
}

/// The current per phase in A that gives `watts` of AC power on `phases` phases at `volts`.
pub fn ac_amps(watts: Decimal, phases: u8, volts: Decimal) -> Decimal {
    let per = Decimal::from(phases.max(1)) * volts;
    if per.is_zero() {
        return Decimal::ZERO;
    }
    watts / per
}

/// The DC output power in W of a charger drawing `grid_amps` per phase on `phases` AC phases at
/// `volts`, converting with `efficiency` (0 to 1).
pub fn dc_watts(grid_amps: Decimal, phases: u8, volts: Decimal, efficiency: Decimal) -> Decimal {
    ac_watts(grid_amps, phases, volts) * efficiency
}

/// The grid current per phase in A that a DC output of `watts` takes at `efficiency`.
pub fn dc_grid_amps(watts: Decimal, phases: u8, volts: Decimal, efficiency: Decimal) -> Decimal {
    if efficiency.is_zero() {
        return Decimal::ZERO;
    }
    ac_amps(watts / efficiency, phases, volts)
}
