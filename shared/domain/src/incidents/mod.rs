//! What goes wrong with chargers and how it is followed up. The base is each charger's status
//! timeline ([`timeline`]): every state change, connection and device event in the charger's own order,
//! the one source for incident rules and, later, for uptime.

pub mod timeline;

#[cfg(test)]
mod tests;
