//! BootNotification: record what the station is and tell it whether it may operate.

use cpms_domain::charger::Registration;
use cpms_domain::normalize::v201;
use cpms_ocpp::CallError;
use cpms_ocpp::v201::types::{
    BootNotificationRequest, BootNotificationResponse, RegistrationStatusEnumType, StatusInfoType,
};
use serde_json::Value;

use crate::ocpp::{CallCtx, answer};

pub(super) async fn handle(ctx: &CallCtx<'_>) -> Result<Value, CallError> {
    let req: BootNotificationRequest = ctx.request()?;
    let now = ctx.csms.now();
    let d = ctx.csms.boot(ctx.conn, v201::boot(&req, now)).await?;
    let (status, reason) = match d.status {
        Registration::Accepted => (RegistrationStatusEnumType::Accepted, None),
        Registration::Pending | Registration::New => {
            (RegistrationStatusEnumType::Pending, Some("Busy"))
        }
        Registration::Rejected => (RegistrationStatusEnumType::Rejected, Some("Disabled")),
    };
    answer(&BootNotificationResponse {
        status,
        current_time: now,
        interval: d.interval.as_secs() as i64,
        status_info: reason.map(|r| StatusInfoType {
            reason_code: r.to_string(),
            additional_info: None,
            custom_data: None,
        }),
        custom_data: None,
    })
}
