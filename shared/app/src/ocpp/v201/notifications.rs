//! Notifications this CSMS records but does not act on yet (charging limits, display messages, customer
//! information, monitoring reports, reservations, EV charging needs and schedules): each is kept in the
//! charger log and acknowledged. EV charging needs are answered Rejected: no smart charging profile will
//! follow until smart charging exists.

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
        "NotifyEVChargingNeeds" => json!({"status": "Rejected"}),
        "NotifyEVChargingSchedule" => json!({"status": "Accepted"}),
        _ => json!({}),
    })
}
