//! What goes wrong with chargers and how it is followed up. The base is each charger's status
//! timeline ([`timeline`]): every state change, connection and device event in the charger's own order,
//! the one source for incident rules and, later, for uptime. Domain events become findings
//! ([`detect`]) about the rules' conditions ([`rules`], [`condition`]: deduplication, minimum
//! durations, flap damping, reopening); conditions open and resolve [`incident`]s, which try
//! [`remedy`] ladders and are announced through [`notify`] channels in [`escalation`] tiers, except
//! within [`maintenance`] windows.

pub mod condition;
pub mod delivery;
pub mod detect;
pub mod escalation;
pub mod incident;
pub mod maintenance;
pub mod notify;
pub mod remedy;
pub mod rules;
pub mod signals;
pub mod timeline;
pub mod watch;

#[cfg(test)]
mod tests;

#[cfg(test)]
mod alert_tests;
