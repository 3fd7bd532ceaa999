//! MeterValues: samples of a transaction, or (without a transaction id) clock-aligned readings of a
//! connector, whose energy register is kept on the charger.

use cpms_domain::charger::RegisterReading;
use cpms_domain::meter::ENERGY_IMPORT_REGISTER;
use cpms_domain::normalize::v16;
use cpms_ocpp::CallError;
use cpms_ocpp::v16::types::{MeterValuesRequest, MeterValuesResponse};
use serde_json::Value;

use crate::ocpp::{CallCtx, answer, refused};

pub(super) async fn handle(ctx: &CallCtx<'_>) -> Result<Value, CallError> {
    let req: MeterValuesRequest = ctx.request()?;
    let ev = v16::meter_values(&req, ctx.fingerprint(), &ctx.quirks).map_err(refused)?;
    match req.transaction_id {
        Some(tx) => {
            ctx.csms
                .apply_session_event(ctx.conn, &tx.to_string(), &ev)
                .await?;
        }
        None => {
            let (evse, _) = v16::evse_of(req.connector_id).map_err(refused)?;
            let latest = ev
                .samples
                .iter()
                .filter(|s| s.is_total(ENERGY_IMPORT_REGISTER))
                .max_by_key(|s| s.timestamp);
            if let Some(s) = latest.and_then(|s| s.value.map(|v| (v, s.timestamp))) {
                let reading = RegisterReading {
                    energy_wh: s.0,
                    at: s.1,
                };
                ctx.csms.register_reading(ctx.conn, evse, reading).await?;
            }
        }
    }
    answer(&MeterValuesResponse {})
}
