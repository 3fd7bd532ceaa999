//! Every command of the vocabulary, mapped for both versions, against the official request schemas.

use chrono::{TimeZone, Utc};
use serde_json::json;

use super::*;

fn all() -> Vec<CommandRequest> {
    let at = Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap();
    serde_json::from_value(json!([
        {"type": "start_session", "id_token": "04A1B2C3", "evse_id": 1},
        {"type": "stop_session", "transaction_id": "42"},
        {"type": "reset"},
        {"type": "unlock_connector", "evse_id": 1},
        {"type": "change_availability", "operative": false, "evse_id": 2},
        {"type": "change_availability", "operative": true},
        {"type": "get_configuration", "keys": ["OCPPCommCtrlr.HeartbeatInterval"]},
        {"type": "change_configuration", "key": "OCPPCommCtrlr.HeartbeatInterval", "value": "300"},
        {"type": "trigger_message", "message": "Heartbeat"},
        {"type": "trigger_message", "message": "StatusNotification", "evse_id": 1},
        {"type": "clear_cache"},
        {"type": "update_firmware", "location": "https://fw.example/1.2.bin", "retrieve_at": at, "retries": 3},
        {"type": "get_diagnostics", "location": "ftp://logs.example/up", "from": at},
        {"type": "send_local_list", "version": 3, "update": "full",
         "entries": [{"id_token": "AA11", "status": "Accepted", "expires_at": at, "group_id": "FLEET"}]},
        {"type": "send_local_list", "version": 4, "update": "differential", "entries": [{"id_token": "AA11"}]},
        {"type": "get_local_list_version"},
        {"type": "reserve", "expires_at": at, "id_token": "04A1B2C3", "evse_id": 1},
        {"type": "cancel_reservation", "reservation_id": 7},
        {"type": "data_transfer", "vendor_id": "com.example", "message_id": "Ping", "data": {"a": 1}},
        {"type": "raw", "action": "GetLocalListVersion", "payload": {}},
        {"type": "rotate_password", "password": "00112233445566778899AABBCCDDEEFF00112233"},
    ]))
    .unwrap()
}

#[test]
fn every_command_maps_to_a_valid_call_in_both_versions() {
    for version in [OcppVersion::V16, OcppVersion::V201] {
        for req in all() {
            let (action, mut payload) = to_ocpp(&req, version, 17)
                .unwrap_or_else(|e| panic!("{version} {}: {e}", req.name()));
            let schema = cpms_ocpp::schema(version, &action, false)
                .unwrap_or_else(|| panic!("{version}: no schema for {action}"));
            if let Err(v) = cpms_ocpp::schema::validate(&mut payload, schema) {
                panic!("{version} {} -> {action} {payload}: {v}", req.name());
            }
        }
    }
}

#[test]
fn what_a_version_cannot_express_is_refused_with_a_reason() {
    let cases = [
        (
            OcppVersion::V16,
            json!({"type": "reset", "when": "on_idle"}),
            "when",
        ),
        (
            OcppVersion::V201,
            json!({"type": "reset", "kind": "hard"}),
            "kind",
        ),
        (
            OcppVersion::V16,
            json!({"type": "stop_session", "transaction_id": "abc"}),
            "integers",
        ),
        (
            OcppVersion::V201,
            json!({"type": "get_configuration"}),
            "keys",
        ),
        (
            OcppVersion::V201,
            json!({"type": "change_configuration", "key": "NoDot", "value": "1"}),
            "Component.Variable",
        ),
        (
            OcppVersion::V16,
            json!({"type": "unlock_connector", "evse_id": 1, "connector_id": 2}),
            "connector_id",
        ),
        (
            OcppVersion::V16,
            json!({"type": "raw", "action": "Reset", "payload": [1]}),
            "object",
        ),
    ];
    for (version, req, word) in cases {
        let req: CommandRequest = serde_json::from_value(req).unwrap();
        let e = to_ocpp(&req, version, 1).unwrap_err().to_string();
        assert!(e.contains(word), "{version} {}: {e}", req.name());
    }
}

#[test]
fn the_2_0_1_mapping_uses_the_2_0_1_shapes() {
    let req: CommandRequest =
        serde_json::from_value(json!({"type": "start_session", "id_token": "T1", "evse_id": 2}))
            .unwrap();
    let (action, p) = to_ocpp(&req, OcppVersion::V201, 99).unwrap();
    assert_eq!(action, "RequestStartTransaction");
    assert_eq!(
        p,
        json!({"idToken": {"idToken": "T1", "type": "Central"}, "remoteStartId": 99, "evseId": 2})
    );
    let (action, p) = to_ocpp(&req, OcppVersion::V16, 99).unwrap();
    assert_eq!(action, "RemoteStartTransaction");
    assert_eq!(p, json!({"idTag": "T1", "connectorId": 2}));
}

#[test]
fn unknown_fields_and_commands_are_refused() {
    assert!(
        serde_json::from_value::<CommandRequest>(json!({"type": "reset", "knd": "hard"})).is_err()
    );
    assert!(serde_json::from_value::<CommandRequest>(json!({"type": "explode"})).is_err());
    assert!(
        serde_json::from_value::<CommandRequest>(json!({"type": "clear_cache", "x": 1})).is_err()
    );
}

#[test]
fn a_command_ends_once_with_its_outcome() {
    let req: CommandRequest = serde_json::from_value(json!({"type": "clear_cache"})).unwrap();
    let now = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
    let mut c = Command {
        tenant: crate::TenantId::default_tenant(),
        id: crate::ids::time_ordered_id(now, 1),
        charger: crate::ChargerId::new("CP1").unwrap(),
        request: req,
        ocpp_version: OcppVersion::V16,
        action: "ClearCache".into(),
        payload: json!({}),
        state: CommandState::Queued,
        timeout_s: 30,
        created_by: "k".into(),
        created_at: now,
        sent_at: None,
        deadline: None,
        completed_at: None,
        result: None,
        status: None,
        error: None,
        reason: None,
    };
    c.sent(now);
    assert!(!c.overdue(now + chrono::Duration::seconds(29)));
    assert!(c.overdue(now + chrono::Duration::seconds(30)));
    c.answered(json!({"status": "Rejected"}), now);
    assert_eq!(
        (c.state, c.status.as_deref()),
        (CommandState::Answered, Some("Rejected"))
    );
    assert!(!c.state.is_open());
}

#[test]
fn a_password_change_is_redacted_once_the_command_ends() {
    let req: CommandRequest = serde_json::from_value(
        json!({"type": "rotate_password", "password": "00112233445566778899AABBCCDDEEFF"}),
    )
    .unwrap();
    for version in [OcppVersion::V16, OcppVersion::V201] {
        let (action, payload) = to_ocpp(&req, version, 1).unwrap();
        let mut c = Command {
            tenant: crate::TenantId::default_tenant(),
            id: "c1".into(),
            charger: crate::ChargerId::new("CP1").unwrap(),
            request: req.clone(),
            ocpp_version: version,
            action,
            payload,
            state: CommandState::Sent,
            timeout_s: 30,
            created_by: "test".into(),
            created_at: Utc::now(),
            sent_at: None,
            deadline: None,
            completed_at: None,
            result: None,
            status: None,
            error: None,
            reason: None,
        };
        assert!(c.sets_password());
        c.timed_out(Utc::now());
        let text = serde_json::to_string(&c).unwrap();
        assert!(!text.contains("00112233445566778899"), "{text}");
        assert!(text.contains(crate::credentials::REDACTED));
    }
    let unfit: CommandRequest = serde_json::from_value(
        json!({"type": "rotate_password", "password": "not-hexadecimal-at-all"}),
    )
    .unwrap();
    assert!(to_ocpp(&unfit, OcppVersion::V16, 1).is_err());
    assert!(to_ocpp(&unfit, OcppVersion::V201, 1).is_ok());
}
