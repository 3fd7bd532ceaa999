use chrono::{DateTime, Duration, TimeZone, Utc};

use super::timeline::*;
use crate::charger::ConnectorStatus;
use crate::{ChargerId, TenantId};

fn t(min: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, 10, 0, 0).unwrap() + Duration::minutes(min)
}

fn status(s: ConnectorStatus, ocpp: &str, code: &str) -> Signal {
    Signal::Status {
        status: s,
        ocpp_status: ocpp.into(),
        error_code: Some(code.into()),
        info: None,
        vendor_id: None,
        vendor_error_code: None,
    }
}

fn day() -> TimelineDay {
    TimelineDay::new(
        TenantId::default_tenant(),
        ChargerId::new("CP-1").unwrap(),
        t(0).date_naive(),
        30,
    )
}

#[test]
fn reports_land_in_the_chargers_order_and_resends_count_once() {
    let mut d = day();
    let now = t(60);
    let faulted = status(ConnectorStatus::Faulted, "Faulted", "GroundFailure");
    let ok = status(ConnectorStatus::Available, "Available", "NoError");
    assert!(d.insert(TimelineEntry::new(1, 1, ok.clone(), Some(t(30)), now)));
    // GIVEN a report from before the one already there WHEN it arrives THEN it lands before it, late.
    assert!(d.insert(TimelineEntry::new(1, 1, faulted.clone(), Some(t(10)), now)));
    assert_eq!(d.entries[0].at, t(10));
    assert!(d.entries[0].late);
    assert!(!d.entries[1].late);
    // WHEN the same report is sent again THEN nothing changes.
    assert!(!d.insert(TimelineEntry::new(1, 1, faulted, Some(t(10)), now)));
    assert_eq!(d.entries.len(), 2);
    // A clock far ahead counts as the time received.
    let e = TimelineEntry::new(1, 1, ok, Some(t(60 * 24 * 400)), now);
    assert_eq!(e.at, now);
    assert_eq!(e.time_note.as_deref(), Some("clock_ahead"));
    assert_eq!(
        d.expires_at,
        t(0).date_naive().and_hms_opt(0, 0, 0).unwrap().and_utc() + Duration::days(31)
    );
}

#[test]
fn a_full_day_folds_a_flapping_connector_into_its_latest_entry() {
    let mut d = day();
    let now = t(60 * 13);
    for i in 0..MAX_ENTRIES_PER_DAY + 50 {
        let s = if i % 2 == 0 {
            status(ConnectorStatus::Faulted, "Faulted", "OtherError")
        } else {
            status(ConnectorStatus::Available, "Available", "NoError")
        };
        let at = t(0) + Duration::milliseconds(i as i64 * 300);
        d.insert(TimelineEntry::new(1, 1, s, Some(at), now));
    }
    assert_eq!(d.entries.len(), MAX_ENTRIES_PER_DAY);
    assert_eq!(d.entries.last().unwrap().repeats, 50);
    // A place with nothing before it on a full day is counted as dropped.
    d.insert(TimelineEntry::new(
        2,
        1,
        Signal::Disconnected,
        Some(t(-1)),
        now,
    ));
    assert_eq!(d.dropped, 1);
}

#[test]
fn a_period_gives_the_state_in_force_at_its_start_and_what_followed() {
    let mut d = day();
    let now = t(120);
    d.insert(TimelineEntry::new(
        1,
        1,
        status(ConnectorStatus::Occupied, "Charging", "NoError"),
        Some(t(5)),
        now,
    ));
    d.insert(TimelineEntry::new(
        2,
        1,
        status(ConnectorStatus::Available, "Available", "NoError"),
        Some(t(6)),
        now,
    ));
    d.insert(TimelineEntry::new(
        0,
        0,
        Signal::Disconnected,
        Some(t(20)),
        now,
    ));
    d.insert(TimelineEntry::new(
        1,
        1,
        status(ConnectorStatus::Faulted, "Faulted", "HighTemperature"),
        Some(t(40)),
        now,
    ));
    let (before, within) = period([&d], t(10), t(60), Some(1), None);
    assert_eq!(before.len(), 1);
    assert_eq!(before[0].evse_id, 1);
    // The charger's own disconnection concerns EVSE 1; EVSE 2's report does not.
    assert_eq!(within.len(), 2);
    assert_eq!(within[0].signal, Signal::Disconnected);
    let (before, within) = period([&d], t(10), t(60), None, None);
    assert_eq!(before.len(), 2);
    assert_eq!(within.len(), 2);
}
