//! StatusNotification: the live state of a connector.

use cpms_domain::normalize::v201;
use cpms_ocpp::CallError;
use cpms_ocpp::v201::types::StatusNotificationRequest;
use serde_json::{Value, json};

use crate::ocpp::{CallCtx, refused};

pub(super) async fn handle(ctx: &CallCtx<'_>) -> Result<Value, CallError> {
    let req: StatusNotificationRequest = ctx.request()?;
    let input = v201::status(&req).map_err(refused)?;
    ctx.csms.status(ctx.conn, input).await?;
    Ok(json!({}))
}
