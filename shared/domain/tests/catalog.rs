//! The event catalog: `events/catalog/{type}.json` holds an example of every domain event type, and
//! `events/catalog/routing.json` names the types each consumer queue receives. This test keeps both in
//! step with the code: every type has an example that reads back into the same event, and routing names
//! only types that exist. `CPMS_BLESS=1 cargo test -p cpms-domain --test catalog` rewrites the examples.

use std::path::PathBuf;

use chrono::{TimeZone, Utc};
use cpms_domain::charger::ConnectorStatus;
use cpms_domain::events::{DomainEvent, EventBody};
use cpms_domain::session::SessionStatus;
use cpms_domain::{ChargerId, SessionId, TenantId};
use rust_decimal::Decimal;

fn catalog() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../events/catalog")
}

fn examples() -> Vec<DomainEvent> {
    let at = Utc.with_ymd_and_hms(2026, 11, 24, 10, 30, 5).unwrap();
    let cp = ChargerId::new("CP-00001").unwrap();
    let sid = SessionId::new(cp.clone(), "f3a9c2d1");
    let ev = |id: &str, body| DomainEvent {
        id: id.into(),
        tenant: TenantId::default_tenant(),
        occurred_at: at,
        body,
    };
    vec![
        ev(
            "CP-00001:Fx1RMd4aoAMCIQg=:connected",
            EventBody::ChargerConnected {
                charger_id: cp.clone(),
                ocpp_version: "2.0.1".into(),
            },
        ),
        ev(
            "CP-00001:Fx1RMd4aoAMCIQg=:disconnected",
            EventBody::ChargerDisconnected {
                charger_id: cp.clone(),
            },
        ),
        ev(
            "CP-00001:boot:1795600801000",
            EventBody::ChargerBooted {
                charger_id: cp.clone(),
                vendor: "VendorX".into(),
                model: "SingleSocketCharger".into(),
                firmware_version: Some("1.4.2".into()),
                registration: "accepted".into(),
            },
        ),
        ev(
            "CP-00001:1:1:1795600805000:Occupied",
            EventBody::ConnectorStatusChanged {
                charger_id: cp.clone(),
                evse_id: 1,
                connector_id: 1,
                status: ConnectorStatus::Occupied,
                ocpp_status: "Occupied".into(),
                error_code: None,
                previous: Some(ConnectorStatus::Available),
                info: None,
                vendor_id: None,
                vendor_error_code: None,
                reported_at: Some(at),
            },
        ),
        ev(
            "CP-00001:event:17:1795600805000",
            EventBody::ChargerDeviceEvent {
                charger_id: cp.clone(),
                evse_id: 1,
                connector_id: 1,
                component: "ConnectorPlugRetentionLock".into(),
                variable: "Problem".into(),
                actual_value: "true".into(),
                cleared: false,
                tech_code: Some("E-LOCK-17".into()),
                reported_at: at,
            },
        ),
        ev(
            "CP-00001:firmware:1795600805000:InstallationFailed",
            EventBody::ChargerFirmwareStatus {
                charger_id: cp.clone(),
                status: "InstallationFailed".into(),
                request_id: Some(42),
                failed: true,
            },
        ),
        ev(
            "CP-00001:security:TamperDetectionActivated:1795600805000",
            EventBody::ChargerSecurityEvent {
                charger_id: cp.clone(),
                event_type: "TamperDetectionActivated".into(),
                severity: "critical".into(),
                tech_info: Some("enclosure door opened".into()),
                reported_at: at,
            },
        ),
        ev(
            "CP-00001:command:0190f3a9c2d1e5f6a7b8:rejected",
            EventBody::ChargerCommandFailed {
                charger_id: cp.clone(),
                command_id: "0190f3a9c2d1e5f6a7b8".into(),
                action: "RemoteStartTransaction".into(),
                outcome: "rejected".into(),
                detail: "Rejected".into(),
                created_by: "ops-key".into(),
            },
        ),
        ev(
            "incident:0190f3a9c2d1a1b2c3d4:opened:0",
            EventBody::IncidentChanged {
                incident_id: "0190f3a9c2d1a1b2c3d4".into(),
                rule: "connector_faulted".into(),
                resource: "connector:CP-00001:1:1".into(),
                site_id: Some("BERLIN-01".into()),
                charger_id: Some("CP-00001".into()),
                state: "open".into(),
                severity: "major".into(),
                change: "opened".into(),
                target: None,
            },
        ),
        ev(
            "CP-00001~f3a9c2d1:started",
            EventBody::SessionStarted {
                session_id: sid.clone(),
                evse_id: Some(1),
                id_token: Some("04A1B2C3".into()),
                started_at: Some(at),
            },
        ),
        ev(
            "CP-00001~f3a9c2d1:metered:2",
            EventBody::SessionMetered {
                session_id: sid.clone(),
                energy_wh: Some(Decimal::from(2750)),
                power_w: Some(Decimal::from(11000)),
                soc_percent: Some(Decimal::from(42)),
            },
        ),
        ev(
            "CP-00001~f3a9c2d1:amended:3:1795600805000:5720",
            EventBody::SessionAmended {
                session_id: sid.clone(),
                status: SessionStatus::Completed,
                ended_at: Some(at),
                energy_wh: Some(Decimal::from(5720)),
                sample_count: 3,
            },
        ),
        ev(
            "cdr:CP-00001~f3a9c2d1~r1",
            EventBody::CdrCreated {
                cdr_id: "CP-00001~f3a9c2d1~r1".into(),
                kind: "regular".into(),
                credits: None,
                session_id: sid.clone(),
                billed_party: "driver:04A1B2C3".into(),
                currency: "EUR".into(),
                total_excl_vat: Decimal::new(216, 2),
                total_incl_vat: Decimal::new(261, 2),
                review: false,
            },
        ),
        ev(
            "CP-00001:noncompliant:limit_ignored:1:1764583805000",
            EventBody::ChargerNoncompliant {
                charger_id: cp.clone(),
                evse_id: Some(1),
                reason: "limit_ignored".into(),
                detail: "EVSE 1 drew 31 A for 3 readings while limited to 16 A".into(),
            },
        ),
        ev(
            "CP-00001:command:0193f1c2a7b8-4d2e:ended",
            EventBody::CommandEnded {
                charger_id: cp.clone(),
                command_id: "0193f1c2a7b8-4d2e".into(),
                created_by: "ocpi:NL-EXA".into(),
            },
        ),
        ev(
            "partner:NL-EXA:failing:NL-EXA|cdrs|CP-00001~1295706089~r1:5",
            EventBody::PartnerDeliveryFailing {
                partner_id: "NL-EXA".into(),
                module: "cdrs".into(),
                object_id: "CP-00001~1295706089~r1".into(),
                attempts: 5,
                outcome: "retrying".into(),
                error: "answered HTTP 503 without an OCPI envelope".into(),
            },
        ),
        ev(
            "site:depot-north:1764583805000",
            EventBody::LocationChanged {
                site_id: "depot-north".into(),
                charger_id: None,
            },
        ),
        ev(
            "tariff-assignment:site:depot-north:1764583805000",
            EventBody::TariffChanged {
                tariff_id: "AC-STANDARD".into(),
                scope: Some("site:depot-north".into()),
            },
        ),
        ev(
            "CP-00001:limits:ev_charging_needs:1:1764583805000",
            EventBody::ChargerLimitsChanged {
                charger_id: cp.clone(),
                evse_id: 1,
                reason: "ev_charging_needs".into(),
            },
        ),
        ev(
            "CP-00001~f3a9c2d1:ended",
            EventBody::SessionEnded {
                session_id: sid,
                status: SessionStatus::Completed,
                started_at: Some(at),
                ended_at: Some(at),
                energy_wh: Some(Decimal::from(5500)),
                id_token: Some("04A1B2C3".into()),
                stop_reason: Some("EVDisconnected".into()),
            },
        ),
    ]
}

/// Fails to compile when a new event type is added without an example above.
#[allow(dead_code)]
fn every_variant_is_listed(b: &EventBody) {
    match b {
        EventBody::ChargerConnected { .. }
        | EventBody::ChargerDisconnected { .. }
        | EventBody::ChargerBooted { .. }
        | EventBody::ConnectorStatusChanged { .. }
        | EventBody::ChargerNoncompliant { .. }
        | EventBody::ChargerLimitsChanged { .. }
        | EventBody::ChargerDeviceEvent { .. }
        | EventBody::ChargerFirmwareStatus { .. }
        | EventBody::ChargerSecurityEvent { .. }
        | EventBody::ChargerCommandFailed { .. }
        | EventBody::IncidentChanged { .. }
        | EventBody::LocationChanged { .. }
        | EventBody::TariffChanged { .. }
        | EventBody::CommandEnded { .. }
        | EventBody::PartnerDeliveryFailing { .. }
        | EventBody::SessionStarted { .. }
        | EventBody::SessionMetered { .. }
        | EventBody::SessionEnded { .. }
        | EventBody::SessionAmended { .. }
        | EventBody::CdrCreated { .. } => {}
    }
}

fn type_of(e: &DomainEvent) -> String {
    serde_json::to_value(e).unwrap()["type"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn every_event_type_has_an_example_that_reads_back() {
    let bless = std::env::var_os("CPMS_BLESS").is_some();
    for e in examples() {
        let path = catalog().join(format!("{}.json", type_of(&e)));
        let text = serde_json::to_string_pretty(&e).unwrap() + "\n";
        if bless {
            std::fs::write(&path, &text).unwrap();
        }
        let stored = std::fs::read_to_string(&path)
            .unwrap_or_else(|_| panic!("{} is missing: run with CPMS_BLESS=1", path.display()));
        assert_eq!(
            stored,
            text,
            "{} is out of date: run with CPMS_BLESS=1",
            path.display()
        );
        let back: DomainEvent = serde_json::from_str(&stored).unwrap();
        assert_eq!(back, e);
    }
}

#[test]
fn routing_names_only_known_event_types() {
    let known: Vec<String> = examples().iter().map(type_of).collect();
    let routing: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(catalog().join("routing.json")).unwrap())
            .unwrap();
    for (queue, types) in routing.as_object().unwrap() {
        for t in types.as_array().unwrap() {
            assert!(
                known.contains(&t.as_str().unwrap().to_string()),
                "{queue} routes unknown type {t}"
            );
        }
    }
}
