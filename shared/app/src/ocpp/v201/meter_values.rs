//! MeterValues (outside transactions in 2.0.1): the latest energy register of an EVSE is kept on the
//! charger (EVSE 0 is the station's main meter).

use cpms_domain::charger::RegisterReading;
use cpms_domain::meter::ENERGY_IMPORT_REGISTER;
use cpms_domain::normalize::v201;
use cpms_ocpp::v201::types::MeterValuesRequest;
use cpms_ocpp::{CallError, ErrorCode};
use serde_json::{Value, json};

use crate::ocpp::CallCtx;

pub(super) async fn handle(ctx: &CallCtx<'_>) -> Result<Value, CallError> {
    let req: MeterValuesRequest = ctx.request()?;
    let evse = u32::try_from(req.evse_id).map_err(|_| {
        CallError::new(
            ErrorCode::PropertyConstraintViolation,
            "evseId must not be negative",
        )
    })?;
    let samples = v201::samples(&req.meter_value);
    let latest = samples
        .iter()
        .filter(|s| s.is_total(ENERGY_IMPORT_REGISTER))
        .max_by_key(|s| s.timestamp);
    if let Some((v, at)) = latest.and_then(|s| s.value.map(|v| (v, s.timestamp))) {
        let reading = RegisterReading { energy_wh: v, at };
        ctx.csms.register_reading(ctx.conn, evse, reading).await?;
    }
    Ok(json!({}))
}
