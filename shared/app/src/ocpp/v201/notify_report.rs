//! NotifyReport: one part of a device model report (requested with GetBaseReport / GetReport), kept in the
//! charger log.

use cpms_domain::log::LogKind;
use cpms_ocpp::CallError;
use cpms_ocpp::v201::types::NotifyReportRequest;
use serde_json::{Value, json};

use crate::ocpp::{CallCtx, summary};

pub(super) async fn handle(ctx: &CallCtx<'_>) -> Result<Value, CallError> {
    let req: NotifyReportRequest = ctx.request()?;
    let n = req.report_data.as_ref().map_or(0, Vec::len);
    let detail = format!(
        "request {} part {}{}, {n} variables",
        req.request_id,
        req.seq_no,
        if req.tbc.unwrap_or(false) {
            " (more to come)"
        } else {
            ""
        }
    );
    ctx.record(LogKind::Report, summary(ctx.action, &detail))
        .await?;
    Ok(json!({}))
}
