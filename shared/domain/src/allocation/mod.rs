//! Smart charging's pure rules: the electrical model of a site ([`tree`]), what each node allows at an
//! instant ([`limits`]), the conversion between current and power ([`units`]) and the allocator that
//! shares a site's capacity among the connectors that charge ([`allocate`]).

pub mod allocate;
pub mod limits;
pub mod load;
pub mod state;
pub mod tree;
pub mod units;

#[cfg(test)]
mod tests;

pub use allocate::{
    Allocation, Binding, BindingKind, ConnectorLimit, ConnectorState, Demand, NodeLoad, Settings,
    allocate,
};
pub use limits::{
    Conditions, Effective, ExternalLimit, LoadReading, NodeLimits, PriceCap, PricePoint,
    PriorityRule, ScheduledLimit, SitePolicy, effective,
};
pub use load::{EnergyCost, LoadBucket, LoadStep, SiteLoadDay};
pub use state::{
    ChargerLimit, ChargerProfiles, EvNeeds, InstalledProfile, OverLimit, ProfileCapabilities,
    ProfileState, SessionLimit, SiteAllocation, SiteConditions, SiteGrid,
};
pub use tree::{ElectricalTree, GridNode, NodeKind, ResolvedTree};
pub use units::{Phase, Rotation};
