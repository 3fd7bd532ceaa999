//! What a 2.0.1 charger reports about the limits on its charging: a car's needs (NotifyEVChargingNeeds,
//! answered Accepted when smart charging manages the charger: a TxProfile follows), a limit set by a
//! local energy manager or the grid operator (NotifyChargingLimit, respected as a constraint) and its
//! end (ClearedChargingLimit). Each is kept in the charger log too.

use cpms_domain::allocation::{ChargerLimit, EvNeeds};
use cpms_domain::log::LogKind;
use cpms_ocpp::CallError;
use rust_decimal::Decimal;
use serde_json::{Value, json};

use crate::ocpp::{CallCtx, summary};
use crate::service::internal;
use crate::service::smart_charging::ChargerReport;

fn dec(v: &Value) -> Option<Decimal> {
    v.as_i64()
        .map(Decimal::from)
        .or_else(|| v.as_f64().and_then(|f| Decimal::try_from(f).ok()))
}

fn evse(v: &Value) -> Option<u32> {
    v.as_u64().and_then(|e| u32::try_from(e).ok())
}

pub(super) async fn handle(ctx: &CallCtx<'_>) -> Result<Value, CallError> {
    let p = ctx.payload;
    let now = ctx.csms.now();
    let report = match ctx.action {
        "NotifyEVChargingNeeds" => {
            let n = &p["chargingNeeds"];
            let ac = &n["acChargingParameters"];
            let dc = &n["dcChargingParameters"];
            ChargerReport::Needs(EvNeeds {
                evse_id: evse(&p["evseId"]).unwrap_or(0),
                departure: n["departureTime"]
                    .as_str()
                    .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
                    .map(|t| t.with_timezone(&chrono::Utc)),
                energy_wh: dec(&ac["energyAmount"]).or_else(|| dec(&dc["energyAmount"])),
                max_current_a: dec(&ac["evMaxCurrent"]),
                min_current_a: dec(&ac["evMinCurrent"]),
                max_power_w: dec(&dc["evMaxPower"]),
                at: now,
            })
        }
        "NotifyChargingLimit" => {
            let schedule = &p["chargingSchedule"][0];
            let lowest = schedule["chargingSchedulePeriod"]
                .as_array()
                .and_then(|ps| ps.iter().filter_map(|x| dec(&x["limit"])).min());
            let unit = schedule["chargingRateUnit"].as_str();
            ChargerReport::Limit(ChargerLimit {
                evse_id: evse(&p["evseId"]).unwrap_or(0),
                source: p["chargingLimit"]["chargingLimitSource"]
                    .as_str()
                    .unwrap_or("Other")
                    .to_string(),
                limit_a: lowest.filter(|_| unit == Some("A")),
                limit_w: lowest.filter(|_| unit == Some("W")),
                at: now,
            })
        }
        _ => ChargerReport::Cleared {
            source: p["chargingLimitSource"]
                .as_str()
                .unwrap_or("Other")
                .to_string(),
            evse_id: evse(&p["evseId"]),
        },
    };
    let managed = ctx
        .csms
        .charger_reported(&ctx.conn.tenant, &ctx.conn.charger_id, report)
        .await
        .map_err(internal)?;
    let detail = if managed {
        ""
    } else {
        "(no smart charging here)"
    };
    ctx.record(LogKind::Notification, summary(ctx.action, detail))
        .await?;
    Ok(match ctx.action {
        "NotifyEVChargingNeeds" if managed => json!({"status": "Accepted"}),
        "NotifyEVChargingNeeds" => json!({"status": "Rejected"}),
        _ => json!({}),
    })
}
