//! The charging-profile commands of both versions against a charger on the PyPI `ocpp` package (it
//! checks every call against the official schemas), over a real socket: set, clear, composite
//! schedule, start with a profile, and for 2.0.1 GetChargingProfiles with its reports collected into the
//! command's result. Bad profiles are refused with a problem before anything is sent.

use std::io::{BufRead, BufReader};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use cpms_tests::{PASSWORD, Stack, python, root};
use serde_json::{Value, json};

struct PyCharger {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: mpsc::Receiver<Value>,
}

impl PyCharger {
    fn start(stack: &Stack, id: &str, version: &str) -> PyCharger {
        let mut child = Command::new(python())
            .arg(root().join("tests/python/profile_charger.py"))
            .args(["--url", &stack.ws, "--id", id, "--password", PASSWORD])
            .args(["--version", version])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("python runs");
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Ok(v) = serde_json::from_str::<Value>(&line) {
                    let _ = tx.send(v);
                }
            }
        });
        let stdin = child.stdin.take();
        let c = PyCharger {
            child,
            stdin,
            lines,
        };
        if version == "2.0.1" {
            // Not in a site smart charging manages: the car's needs are declined.
            assert_eq!(c.next()["status"], "Rejected");
            assert_eq!(c.next()["status"], "Accepted");
        }
        assert_eq!(c.next()["ready"], true, "the charger booted");
        c
    }

    /// The next line the charger printed (a call it received).
    fn next(&self) -> Value {
        self.lines
            .recv_timeout(Duration::from_secs(20))
            .expect("the charger printed a line")
    }

    fn stop(mut self) {
        drop(self.stdin.take());
        let status = self.child.wait().unwrap();
        assert!(status.success(), "the charger ended with {status}");
    }
}

/// Posts a command and waits for its end.
async fn run(stack: &Stack, id: &str, body: Value) -> Value {
    let (s, cmd) = stack
        .post(&format!("/v1/chargers/{id}/commands"), body)
        .await;
    assert!(s == 201 || s == 202 || s == 200, "{s} {cmd}");
    let cid = cmd["id"].as_str().unwrap().to_string();
    stack
        .wait_for(&format!("/v1/commands/{cid}"), |c| {
            c["state"] != "queued" && c["state"] != "sent"
        })
        .await
}

fn max_profile() -> Value {
    json!({"id": 1, "stack_level": 0, "purpose": "charger_max", "rate_unit": "W",
           "periods": [{"start_s": 0, "limit": 22000}, {"start_s": 3600, "limit": 11000.5, "phases": 3}]})
}

fn default_profile() -> Value {
    json!({"id": 2, "stack_level": 1, "purpose": "tx_default", "kind": "recurring", "recurrency": "daily",
           "start": "2026-12-01T00:00:00Z", "rate_unit": "A",
           "periods": [{"start_s": 0, "limit": 32}, {"start_s": 61200, "limit": 16}, {"start_s": 75600, "limit": 32}]})
}

async fn refused(stack: &Stack, id: &str, body: Value, why: &str) {
    let (s, p) = stack
        .post(&format!("/v1/chargers/{id}/commands"), body)
        .await;
    assert_eq!(s, 422, "{p}");
    assert!(p["detail"].as_str().unwrap_or("").contains(why), "{p}");
}

async fn bad_profiles_are_refused(stack: &Stack, id: &str) {
    let mut late = max_profile();
    late["periods"][0]["start_s"] = json!(60);
    let set = |p: Value, evse: u32| json!({"type": "set_charging_profile", "evse_id": evse, "profile": p});
    refused(stack, id, set(late, 0), "first period starts at 0").await;
    refused(stack, id, set(max_profile(), 1), "evse_id 0").await;
    let mut unordered = default_profile();
    unordered["periods"][2]["start_s"] = json!(100);
    refused(stack, id, set(unordered, 1), "rising order").await;
    let mut negative = default_profile();
    negative["periods"][1]["limit"] = json!(-1);
    refused(stack, id, set(negative, 1), "0 or more").await;
    let tx = json!({"id": 5, "stack_level": 0, "purpose": "tx", "rate_unit": "A", "periods": [{"start_s": 0, "limit": 10}]});
    refused(stack, id, set(tx.clone(), 1), "names its transaction").await;
    let mut with_tx = default_profile();
    with_tx["transaction_id"] = json!("7");
    refused(stack, id, set(with_tx, 1), "only a transaction profile").await;
    refused(
        stack,
        id,
        json!({"type": "start_session", "id_token": "T1", "charging_profile": max_profile()}),
        "transaction profile",
    )
    .await;
    refused(
        stack,
        id,
        json!({"type": "get_composite_schedule", "evse_id": 1, "duration_s": 0}),
        "1 s to 7 days",
    )
    .await;
    let (s, _) = stack
        .post(
            &format!("/v1/chargers/{id}/commands"),
            json!({"type": "set_charging_profile", "evse_id": 0, "profile": {"id": 1}}),
        )
        .await;
    assert!(
        s == 400 || s == 422,
        "an incomplete profile is refused: {s}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn profile_commands_reach_a_1_6_charger_we_did_not_write() {
    let stack = Stack::start().await;
    stack.register("PROF16").await;
    let cp = PyCharger::start(&stack, "PROF16", "1.6");
    bad_profiles_are_refused(&stack, "PROF16").await;

    let c = run(
        &stack,
        "PROF16",
        json!({"type": "set_charging_profile", "evse_id": 0, "profile": max_profile()}),
    )
    .await;
    assert_eq!(
        (c["state"].as_str(), c["status"].as_str()),
        (Some("answered"), Some("Accepted")),
        "{c}"
    );
    let got = cp.next();
    assert_eq!(got["connector_id"], 0);
    assert_eq!(
        got["profile"]["charging_profile_purpose"],
        "ChargePointMaxProfile"
    );
    assert_eq!(
        got["profile"]["charging_schedule"]["charging_schedule_period"][1]["limit"],
        11000.5
    );

    let c = run(
        &stack,
        "PROF16",
        json!({"type": "set_charging_profile", "evse_id": 1, "profile": default_profile()}),
    )
    .await;
    assert_eq!(c["status"], "Accepted", "{c}");
    let got = cp.next();
    assert_eq!(got["profile"]["recurrency_kind"], "Daily");
    assert_eq!(
        got["profile"]["charging_schedule"]["start_schedule"],
        "2026-12-01T00:00:00Z"
    );

    let c = run(&stack, "PROF16", json!({"type": "get_composite_schedule", "evse_id": 1, "duration_s": 3600, "rate_unit": "A"})).await;
    assert_eq!(c["status"], "Accepted", "{c}");
    assert_eq!(c["result"]["chargingSchedule"]["chargingRateUnit"], "A");
    assert_eq!(cp.next()["charging_rate_unit"], "A");

    let c = run(
        &stack,
        "PROF16",
        json!({"type": "clear_charging_profile", "id": 2}),
    )
    .await;
    assert_eq!(c["status"], "Accepted", "{c}");
    assert_eq!(cp.next()["payload"]["id"], 2);
    let c = run(&stack, "PROF16", json!({"type": "clear_charging_profile", "evse_id": 1, "purpose": "tx_default", "stack_level": 1})).await;
    assert_eq!(c["status"], "Unknown", "{c}");
    assert_eq!(
        cp.next()["payload"]["charging_profile_purpose"],
        "TxDefaultProfile"
    );

    let tx = json!({"id": 9, "stack_level": 2, "purpose": "tx", "kind": "relative", "rate_unit": "A",
                    "periods": [{"start_s": 0, "limit": 16, "phases": 1}]});
    let c = run(
        &stack,
        "PROF16",
        json!({"type": "start_session", "id_token": "PYTAG", "evse_id": 1, "charging_profile": tx}),
    )
    .await;
    assert_eq!(c["status"], "Accepted", "{c}");
    let got = cp.next();
    assert_eq!(
        got["charging_profile"]["charging_profile_purpose"],
        "TxProfile"
    );
    assert_eq!(got["charging_profile"]["charging_profile_kind"], "Relative");

    refused(
        &stack,
        "PROF16",
        json!({"type": "get_charging_profiles"}),
        "no GetChargingProfiles",
    )
    .await;
    cp.stop();
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn profile_commands_and_reports_with_a_2_0_1_charger_we_did_not_write() {
    let stack = Stack::start().await;
    stack.register("PROF201").await;
    let cp = PyCharger::start(&stack, "PROF201", "2.0.1");
    bad_profiles_are_refused(&stack, "PROF201").await;

    let c = run(
        &stack,
        "PROF201",
        json!({"type": "set_charging_profile", "evse_id": 0, "profile": max_profile()}),
    )
    .await;
    assert_eq!(c["status"], "Accepted", "{c}");
    let got = cp.next();
    assert_eq!(got["evse_id"], 0);
    assert_eq!(
        got["profile"]["charging_profile_purpose"],
        "ChargingStationMaxProfile"
    );
    assert_eq!(got["profile"]["charging_schedule"][0]["id"], 1);
    let c = run(
        &stack,
        "PROF201",
        json!({"type": "set_charging_profile", "evse_id": 1, "profile": default_profile()}),
    )
    .await;
    assert_eq!(c["status"], "Accepted", "{c}");
    cp.next();

    // GetChargingProfiles: the two reports that follow are collected into the command's result.
    let c = run(
        &stack,
        "PROF201",
        json!({"type": "get_charging_profiles", "purpose": "tx_default"}),
    )
    .await;
    assert_eq!(c["status"], "Accepted", "{c}");
    let got = cp.next();
    assert_eq!(
        got["criterion"]["charging_profile_purpose"],
        "TxDefaultProfile"
    );
    let id = c["id"].as_str().unwrap();
    let c = stack
        .wait_for(&format!("/v1/commands/{id}"), |c| {
            c["result"]["reports_complete"] == true
        })
        .await;
    let reports = c["result"]["reports"].as_array().unwrap();
    assert_eq!(reports.len(), 2, "{c}");
    assert_eq!(reports[0]["tbc"], true);
    let ids: Vec<i64> = reports
        .iter()
        .map(|r| r["chargingProfile"][0]["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, vec![1, 2]);

    let c = run(
        &stack,
        "PROF201",
        json!({"type": "get_composite_schedule", "evse_id": 1, "duration_s": 600}),
    )
    .await;
    assert_eq!(
        c["result"]["schedule"]["chargingSchedulePeriod"][0]["limit"], 16.0,
        "{c}"
    );
    cp.next();
    let c = run(
        &stack,
        "PROF201",
        json!({"type": "clear_charging_profile", "id": 1}),
    )
    .await;
    assert_eq!(c["status"], "Accepted", "{c}");
    assert_eq!(cp.next()["payload"]["charging_profile_id"], 1);
    let c = run(
        &stack,
        "PROF201",
        json!({"type": "clear_charging_profile", "purpose": "charger_max"}),
    )
    .await;
    assert_eq!(c["status"], "Unknown", "{c}");
    assert_eq!(
        cp.next()["payload"]["charging_profile_criteria"]["charging_profile_purpose"],
        "ChargingStationMaxProfile"
    );

    let tx = json!({"id": 9, "stack_level": 2, "purpose": "tx", "rate_unit": "W",
                    "periods": [{"start_s": 0, "limit": 7400}]});
    let c = run(
        &stack,
        "PROF201",
        json!({"type": "start_session", "id_token": "PYTAG", "evse_id": 1, "charging_profile": tx}),
    )
    .await;
    assert_eq!(c["status"], "Accepted", "{c}");
    assert_eq!(
        cp.next()["charging_profile"]["charging_schedule"][0]["charging_rate_unit"],
        "W"
    );
    cp.stop();
    stack.stop().await;
}
