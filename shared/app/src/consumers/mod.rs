//! Consumers of domain events that run inside the CSMS (on AWS each becomes its own queue and function).
//! All are idempotent: events arrive at least once.

mod billing;
mod reconciler;

pub use billing::{bill, run_billing};
pub use reconciler::{reconcile, run_reconciler};
