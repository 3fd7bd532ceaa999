//! Heartbeat: the station is alive; it gets the time. No write beyond a throttled last-seen.

use cpms_ocpp::CallError;
use cpms_ocpp::v201::types::HeartbeatResponse;
use serde_json::Value;

use crate::ocpp::{CallCtx, answer};

pub(super) async fn handle(ctx: &CallCtx<'_>) -> Result<Value, CallError> {
    ctx.csms.seen(ctx.conn).await?;
    answer(&HeartbeatResponse {
        current_time: ctx.csms.now(),
        custom_data: None,
    })
}
