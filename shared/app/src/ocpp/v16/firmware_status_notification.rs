//! FirmwareStatusNotification: progress of a firmware update.

use cpms_ocpp::CallError;
use cpms_ocpp::v16::types::{
    FirmwareStatusNotificationRequest, FirmwareStatusNotificationResponse,
};
use serde_json::Value;

use crate::ocpp::{CallCtx, answer};

pub(super) async fn handle(ctx: &CallCtx<'_>) -> Result<Value, CallError> {
    let req: FirmwareStatusNotificationRequest = ctx.request()?;
    ctx.csms
        .operation_status(ctx.conn, true, req.status.as_str(), None)
        .await?;
    answer(&FirmwareStatusNotificationResponse {})
}
