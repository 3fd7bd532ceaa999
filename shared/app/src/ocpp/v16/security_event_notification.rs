//! SecurityEventNotification (security extension): kept in the charger log; those that call for a
//! look also on its timeline, for the alert rules.

use cpms_ocpp::CallError;
use cpms_ocpp::v16::types::{SecurityEventNotificationRequest, SecurityEventNotificationResponse};
use serde_json::Value;

use crate::ocpp::{CallCtx, answer};

pub(super) async fn handle(ctx: &CallCtx<'_>) -> Result<Value, CallError> {
    let req: SecurityEventNotificationRequest = ctx.request()?;
    ctx.security_event(&req.r#type, req.tech_info.as_deref(), req.timestamp)
        .await?;
    answer(&SecurityEventNotificationResponse {})
}
