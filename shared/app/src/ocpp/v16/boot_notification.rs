//! BootNotification: record what the charger is and tell it whether it may operate.

use cpms_domain::charger::Registration;
use cpms_domain::normalize::v16;
use cpms_ocpp::CallError;
use cpms_ocpp::v16::types::{
    BootNotificationRequest, BootNotificationResponse, RegistrationStatus,
};
use serde_json::Value;

use crate::ocpp::{CallCtx, answer};

pub(super) async fn handle(ctx: &CallCtx<'_>) -> Result<Value, CallError> {
    let req: BootNotificationRequest = ctx.request()?;
    let now = ctx.csms.now();
    let d = ctx.csms.boot(ctx.conn, v16::boot(&req, now)).await?;
    let status = match d.status {
        Registration::Accepted => RegistrationStatus::Accepted,
        Registration::Pending | Registration::New => RegistrationStatus::Pending,
        Registration::Rejected => RegistrationStatus::Rejected,
    };
    answer(&BootNotificationResponse {
        status,
        current_time: now,
        interval: d.interval.as_secs() as i64,
    })
}
