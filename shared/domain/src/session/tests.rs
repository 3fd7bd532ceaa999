//! Session rules, one behaviour per test (GIVEN / WHEN / THEN in the names and comments).

use std::str::FromStr;

use chrono::{DateTime, Duration, TimeZone, Utc};
use cpms_ocpp::OcppVersion;
use rust_decimal::Decimal;

use super::*;
use crate::meter::MeterSample;
use crate::token::{AuthDecision, AuthStatus};
use crate::{ChargerId, SessionId, TenantId};

fn t(min: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 5, 1, 12, 0, 0).unwrap() + Duration::minutes(min)
}

fn d(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}

fn session() -> Session {
    let id = SessionId::new(ChargerId::new("CP1").unwrap(), "42");
    Session::new(TenantId::default_tenant(), id, OcppVersion::V16, t(0))
}

fn ev(kind: EventKind, at: i64, fp: u64) -> SessionEvent {
    let mut e = SessionEvent::new(kind, t(at), fp);
    e.evse = Some((1, 1));
    e
}

fn register(at: i64, wh: &str) -> MeterSample {
    sample(at, "Energy.Active.Import.Register", wh, "Wh")
}

fn sample(at: i64, measurand: &str, v: &str, unit: &str) -> MeterSample {
    MeterSample {
        timestamp: t(at),
        measurand: measurand.into(),
        value: Some(d(v)),
        unit: unit.into(),
        phase: None,
        location: None,
        context: None,
        signed_data: None,
    }
}

fn start(at: i64, meter: &str) -> SessionEvent {
    let mut e = ev(EventKind::Started, at, 1);
    e.meter_wh = Some(d(meter));
    e.id_token = Some(IdToken {
        value: "TAG".into(),
        kind: None,
    });
    e.auth = Some(AuthDecision::free());
    e
}

fn stop(at: i64, meter: &str) -> SessionEvent {
    let mut e = ev(EventKind::Ended, at, 3);
    e.meter_wh = Some(d(meter));
    e
}

fn meter(at: i64, fp: u64, samples: Vec<MeterSample>) -> SessionEvent {
    let mut e = ev(EventKind::Updated, at, fp);
    e.samples = samples;
    e
}

#[test]
fn a_1_6_session_from_start_to_stop() {
    let mut s = session();
    s.apply(&start(0, "1000"), t(0));
    assert_eq!(s.status, SessionStatus::Active);
    assert_eq!(s.energy_wh, Some(d("0")));
    s.apply(
        &meter(
            10,
            2,
            vec![
                register(10, "2500"),
                sample(10, "Power.Active.Import", "7.2", "kW"),
            ],
        ),
        t(10),
    );
    assert_eq!(s.energy_wh, Some(d("1500")));
    s.apply(&stop(20, "4000"), t(20));
    assert_eq!(s.status, SessionStatus::Completed);
    assert_eq!(s.energy_wh, Some(d("3000")));
    assert_eq!(s.stop_reason.as_deref(), Some("Local"));
    assert_eq!((s.started_at, s.ended_at), (Some(t(0)), Some(t(20))));
    assert_eq!(s.sample_count, 2);
}

#[test]
fn a_resent_message_changes_nothing() {
    let mut s = session();
    s.apply(&start(0, "1000"), t(0));
    let m = meter(10, 2, vec![register(10, "2000")]);
    assert_eq!(s.apply(&m, t(10)).new_samples.len(), 1);
    let before = s.clone();
    let again = s.apply(&m, t(11));
    assert!(again.duplicate && again.new_samples.is_empty());
    assert_eq!(s, before);
}

#[test]
fn a_stop_for_an_unknown_start_is_kept_as_reconciled() {
    // GIVEN no start was ever received WHEN the stop arrives THEN the session exists, reconciled
    let mut s = session();
    let mut e = stop(30, "9000");
    e.samples = vec![{
        let mut b = register(0, "5000");
        b.context = Some("Transaction.Begin".into());
        b
    }];
    s.apply(&e, t(31));
    assert_eq!(s.status, SessionStatus::Reconciled);
    assert_eq!(s.energy_wh, Some(d("4000")));
    assert_eq!(s.started_at, Some(t(0)));
}

#[test]
fn a_2_0_1_session_with_events_out_of_order() {
    let mut s = session();
    let mut ended = ev(EventKind::Ended, 30, 30);
    ended.seq_no = Some(3);
    ended.samples = vec![register(30, "3000")];
    ended.stop_reason = Some("EVDisconnected".into());
    let mut updated = ev(EventKind::Updated, 10, 10);
    updated.seq_no = Some(1);
    updated.samples = vec![register(10, "1500")];
    updated.charging_state = Some("Charging".into());
    let mut started = ev(EventKind::Started, 0, 0);
    started.seq_no = Some(0);
    started.samples = vec![register(0, "1000")];
    // WHEN Ended, then Updated, then Started arrive
    s.apply(&ended, t(31));
    assert_eq!(s.status, SessionStatus::Reconciled);
    s.apply(&updated, t(32));
    s.apply(&started, t(33));
    // THEN the session is complete and its numbers are those of the right order
    assert_eq!(s.status, SessionStatus::Completed);
    assert_eq!(s.energy_wh, Some(d("2000")));
    assert_eq!(s.started_at, Some(t(0)));
    assert_eq!(s.ended_at, Some(t(30)));
    assert_eq!(s.stop_reason.as_deref(), Some("EVDisconnected"));
    assert_eq!(s.seq_seen, vec![(0, 1), (3, 3)]);
    // an older Updated does not overwrite the state of a newer event
    let mut late = ev(EventKind::Updated, 20, 20);
    late.seq_no = Some(2);
    late.charging_state = Some("SuspendedEV".into());
    s.charging_state = Some("Idle".into());
    s.apply(&late, t(34));
    assert_eq!(s.charging_state.as_deref(), Some("Idle"));
    // and a seqNo seen before is a duplicate whatever its content
    let mut dup = ev(EventKind::Updated, 25, 99);
    dup.seq_no = Some(1);
    assert!(s.apply(&dup, t(35)).duplicate);
}

#[test]
fn a_refused_token_makes_the_session_failed() {
    let mut s = session();
    let mut e = start(0, "0");
    e.auth = Some(AuthDecision {
        status: AuthStatus::Blocked,
        expires_at: None,
        group_id: None,
    });
    s.apply(&e, t(0));
    assert_eq!(s.status, SessionStatus::Failed);
    s.apply(&stop(5, "10"), t(5));
    assert_eq!(s.status, SessionStatus::Failed);
    assert_eq!(s.energy_wh, Some(d("10")));
}

#[test]
fn clocks_that_were_never_set_are_replaced_by_receive_time() {
    let mut s = session();
    let mut e = start(0, "0");
    e.timestamp = Utc.with_ymd_and_hms(1970, 1, 1, 0, 0, 5).unwrap();
    s.apply(&e, t(3));
    assert_eq!(s.started_at, Some(t(3)));
    assert!(s.has_anomaly("clock_not_set"));
}

#[test]
fn days_old_offline_messages_keep_their_time() {
    let mut s = session();
    let mut e = start(0, "0");
    e.offline = true;
    s.apply(&e, t(0) + Duration::days(3));
    assert_eq!(s.started_at, Some(t(0)));
    assert!(s.offline && s.anomalies.is_empty());
}

#[test]
fn kwh_labelled_as_wh_is_detected_against_the_start_register() {
    let mut s = session();
    s.apply(&start(0, "1234000"), t(0));
    s.apply(&meter(10, 2, vec![register(10, "1240.5")]), t(10));
    assert_eq!(s.energy_wh, Some(d("6500")));
    assert!(s.has_anomaly("unit_mislabelled"));
}

#[test]
fn a_register_that_restarts_per_session_gives_the_stop_value() {
    let mut s = session();
    s.apply(&start(0, "52000"), t(0));
    s.apply(&stop(60, "7000"), t(60));
    assert_eq!(s.energy_wh, Some(d("7000")));
    assert!(s.has_anomaly("register_reset"));
}

#[test]
fn negative_registers_are_ignored() {
    let mut s = session();
    s.apply(&start(0, "1000"), t(0));
    s.apply(&meter(5, 2, vec![register(5, "-1")]), t(5));
    assert_eq!(s.energy_wh, Some(d("0")));
    assert!(s.has_anomaly("negative_value"));
}

#[test]
fn latest_readings_sum_power_and_take_the_highest_current_over_phases() {
    let mut s = session();
    s.apply(&start(0, "0"), t(0));
    let phases = ["L1", "L2", "L3"].map(|p| {
        let mut a = sample(
            5,
            "Current.Import",
            if p == "L2" { "16" } else { "15" },
            "A",
        );
        a.phase = Some(p.into());
        let mut w = sample(5, "Power.Active.Import", "3680", "W");
        w.phase = Some(p.into());
        [a, w]
    });
    s.apply(&meter(5, 2, phases.concat()), t(5));
    assert_eq!(s.latest.current_a, Some(d("16")));
    assert_eq!(s.latest.power_w, Some(d("11040")));
    s.apply(&meter(6, 3, vec![sample(6, "SoC", "55", "Percent")]), t(6));
    assert_eq!(s.latest.soc_percent, Some(d("55")));
}

#[test]
fn reconciliation_closes_an_abandoned_session_once() {
    let mut s = session();
    s.apply(&start(0, "0"), t(0));
    s.apply(&meter(5, 2, vec![register(5, "800")]), t(5));
    s.close_by_reconciliation(t(50), "Superseded", t(51));
    assert_eq!(s.status, SessionStatus::Reconciled);
    assert_eq!(s.energy_wh, Some(d("800")));
    let closed = s.clone();
    s.close_by_reconciliation(t(60), "Superseded", t(61));
    assert_eq!(s, closed);
}

#[test]
fn the_stored_record_is_compact_and_reads_back_the_same() {
    // GIVEN a session that applied 16 messages with samples
    let mut s = session();
    for i in 0..16u64 {
        let mut e = ev(EventKind::Updated, i as i64, u64::MAX - i * 7_919);
        e.samples = vec![MeterSample::register_wh(
            t(i as i64),
            Decimal::from(i * 100),
        )];
        s.apply(&e, t(20));
    }
    // WHEN it is stored
    let json = serde_json::to_string(&s).unwrap();
    // THEN absent fields are left out, fingerprints are one text, and it reads back equal
    assert!(!json.contains("null"), "{json}");
    assert!(json.len() < 900, "{} bytes: {json}", json.len());
    assert_eq!(serde_json::from_str::<Session>(&json).unwrap(), s);
    // AND a record written with fingerprints as numbers still reads
    let mut old: serde_json::Value = serde_json::to_value(&s).unwrap();
    old["applied"] = serde_json::json!(s.applied);
    let back: Session = serde_json::from_value(old).unwrap();
    assert_eq!(back.applied, s.applied);
}
