//! FirmwareStatusNotification and LogStatusNotification: progress of a firmware update or log upload.

use cpms_ocpp::CallError;
use cpms_ocpp::v201::types::{FirmwareStatusNotificationRequest, LogStatusNotificationRequest};
use serde_json::{Value, json};

use crate::ocpp::CallCtx;

pub(super) async fn firmware(ctx: &CallCtx<'_>) -> Result<Value, CallError> {
    let req: FirmwareStatusNotificationRequest = ctx.request()?;
    ctx.csms
        .operation_status(ctx.conn, true, req.status.as_str(), req.request_id)
        .await?;
    Ok(json!({}))
}

pub(super) async fn log_upload(ctx: &CallCtx<'_>) -> Result<Value, CallError> {
    let req: LogStatusNotificationRequest = ctx.request()?;
    ctx.csms
        .operation_status(ctx.conn, false, req.status.as_str(), req.request_id)
        .await?;
    Ok(json!({}))
}
