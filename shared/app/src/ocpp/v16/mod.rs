//! OCPP 1.6J: the routing table from action to handler, and the mapping of authorization decisions.

mod authorize;
mod boot_notification;
mod data_transfer;
mod diagnostics_status_notification;
mod firmware_status_notification;
mod heartbeat;
mod log_status_notification;
mod meter_values;
mod security_event_notification;
mod sign_certificate;
mod signed_firmware_status_notification;
mod start_transaction;
mod status_notification;
mod stop_transaction;

use cpms_domain::token::{AuthDecision, AuthStatus};
use cpms_ocpp::v16::types::{AuthorizationStatus, IdTagInfo};
use cpms_ocpp::{CallError, ErrorCode};
use serde_json::Value;

use super::CallCtx;

/// Routes a validated charger CALL to its handler.
pub(crate) async fn dispatch(ctx: &CallCtx<'_>) -> Result<Value, CallError> {
    match ctx.action {
        "Authorize" => authorize::handle(ctx).await,
        "BootNotification" => boot_notification::handle(ctx).await,
        "DataTransfer" => data_transfer::handle(ctx).await,
        "DiagnosticsStatusNotification" => diagnostics_status_notification::handle(ctx).await,
        "FirmwareStatusNotification" => firmware_status_notification::handle(ctx).await,
        "Heartbeat" => heartbeat::handle(ctx).await,
        "LogStatusNotification" => log_status_notification::handle(ctx).await,
        "MeterValues" => meter_values::handle(ctx).await,
        "SecurityEventNotification" => security_event_notification::handle(ctx).await,
        "SignCertificate" => sign_certificate::handle(ctx).await,
        "SignedFirmwareStatusNotification" => {
            signed_firmware_status_notification::handle(ctx).await
        }
        "StartTransaction" => start_transaction::handle(ctx).await,
        "StatusNotification" => status_notification::handle(ctx).await,
        "StopTransaction" => stop_transaction::handle(ctx).await,
        other => Err(CallError::new(
            ErrorCode::NotSupported,
            format!("{other} is not supported by this CSMS"),
        )),
    }
}

/// An authorization decision as a 1.6 IdTagInfo (1.6 has no "unknown": it says Invalid).
pub(crate) fn id_tag_info(d: &AuthDecision) -> IdTagInfo {
    let status = match d.status {
        AuthStatus::Accepted => AuthorizationStatus::Accepted,
        AuthStatus::Blocked => AuthorizationStatus::Blocked,
        AuthStatus::Expired => AuthorizationStatus::Expired,
        AuthStatus::Invalid | AuthStatus::Unknown => AuthorizationStatus::Invalid,
    };
    IdTagInfo {
        status,
        expiry_date: d.expires_at,
        parent_id_tag: d.group_id.as_ref().map(|g| g.chars().take(20).collect()),
    }
}
