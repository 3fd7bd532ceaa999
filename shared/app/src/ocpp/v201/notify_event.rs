//! NotifyEvent: device model events (faults, thresholds crossed), kept in the charger log.

use cpms_domain::log::LogKind;
use cpms_ocpp::CallError;
use cpms_ocpp::v201::types::NotifyEventRequest;
use serde_json::{Value, json};

use crate::ocpp::{CallCtx, summary};

pub(super) async fn handle(ctx: &CallCtx<'_>) -> Result<Value, CallError> {
    let req: NotifyEventRequest = ctx.request()?;
    let first = req.event_data.first().map(|e| {
        format!(
            "{}.{} = {} ({})",
            e.component.name,
            e.variable.name,
            e.actual_value,
            e.trigger.as_str()
        )
    });
    let more = req.event_data.len().saturating_sub(1);
    let detail = match (first, more) {
        (Some(f), 0) => f,
        (Some(f), n) => format!("{f} and {n} more"),
        (None, _) => String::new(),
    };
    ctx.record(LogKind::DeviceEvent, summary(ctx.action, &detail))
        .await?;
    Ok(json!({}))
}
