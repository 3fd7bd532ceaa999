//! SignedFirmwareStatusNotification (security extension): progress of a signed firmware update.

use cpms_ocpp::CallError;
use cpms_ocpp::v16::types::{
    SignedFirmwareStatusNotificationRequest, SignedFirmwareStatusNotificationResponse,
};
use serde_json::Value;

use crate::ocpp::{CallCtx, answer};

pub(super) async fn handle(ctx: &CallCtx<'_>) -> Result<Value, CallError> {
    let req: SignedFirmwareStatusNotificationRequest = ctx.request()?;
    ctx.csms
        .operation_status(ctx.conn, true, req.status.as_str(), req.request_id)
        .await?;
    answer(&SignedFirmwareStatusNotificationResponse {})
}
