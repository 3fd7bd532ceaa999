//! LogStatusNotification (security extension): progress of a log upload.

use cpms_ocpp::CallError;
use cpms_ocpp::v16::types::{LogStatusNotificationRequest, LogStatusNotificationResponse};
use serde_json::Value;

use crate::ocpp::{CallCtx, answer};

pub(super) async fn handle(ctx: &CallCtx<'_>) -> Result<Value, CallError> {
    let req: LogStatusNotificationRequest = ctx.request()?;
    ctx.csms
        .operation_status(ctx.conn, false, req.status.as_str(), req.request_id)
        .await?;
    answer(&LogStatusNotificationResponse {})
}
