//! SecurityEventNotification: kept in the charger log; those that call for a look also on its
//! timeline, for the alert rules.

use cpms_ocpp::CallError;
use cpms_ocpp::v201::types::SecurityEventNotificationRequest;
use serde_json::{Value, json};

use crate::ocpp::CallCtx;

pub(super) async fn handle(ctx: &CallCtx<'_>) -> Result<Value, CallError> {
    let req: SecurityEventNotificationRequest = ctx.request()?;
    ctx.security_event(&req.r#type, req.tech_info.as_deref(), req.timestamp)
        .await?;
    Ok(json!({}))
}
