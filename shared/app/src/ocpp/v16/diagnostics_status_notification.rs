//! DiagnosticsStatusNotification: progress of a diagnostics upload.

use cpms_ocpp::CallError;
use cpms_ocpp::v16::types::{
    DiagnosticsStatusNotificationRequest, DiagnosticsStatusNotificationResponse,
};
use serde_json::Value;

use crate::ocpp::{CallCtx, answer};

pub(super) async fn handle(ctx: &CallCtx<'_>) -> Result<Value, CallError> {
    let req: DiagnosticsStatusNotificationRequest = ctx.request()?;
    ctx.csms
        .operation_status(ctx.conn, false, req.status.as_str(), None)
        .await?;
    answer(&DiagnosticsStatusNotificationResponse {})
}
