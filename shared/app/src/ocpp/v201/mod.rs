//! OCPP 2.0.1: the routing table from action to handler, and the mapping of authorization decisions.

mod authorize;
mod boot_notification;
mod certificates;
mod charging_limits;
mod charging_profiles;
mod data_transfer;
mod heartbeat;
mod meter_values;
mod notifications;
mod notify_event;
mod notify_report;
mod security_event_notification;
mod status_notification;
mod status_reports;
mod transaction_event;

use cpms_domain::token::{AuthDecision, AuthStatus};
use cpms_ocpp::v201::types::{
    AuthorizationStatusEnumType, IdTokenEnumType, IdTokenInfoType, IdTokenType,
};
use cpms_ocpp::{CallError, ErrorCode};
use serde_json::Value;

use super::CallCtx;

/// Routes a validated charger CALL to its handler.
pub(crate) async fn dispatch(ctx: &CallCtx<'_>) -> Result<Value, CallError> {
    match ctx.action {
        "Authorize" => authorize::handle(ctx).await,
        "BootNotification" => boot_notification::handle(ctx).await,
        "DataTransfer" => data_transfer::handle(ctx).await,
        "FirmwareStatusNotification" => status_reports::firmware(ctx).await,
        "LogStatusNotification" => status_reports::log_upload(ctx).await,
        "Heartbeat" => heartbeat::handle(ctx).await,
        "MeterValues" => meter_values::handle(ctx).await,
        "NotifyEvent" => notify_event::handle(ctx).await,
        "NotifyReport" => notify_report::handle(ctx).await,
        "SecurityEventNotification" => security_event_notification::handle(ctx).await,
        "StatusNotification" => status_notification::handle(ctx).await,
        "TransactionEvent" => transaction_event::handle(ctx).await,
        "SignCertificate" | "Get15118EVCertificate" | "GetCertificateStatus" => {
            certificates::handle(ctx).await
        }
        "ReportChargingProfiles" => charging_profiles::report(ctx).await,
        "NotifyEVChargingNeeds" | "NotifyChargingLimit" | "ClearedChargingLimit" => {
            charging_limits::handle(ctx).await
        }
        "NotifyCustomerInformation"
        | "NotifyDisplayMessages"
        | "NotifyEVChargingSchedule"
        | "NotifyMonitoringReport"
        | "PublishFirmwareStatusNotification"
        | "ReservationStatusUpdate" => notifications::handle(ctx).await,
        other => Err(CallError::new(
            ErrorCode::NotSupported,
            format!("{other} is not supported by this CSMS"),
        )),
    }
}

/// An authorization decision as a 2.0.1 IdTokenInfo.
pub(crate) fn id_token_info(d: &AuthDecision) -> IdTokenInfoType {
    let status = match d.status {
        AuthStatus::Accepted => AuthorizationStatusEnumType::Accepted,
        AuthStatus::Blocked => AuthorizationStatusEnumType::Blocked,
        AuthStatus::Expired => AuthorizationStatusEnumType::Expired,
        AuthStatus::Invalid => AuthorizationStatusEnumType::Invalid,
        AuthStatus::Unknown => AuthorizationStatusEnumType::Unknown,
    };
    IdTokenInfoType {
        status,
        cache_expiry_date_time: d.expires_at,
        group_id_token: d.group_id.as_ref().map(|g| IdTokenType {
            id_token: g.chars().take(36).collect(),
            r#type: IdTokenEnumType::Central,
            custom_data: None,
            additional_info: None,
        }),
        custom_data: None,
        charging_priority: None,
        language1: None,
        language2: None,
        evse_id: None,
        personal_message: None,
    }
}
