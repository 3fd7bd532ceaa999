//! ReportChargingProfiles: the installed profiles a charger reports after GetChargingProfiles, added to
//! that command's result and kept in the charger log.

use cpms_domain::log::LogKind;
use cpms_ocpp::CallError;
use cpms_ocpp::v201::types::ReportChargingProfilesRequest;
use serde_json::{Value, json};

use crate::ocpp::{CallCtx, summary};
use crate::service::internal;
use crate::service::profile_reports::Collected;

pub(super) async fn report(ctx: &CallCtx<'_>) -> Result<Value, CallError> {
    let req: ReportChargingProfilesRequest = ctx.request()?;
    let collected = ctx
        .csms
        .collect_profile_report(
            &ctx.conn.tenant,
            &ctx.conn.charger_id,
            req.request_id,
            ctx.payload,
        )
        .await
        .map_err(internal)?;
    let note = match collected {
        Collected::Added => "",
        Collected::NoCommand => ", for no request of this CSMS",
        Collected::Full => ", beyond what the CSMS keeps per request",
    };
    let detail = format!(
        "request {}: {} profiles of EVSE {}{note}",
        req.request_id,
        req.charging_profile.len(),
        req.evse_id
    );
    ctx.record(LogKind::Report, summary(ctx.action, &detail))
        .await?;
    Ok(json!({}))
}
