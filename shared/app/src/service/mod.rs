//! Application services shared by both OCPP versions: read, let the domain decide, write once
//! (retrying on a concurrent change).

mod admission;
mod chargers;
mod sessions;
mod tokens;

pub(crate) use admission::Admission;

use cpms_ocpp::{CallError, ErrorCode};
use cpms_ports::StoreError;

/// How often a write is retried after a concurrent change.
pub(crate) const RETRIES: usize = 8;

/// A storage failure as the CallError a charger gets (it will retry the message).
pub(crate) fn internal(e: StoreError) -> CallError {
    tracing::error!(error = %e, "storage failure while handling a charger message");
    CallError::new(
        ErrorCode::InternalError,
        "the CSMS could not store the message; retry later",
    )
}
