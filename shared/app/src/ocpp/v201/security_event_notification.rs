//! SecurityEventNotification: kept in the charger log.

use cpms_domain::log::LogKind;
use cpms_ocpp::CallError;
use cpms_ocpp::v201::types::SecurityEventNotificationRequest;
use serde_json::{Value, json};

use crate::ocpp::CallCtx;

pub(super) async fn handle(ctx: &CallCtx<'_>) -> Result<Value, CallError> {
    let req: SecurityEventNotificationRequest = ctx.request()?;
    ctx.record(LogKind::SecurityEvent, req.r#type.clone())
        .await?;
    Ok(json!({}))
}
