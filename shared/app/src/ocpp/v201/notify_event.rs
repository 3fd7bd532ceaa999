//! NotifyEvent: device model events (faults, thresholds crossed), kept in the charger log.

use cpms_domain::incidents::timeline::{Signal, TimelineEntry};
use cpms_domain::log::LogKind;
use cpms_ocpp::CallError;
use cpms_ocpp::v201::types::NotifyEventRequest;
use serde_json::{Value, json};

use crate::ocpp::{CallCtx, summary};

/// The most events of one NotifyEvent put on the timeline (a charger splits longer reports).
const MAX_EVENTS: usize = 200;

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
    // Bounded: the schema allows any number of events in one message.
    let now = ctx.csms.now();
    let entries = req
        .event_data
        .iter()
        .take(MAX_EVENTS)
        .map(|e| {
            let (evse, connector) = e.component.evse.as_ref().map_or((0, 0), |v| {
                (
                    u32::try_from(v.id).unwrap_or(0),
                    v.connector_id
                        .and_then(|c| u32::try_from(c).ok())
                        .unwrap_or(0),
                )
            });
            let signal = Signal::Event {
                event_id: e.event_id,
                component: e.component.name.clone(),
                variable: e.variable.name.clone(),
                actual_value: e.actual_value.clone(),
                trigger: e.trigger.as_str().to_string(),
                cleared: e.cleared.unwrap_or(false),
                tech_code: e.tech_code.clone(),
                tech_info: e.tech_info.clone(),
            };
            TimelineEntry::new(evse, connector, signal, Some(e.timestamp), now)
        })
        .collect();
    ctx.csms
        .record_timeline(&ctx.conn.tenant, &ctx.conn.charger_id, entries)
        .await
        .map_err(crate::service::internal)?;
    ctx.record(LogKind::DeviceEvent, summary(ctx.action, &detail))
        .await?;
    Ok(json!({}))
}
