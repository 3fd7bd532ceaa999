//! SecurityEventNotification (security extension): kept in the charger log.

use cpms_domain::log::LogKind;
use cpms_ocpp::CallError;
use cpms_ocpp::v16::types::{SecurityEventNotificationRequest, SecurityEventNotificationResponse};
use serde_json::Value;

use crate::ocpp::{CallCtx, answer};

pub(super) async fn handle(ctx: &CallCtx<'_>) -> Result<Value, CallError> {
    let req: SecurityEventNotificationRequest = ctx.request()?;
    ctx.record(LogKind::SecurityEvent, req.r#type.clone())
        .await?;
    answer(&SecurityEventNotificationResponse {})
}
