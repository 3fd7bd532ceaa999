//! Application services shared by both OCPP versions: read, let the domain decide, write once
//! (retrying on a concurrent change).

mod admission;
pub(crate) mod billing;
pub(crate) mod billing_runs;
mod chargers;
pub(crate) mod commands;
pub(crate) mod profile_reports;
pub(crate) mod sessions;
pub mod smart_charging;
pub(crate) mod timeline;
mod tokens;

pub(crate) use admission::Admission;

use cpms_ocpp::{CallError, ErrorCode};
use cpms_ports::StoreError;

/// How often a write is retried after a concurrent change.
pub(crate) const RETRIES: usize = 16;

/// Waits before retry `attempt` (0-based) of a write that lost a race: a random delay growing from about
/// 1 ms to at most 64 ms, so concurrent writers of one record spread out instead of colliding again.
pub(crate) async fn backoff(attempt: usize) {
    if attempt == 0 {
        return;
    }
    let cap = 1u64 << attempt.min(6);
    tokio::time::sleep(std::time::Duration::from_micros(rand::random_range(
        0..=cap * 1000,
    )))
    .await;
}

/// A storage failure as the CallError a charger gets (it will retry the message).
pub(crate) fn internal(e: StoreError) -> CallError {
    tracing::error!(error = %e, "storage failure while handling a charger message");
    CallError::new(
        ErrorCode::InternalError,
        "the CSMS could not store the message; retry later",
    )
}
