//! OCPP 2.0.1 messages into domain inputs.

use chrono::{DateTime, Utc};
use cpms_ocpp::v201::types as t;

use crate::DomainError;
use crate::charger::{BootInfo, StatusInput};
use crate::meter::{self, MeterSample};
use crate::session::{EventKind, IdToken, SessionEvent};

/// BootNotification.
pub fn boot(req: &t::BootNotificationRequest, now: DateTime<Utc>) -> BootInfo {
    let cs = &req.charging_station;
    BootInfo {
        vendor: cs.vendor_name.clone(),
        model: cs.model.clone(),
        serial_number: cs.serial_number.clone(),
        firmware_version: cs.firmware_version.clone(),
        iccid: cs.modem.as_ref().and_then(|m| m.iccid.clone()),
        imsi: cs.modem.as_ref().and_then(|m| m.imsi.clone()),
        meter_type: None,
        meter_serial_number: None,
        reason: Some(req.reason.as_str().to_string()),
        at: Some(now),
    }
}

fn u32_of(field: &'static str, v: i64) -> Result<u32, DomainError> {
    u32::try_from(v).map_err(|_| DomainError::Invalid {
        field,
        reason: format!("{v} is out of range"),
    })
}

/// StatusNotification.
pub fn status(req: &t::StatusNotificationRequest) -> Result<StatusInput, DomainError> {
    Ok(StatusInput {
        evse_id: u32_of("evseId", req.evse_id)?,
        connector_id: u32_of("connectorId", req.connector_id)?,
        ocpp_status: req.connector_status.as_str().to_string(),
        error_code: None,
        info: None,
        vendor_error_code: None,
        vendor_id: None,
        timestamp: Some(req.timestamp),
    })
}

/// An IdTokenType as a session token.
pub fn id_token(t: &t::IdTokenType) -> IdToken {
    IdToken {
        value: t.id_token.clone(),
        kind: Some(t.r#type.as_str().to_string()),
    }
}

/// Sampled values in SI units (units with their power-of-ten multiplier).
pub fn samples(values: &[t::MeterValueType]) -> Vec<MeterSample> {
    let mut out = Vec::new();
    for mv in values {
        for sv in &mv.sampled_value {
            let measurand = sv
                .measurand
                .map_or(meter::ENERGY_IMPORT_REGISTER, |m| m.as_str())
                .to_string();
            let uom = sv.unit_of_measure.as_ref();
            let unit = uom
                .and_then(|u| u.unit.as_deref())
                .unwrap_or(meter::default_unit(&measurand));
            let multiplier = uom.and_then(|u| u.multiplier).unwrap_or(0);
            let (value, unit) = meter::to_si(sv.value, unit, multiplier.clamp(-12, 12) as i32);
            out.push(MeterSample {
                timestamp: mv.timestamp,
                measurand,
                value: Some(value),
                unit,
                phase: sv.phase.map(|p| p.as_str().to_string()),
                location: sv.location.map(|l| l.as_str().to_string()),
                context: sv.context.map(|c| c.as_str().to_string()),
                signed_data: sv
                    .signed_meter_value
                    .as_ref()
                    .map(|s| s.signed_meter_data.clone()),
            });
        }
    }
    out
}

/// TransactionEvent: the transaction id and the session event. The caller adds the authorization
/// decision for its id token.
pub fn transaction_event(
    req: &t::TransactionEventRequest,
    fingerprint: u64,
    quirks: &[String],
) -> Result<(String, SessionEvent), DomainError> {
    let kind = match req.event_type {
        t::TransactionEventEnumType::Started => EventKind::Started,
        t::TransactionEventEnumType::Updated => EventKind::Updated,
        t::TransactionEventEnumType::Ended => EventKind::Ended,
    };
    let seq_no = u64::try_from(req.seq_no).map_err(|_| DomainError::Invalid {
        field: "seqNo",
        reason: format!("{} is negative", req.seq_no),
    })?;
    let evse = match &req.evse {
        Some(e) => Some((
            u32_of("evse.id", e.id)?,
            u32_of("evse.connectorId", e.connector_id.unwrap_or(1))?,
        )),
        None => None,
    };
    let info = &req.transaction_info;
    let mut ev = SessionEvent::new(kind, req.timestamp, fingerprint);
    ev.seq_no = Some(seq_no);
    ev.evse = evse;
    ev.id_token = req.id_token.as_ref().map(id_token);
    ev.samples = req.meter_value.as_deref().map(samples).unwrap_or_default();
    ev.stop_reason = info.stopped_reason.map(|r| r.as_str().to_string());
    ev.charging_state = info.charging_state.map(|c| c.as_str().to_string());
    ev.trigger_reason = Some(req.trigger_reason.as_str().to_string());
    ev.offline = req.offline.unwrap_or(false);
    ev.remote_start_id = info.remote_start_id;
    ev.reservation_id = req.reservation_id;
    ev.quirks = quirks.to_vec();
    Ok((info.transaction_id.clone(), ev))
}

#[cfg(test)]
mod tests {
    use rust_decimal::Decimal;
    use serde_json::json;

    use super::*;

    #[test]
    fn a_transaction_event_becomes_a_session_event() {
        let req: t::TransactionEventRequest = serde_json::from_value(json!({
            "eventType": "Ended", "timestamp": "2024-01-01T01:00:00Z", "triggerReason": "EVDeparted",
            "seqNo": 4, "offline": true, "evse": {"id": 2},
            "transactionInfo": {"transactionId": "tx-9", "stoppedReason": "EVDisconnected"},
            "idToken": {"idToken": "ABC", "type": "ISO14443"},
            "meterValue": [{"timestamp": "2024-01-01T01:00:00Z", "sampledValue": [
                {"value": 12.5, "unitOfMeasure": {"unit": "Wh", "multiplier": 3},
                 "context": "Transaction.End"}]}]})).unwrap();
        let (tx, e) = transaction_event(&req, 5, &[]).unwrap();
        assert_eq!(tx, "tx-9");
        assert_eq!(
            (e.kind, e.seq_no, e.offline),
            (EventKind::Ended, Some(4), true)
        );
        assert_eq!(e.evse, Some((2, 1)));
        assert_eq!(e.stop_reason.as_deref(), Some("EVDisconnected"));
        assert_eq!(e.id_token.unwrap().kind.as_deref(), Some("ISO14443"));
        assert_eq!(e.samples[0].value, Some(Decimal::from(12500)));
    }
}
