//! Notifications this CSMS records but does not act on yet (display messages, customer information,
//! monitoring reports, reservations, the schedule a car chose): each is kept in the charger log and
//! acknowledged.

use cpms_domain::log::LogKind;
use cpms_ocpp::CallError;
use serde_json::{Value, json};

use crate::ocpp::{CallCtx, summary};

pub(super) async fn handle(ctx: &CallCtx<'_>) -> Result<Value, CallError> {
    let detail = ["status", "reservationUpdateStatus", "chargingLimitSource"]
        .iter()
        .find_map(|k| ctx.payload.get(k).and_then(Value::as_str))
        .unwrap_or("");
    ctx.record(LogKind::Notification, summary(ctx.action, detail))
        .await?;
    Ok(match ctx.action {
        "NotifyEVChargingSchedule" => json!({"status": "Accepted"}),
        _ => json!({}),
    })
}
