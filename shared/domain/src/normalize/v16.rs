//! OCPP 1.6 messages into domain inputs.

use chrono::{DateTime, Utc};
use cpms_ocpp::v16::types as t;
use rust_decimal::Decimal;

use crate::DomainError;
use crate::charger::{BootInfo, StatusInput};
use crate::meter::{self, MeterSample};
use crate::session::{EventKind, IdToken, SessionEvent};

/// BootNotification.
pub fn boot(req: &t::BootNotificationRequest, now: DateTime<Utc>) -> BootInfo {
    BootInfo {
        vendor: req.charge_point_vendor.clone(),
        model: req.charge_point_model.clone(),
        serial_number: req
            .charge_point_serial_number
            .clone()
            .or_else(|| req.charge_box_serial_number.clone()),
        firmware_version: req.firmware_version.clone(),
        iccid: req.iccid.clone(),
        imsi: req.imsi.clone(),
        meter_type: req.meter_type.clone(),
        meter_serial_number: req.meter_serial_number.clone(),
        reason: None,
        at: Some(now),
    }
}

/// The EVSE and connector a 1.6 connector id stands for: `0` is the whole charger, `n` is EVSE `n`.
pub fn evse_of(connector_id: i64) -> Result<(u32, u32), DomainError> {
    match u32::try_from(connector_id) {
        Ok(0) => Ok((0, 0)),
        Ok(n) => Ok((n, 1)),
        Err(_) => Err(DomainError::Invalid {
            field: "connectorId",
            reason: format!("{connector_id} is not a connector"),
        }),
    }
}

/// StatusNotification.
pub fn status(req: &t::StatusNotificationRequest) -> Result<StatusInput, DomainError> {
    let (evse_id, connector_id) = evse_of(req.connector_id)?;
    Ok(StatusInput {
        evse_id,
        connector_id,
        ocpp_status: req.status.as_str().to_string(),
        error_code: Some(req.error_code.as_str().to_string()),
        info: req.info.clone(),
        vendor_error_code: req.vendor_error_code.clone(),
        vendor_id: req.vendor_id.clone(),
        timestamp: req.timestamp,
    })
}

/// An id tag as a session token.
pub fn id_token(id_tag: &str) -> IdToken {
    IdToken {
        value: id_tag.to_string(),
        kind: None,
    }
}

/// Sampled values in SI units. Values that are not numbers are kept without a value (signed data keeps
/// its text in `signed_data`).
pub fn samples(values: &[t::MeterValue]) -> Vec<MeterSample> {
    let mut out = Vec::new();
    for mv in values {
        for sv in &mv.sampled_value {
            let measurand = sv
                .measurand
                .map_or(meter::ENERGY_IMPORT_REGISTER, |m| m.as_str())
                .to_string();
            let signed = sv.format == Some(t::ValueFormat::SignedData);
            let unit = sv
                .unit
                .map_or(meter::default_unit(&measurand), |u| u.as_str());
            let (value, unit) = match meter::parse_value(&sv.value).filter(|_| !signed) {
                Some(v) => {
                    let (v, u) = meter::to_si(v, unit, 0);
                    (Some(v), u)
                }
                None => (None, unit.to_string()),
            };
            out.push(MeterSample {
                timestamp: mv.timestamp,
                measurand,
                value,
                unit,
                phase: sv.phase.map(|p| p.as_str().to_string()),
                location: sv.location.map(|l| l.as_str().to_string()),
                context: sv.context.map(|c| c.as_str().to_string()),
                signed_data: signed.then(|| sv.value.clone()),
            });
        }
    }
    out
}

fn event(
    kind: EventKind,
    timestamp: DateTime<Utc>,
    fingerprint: u64,
    quirks: &[String],
) -> SessionEvent {
    let mut e = SessionEvent::new(kind, timestamp, fingerprint);
    e.quirks = quirks.to_vec();
    e
}

/// StartTransaction. The caller adds the authorization decision.
pub fn start(
    req: &t::StartTransactionRequest,
    fingerprint: u64,
    quirks: &[String],
) -> Result<SessionEvent, DomainError> {
    let mut e = event(EventKind::Started, req.timestamp, fingerprint, quirks);
    e.evse = Some(evse_of(req.connector_id)?);
    e.id_token = Some(id_token(&req.id_tag));
    e.meter_wh = Some(Decimal::from(req.meter_start));
    e.reservation_id = req.reservation_id;
    Ok(e)
}

/// StopTransaction. The caller adds the authorization decision for its id tag.
pub fn stop(req: &t::StopTransactionRequest, fingerprint: u64, quirks: &[String]) -> SessionEvent {
    let mut e = event(EventKind::Ended, req.timestamp, fingerprint, quirks);
    e.id_token = req.id_tag.as_deref().map(id_token);
    e.meter_wh = Some(Decimal::from(req.meter_stop));
    e.stop_reason = req.reason.map(|r| r.as_str().to_string());
    e.samples = req
        .transaction_data
        .as_deref()
        .map(samples)
        .unwrap_or_default();
    e
}

/// MeterValues of a transaction.
pub fn meter_values(
    req: &t::MeterValuesRequest,
    fingerprint: u64,
    quirks: &[String],
) -> Result<SessionEvent, DomainError> {
    let first = req.meter_value.first().map(|m| m.timestamp);
    let mut e = event(
        EventKind::Updated,
        first.unwrap_or_default(),
        fingerprint,
        quirks,
    );
    e.evse = Some(evse_of(req.connector_id)?).filter(|(evse, _)| *evse > 0);
    e.samples = samples(&req.meter_value);
    Ok(e)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn sampled_values_are_normalized() {
        let req: t::MeterValuesRequest = serde_json::from_value(json!({
            "connectorId": 1, "transactionId": 7, "meterValue": [{
                "timestamp": "2024-01-01T00:00:00Z", "sampledValue": [
                    {"value": "12.5", "unit": "kWh"},
                    {"value": "7", "measurand": "Power.Active.Import", "unit": "kW", "phase": "L1"},
                    {"value": "AB12", "format": "SignedData"},
                    {"value": "68", "measurand": "SoC"}]}]}))
        .unwrap();
        let s = meter_values(&req, 1, &[]).unwrap().samples;
        assert_eq!(s[0].value, Some(Decimal::from(12500)));
        assert_eq!(
            (s[0].unit.as_str(), s[0].measurand.as_str()),
            ("Wh", "Energy.Active.Import.Register")
        );
        assert_eq!(
            (s[1].value, s[1].unit.as_str()),
            (Some(Decimal::from(7000)), "W")
        );
        assert_eq!(s[1].phase.as_deref(), Some("L1"));
        assert_eq!(
            (s[2].value, s[2].signed_data.as_deref()),
            (None, Some("AB12"))
        );
        assert_eq!(s[3].unit, "Percent");
    }

    #[test]
    fn connector_ids_map_to_evses() {
        assert_eq!(evse_of(0).unwrap(), (0, 0));
        assert_eq!(evse_of(2).unwrap(), (2, 1));
        assert!(evse_of(-1).is_err());
    }
}
