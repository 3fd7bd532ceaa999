//! StatusNotification: the live state of a connector (connector 0: the whole charger).

use cpms_domain::normalize::v16;
use cpms_ocpp::CallError;
use cpms_ocpp::v16::types::{StatusNotificationRequest, StatusNotificationResponse};
use serde_json::Value;

use crate::ocpp::{CallCtx, answer, refused};

pub(super) async fn handle(ctx: &CallCtx<'_>) -> Result<Value, CallError> {
    let req: StatusNotificationRequest = ctx.request()?;
    let input = v16::status(&req).map_err(refused)?;
    ctx.csms.status(ctx.conn, input).await?;
    answer(&StatusNotificationResponse {})
}
