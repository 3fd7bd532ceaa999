//! Unit tests of conditions, escalation, maintenance windows, rule overrides and notice shapes.

use chrono::{DateTime, Duration, NaiveTime, TimeZone, Utc, Weekday};

use super::condition::{Action, Condition, Resource};
use super::escalation::{BusinessHours, EscalationPolicy, Tier};
use super::incident::{Escalation, Incident, IncidentState};
use super::maintenance::{MaintenanceWindow, WindowScope, WindowTime};
use super::notify::{Format, Notice, NoticeKind, Summary, webhook_body};
use super::rules::{
    AlertConfig, Override, RuleId, RulePatch, RuleSettings, Scope, Severity, Subject,
};
use crate::TenantId;

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 1, 10, 0, 0).unwrap()
}

fn connector() -> Resource {
    Resource::Connector {
        charger_id: "CP1".into(),
        evse_id: 1,
        connector_id: 1,
    }
}

fn condition(rule: RuleId) -> Condition {
    Condition::new(TenantId::default_tenant(), rule, connector(), None, t0())
}

#[test]
fn a_fault_opens_at_once_and_resolves_after_staying_clear() {
    // GIVEN the built-in faulted rule (no minimum duration, clear for 60 s)
    let s = RuleSettings::builtin(RuleId::ConnectorFaulted);
    let mut c = condition(RuleId::ConnectorFaulted);
    // WHEN the connector faults, then recovers
    assert_eq!(c.observe(true, t0(), "Faulted".into(), &s), [Action::Open]);
    c.opened("I1".into());
    assert!(
        c.observe(false, t0() + Duration::seconds(5), String::new(), &s)
            .is_empty()
    );
    // THEN it resolves only once it stayed clear for a minute
    assert!(c.tick(t0() + Duration::seconds(30), &s).is_empty());
    assert_eq!(
        c.tick(t0() + Duration::seconds(65), &s),
        [Action::Resolve("I1".into())]
    );
    // AND a recurrence soon after reopens the same incident
    assert_eq!(
        c.observe(true, t0() + Duration::seconds(100), "Faulted".into(), &s),
        [Action::Reopen("I1".into())]
    );
}

#[test]
fn a_connector_flapping_twenty_times_a_minute_makes_one_incident() {
    // With the built-in hysteresis it never resolves while it flaps.
    let s = RuleSettings::builtin(RuleId::ConnectorFaulted);
    let (opened, reopened, resolved) = flap(&s);
    assert_eq!((opened, reopened, resolved), (1, 0, 0));
    // With almost none, the first flaps reopen the same incident until damping holds it open.
    let mut quick = s.clone();
    quick.clear_after_s = 1;
    let (opened, reopened, resolved) = flap(&quick);
    assert_eq!(opened, 1, "one incident");
    assert!(
        reopened <= 3 && resolved <= 3,
        "{reopened} reopened, {resolved} resolved"
    );
}

/// 40 changes 1.5 s apart; (opened, reopened, resolved).
fn flap(s: &RuleSettings) -> (u32, u32, u32) {
    let mut c = condition(RuleId::ConnectorFaulted);
    let (mut opened, mut reopened, mut resolved) = (0, 0, 0);
    for i in 0..40 {
        let at = t0() + Duration::milliseconds(1500 * i);
        let mut acts = c.observe(i % 2 == 0, at, "flap".into(), s);
        acts.extend(c.tick(at + Duration::milliseconds(1400), s));
        for a in acts {
            match a {
                Action::Open => {
                    opened += 1;
                    c.opened("I".into());
                }
                Action::Reopen(_) => reopened += 1,
                Action::Resolve(_) => resolved += 1,
                Action::Recur(_) => {}
            }
        }
    }
    (opened, reopened, resolved)
}

#[test]
fn a_condition_shorter_than_the_minimum_duration_opens_nothing() {
    let s = RuleSettings::builtin(RuleId::PreparingTooLong);
    let mut c = condition(RuleId::PreparingTooLong);
    let mut s = s;
    s.min_duration_s = s.threshold_s;
    assert!(c.observe(true, t0(), "Preparing".into(), &s).is_empty());
    assert_eq!(c.due, Some(t0() + Duration::minutes(15)));
    assert!(
        c.observe(false, t0() + Duration::minutes(3), String::new(), &s)
            .is_empty()
    );
    assert!(c.tick(t0() + Duration::minutes(16), &s).is_empty());
    // Held for the whole threshold: it opens when the timer fires.
    c.observe(true, t0() + Duration::minutes(20), "Preparing".into(), &s);
    assert_eq!(c.tick(t0() + Duration::minutes(36), &s), [Action::Open]);
}

#[test]
fn a_counting_rule_opens_at_its_count_within_the_window_and_resolves_when_quiet() {
    let s = RuleSettings::builtin(RuleId::FailedStarts);
    let mut c = condition(RuleId::FailedStarts);
    assert!(c.occur(t0(), "1".into(), &s).is_empty());
    assert!(
        c.occur(t0() + Duration::minutes(10), "2".into(), &s)
            .is_empty()
    );
    assert_eq!(
        c.occur(t0() + Duration::minutes(20), "3".into(), &s),
        [Action::Open]
    );
    c.opened("F".into());
    assert_eq!(
        c.occur(t0() + Duration::minutes(30), "4".into(), &s),
        [Action::Recur("F".into())]
    );
    let quiet = t0() + Duration::minutes(30) + Duration::hours(6);
    assert_eq!(c.tick(quiet, &s), [Action::Resolve("F".into())]);
    // Old hits outside the window do not count towards the next incident.
    assert!(
        c.occur(quiet + Duration::hours(2), "5".into(), &s)
            .is_empty()
    );
}

#[test]
fn overrides_apply_from_the_widest_scope_to_the_narrowest() {
    let mut cfg = AlertConfig::defaults(TenantId::default_tenant());
    cfg.rules.insert(
        RuleId::ChargerOffline,
        RulePatch {
            threshold_s: Some(30),
            ..RulePatch::default()
        },
    );
    let patch = |t| RulePatch {
        threshold_s: Some(t),
        ..RulePatch::default()
    };
    cfg.overrides = vec![
        Override {
            scope: Scope::Charger {
                charger_id: "CP1".into(),
            },
            rule: RuleId::ChargerOffline,
            settings: patch(5),
        },
        Override {
            scope: Scope::Site {
                site_id: "S1".into(),
            },
            rule: RuleId::ChargerOffline,
            settings: patch(10),
        },
        Override {
            scope: Scope::Model {
                vendor: "V".into(),
                model: "M".into(),
            },
            rule: RuleId::ChargerOffline,
            settings: patch(20),
        },
    ];
    let at = |charger, site, model| {
        cfg.rule(
            RuleId::ChargerOffline,
            Subject {
                charger,
                site,
                model,
            },
        )
        .threshold_s
    };
    assert_eq!(at(Some("CP9"), None, None), 30);
    assert_eq!(at(Some("CP9"), None, Some(("V", "M"))), 20);
    assert_eq!(at(Some("CP9"), Some("S1"), Some(("V", "M"))), 10);
    assert_eq!(at(Some("CP1"), Some("S1"), Some(("V", "M"))), 5);
    assert!(cfg.validate().is_ok());
}

fn policy() -> EscalationPolicy {
    EscalationPolicy {
        tenant: TenantId::default_tenant(),
        id: "P".into(),
        name: "on call".into(),
        tiers: vec![
            Tier {
                channels: vec!["first".into()],
                delay_s: 600,
                business_hours: None,
            },
            Tier {
                channels: vec!["second".into()],
                delay_s: 900,
                business_hours: None,
            },
        ],
        repeats: 1,
        notify_updates: true,
    }
}

#[test]
fn an_unacknowledged_incident_escalates_tier_by_tier_then_repeats() {
    let p = policy();
    let mut e = Escalation::default();
    let first = p.start(&mut e, t0()).unwrap();
    assert_eq!(
        (first.tier, first.channels.as_slice()),
        (0, &["first".to_string()][..])
    );
    assert!(p.advance(&mut e, t0() + Duration::seconds(599)).is_none());
    let second = p.advance(&mut e, t0() + Duration::seconds(600)).unwrap();
    assert_eq!(second.tier, 1);
    let again = p.advance(&mut e, t0() + Duration::seconds(1500)).unwrap();
    assert!(again.repeat);
    assert!(p.advance(&mut e, t0() + Duration::seconds(9000)).is_none());
    assert_eq!(e.next_at, None);
}

#[test]
fn a_tier_with_business_hours_waits_for_the_opening() {
    let mut p = policy();
    p.tiers[0].business_hours = Some(BusinessHours {
        time_zone: "Europe/Berlin".into(),
        days: vec![
            Weekday::Mon,
            Weekday::Tue,
            Weekday::Wed,
            Weekday::Thu,
            Weekday::Fri,
        ],
        start: NaiveTime::from_hms_opt(8, 0, 0).unwrap(),
        end: NaiveTime::from_hms_opt(18, 0, 0).unwrap(),
    });
    // Tuesday 2026-12-01 20:00 Berlin = 19:00 UTC: closed until Wednesday 07:00 UTC.
    let evening = Utc.with_ymd_and_hms(2026, 12, 1, 19, 0, 0).unwrap();
    let mut e = Escalation::default();
    assert!(p.start(&mut e, evening).is_none());
    let opening = Utc.with_ymd_and_hms(2026, 12, 2, 7, 0, 0).unwrap();
    assert_eq!(e.next_at, Some(opening));
    let step = p.advance(&mut e, opening).unwrap();
    assert_eq!((step.tier, step.repeat), (0, false));
}

#[test]
fn a_weekly_window_covers_its_hours_in_the_sites_time_zone_across_midnight() {
    let w = MaintenanceWindow {
        tenant: TenantId::default_tenant(),
        id: "W".into(),
        scope: WindowScope::Site {
            site_id: "S1".into(),
        },
        time: WindowTime::Weekly {
            days: vec![Weekday::Tue],
            start: NaiveTime::from_hms_opt(23, 0, 0).unwrap(),
            duration_min: 120,
            time_zone: "Europe/Berlin".into(),
        },
        reason: None,
        created_at: t0(),
    };
    assert!(w.validate().is_ok());
    // Tuesday 23:30 Berlin (22:30 UTC) and Wednesday 00:30 Berlin are covered; 01:30 is not.
    let tue = Utc.with_ymd_and_hms(2026, 12, 1, 22, 30, 0).unwrap();
    assert!(w.covers(Some("CP1"), Some("S1"), tue));
    assert!(w.covers(None, Some("S1"), tue + Duration::hours(1)));
    assert!(!w.covers(None, Some("S1"), tue + Duration::hours(2)));
    assert!(!w.covers(Some("CP1"), Some("S2"), tue));
}

#[test]
fn notices_take_the_shapes_on_call_tools_expect() {
    let mut i = Incident::open(
        TenantId::default_tenant(),
        "I1".into(),
        RuleId::ConnectorFaulted,
        connector(),
        Some("S1".into()),
        Severity::Major,
        "CP1 connector 1 faulted".into(),
        "Faulted (GroundFailure)".into(),
        t0(),
    );
    let n = |i: &Incident, kind| Notice {
        event_id: "E1".into(),
        kind,
        tier: 0,
        at: t0(),
        incident: Summary::of(i),
    };
    let pd = webhook_body(&n(&i, NoticeKind::Triggered), Format::Pagerduty, Some("RK"));
    assert_eq!(pd["event_action"], "trigger");
    assert_eq!(pd["dedup_key"], "I1");
    assert_eq!(pd["routing_key"], "RK");
    assert_eq!(pd["payload"]["severity"], "error");
    assert_eq!(pd["payload"]["source"], "CP1");
    let am = webhook_body(&n(&i, NoticeKind::Triggered), Format::Alertmanager, None);
    assert_eq!(am["version"], "4");
    assert_eq!(am["status"], "firing");
    assert_eq!(am["alerts"][0]["labels"]["alertname"], "connector_faulted");
    assert!(i.resolve("system", "cleared".into(), t0() + Duration::minutes(5)));
    assert_eq!(i.state, IncidentState::Resolved);
    assert!(i.auto_resolved);
    let am = webhook_body(&n(&i, NoticeKind::Resolved), Format::Alertmanager, None);
    assert_eq!(am["status"], "resolved");
    let native = webhook_body(&n(&i, NoticeKind::Resolved), Format::Native, None);
    assert_eq!(native["type"], "incident.resolved");
    assert_eq!(native["event_id"], "E1");
    assert_eq!(i.time_to_resolve(), Some(Duration::minutes(5)));
}

#[test]
fn a_missed_target_is_marked_once() {
    let mut i = Incident::open(
        TenantId::default_tenant(),
        "I1".into(),
        RuleId::SiteOffline,
        Resource::Site {
            site_id: "S1".into(),
        },
        Some("S1".into()),
        Severity::Critical,
        "site down".into(),
        String::new(),
        t0(),
    );
    let t = AlertConfig::defaults(TenantId::default_tenant()).targets(Severity::Critical);
    assert_eq!(i.next_target(t), Some(t0() + Duration::minutes(15)));
    assert!(i.breaches(t, t0() + Duration::minutes(10)).is_empty());
    assert_eq!(i.breaches(t, t0() + Duration::minutes(16)), ["acknowledge"]);
    assert!(i.breaches(t, t0() + Duration::minutes(17)).is_empty());
    assert_eq!(i.next_target(t), Some(t0() + Duration::hours(4)));
}

fn event(body: crate::events::EventBody) -> crate::events::DomainEvent {
    crate::events::DomainEvent {
        id: "e".into(),
        tenant: TenantId::default_tenant(),
        occurred_at: t0(),
        body,
    }
}

#[test]
fn firmware_progress_is_quiet_a_failure_holds_and_an_install_clears() {
    use super::detect::findings;
    use crate::events::EventBody;
    let fw = |status: &str| {
        event(EventBody::ChargerFirmwareStatus {
            charger_id: crate::ChargerId::new("CP1").unwrap(),
            status: status.into(),
            request_id: Some(7),
            failed: super::signals::firmware_failed(status),
        })
    };
    for s in [
        "Downloading",
        "Downloaded",
        "Installing",
        "SignatureVerified",
    ] {
        assert!(findings(&fw(s), None, None).is_empty(), "{s}");
    }
    for (s, holds) in [
        ("DownloadFailed", true),
        ("InstallationFailed", true),
        ("InstallVerificationFailed", true),
        ("InvalidSignature", true),
        ("Installed", false),
    ] {
        let f = findings(&fw(s), None, None);
        assert_eq!(f.len(), 1, "{s}");
        assert_eq!(
            (f[0].rule, f[0].holds),
            (RuleId::FirmwareFailed, Some(holds))
        );
        assert!(f[0].detail.contains(s) && f[0].detail.contains('7'));
    }
    assert!(RuleId::FirmwareFailed.is_state());
}

#[test]
fn security_events_carry_their_severity_and_routine_ones_none() {
    use super::signals::security_severity;
    assert_eq!(
        security_severity("TamperDetectionActivated"),
        Some(Severity::Critical)
    );
    assert_eq!(
        security_severity("SecurityLogWasCleared"),
        Some(Severity::Major)
    );
    // Both versions' names of the same event.
    assert_eq!(
        security_severity("InvalidCsmsCertificate"),
        security_severity("InvalidCentralSystemCertificate")
    );
    for routine in [
        "StartupOfTheDevice",
        "ResetOrReboot",
        "FirmwareUpdated",
        "SettingSystemTime",
        "AVendorsOwnEvent",
    ] {
        assert_eq!(security_severity(routine), None, "{routine}");
    }
    let f = super::detect::findings(
        &event(crate::events::EventBody::ChargerSecurityEvent {
            charger_id: crate::ChargerId::new("CP1").unwrap(),
            event_type: "TamperDetectionActivated".into(),
            severity: "critical".into(),
            tech_info: Some("door".into()),
            reported_at: t0(),
        }),
        None,
        None,
    );
    assert_eq!(f[0].rule, RuleId::SecurityEvent);
    assert_eq!(f[0].holds, None);
    assert_eq!(f[0].severity, Some(Severity::Critical));
    assert_eq!(f[0].detail, "TamperDetectionActivated: door");
}

#[test]
fn only_commands_the_charger_refused_or_left_unanswered_count_as_failed() {
    use super::signals::command_failure;
    use crate::command::{CallErrorInfo, Command, CommandState};
    let base: Command = serde_json::from_value(serde_json::json!({
        "tenant": "default", "id": "c1", "charger": "CP1", "request": {"type": "clear_cache"},
        "ocpp_version": "1.6", "action": "ClearCache", "payload": {}, "state": "answered",
        "timeout_s": 30, "created_by": "k", "created_at": "2026-12-01T10:00:00Z"
    }))
    .unwrap();
    let with = |state: CommandState, status: Option<&str>| {
        let mut c = base.clone();
        c.state = state;
        c.status = status.map(str::to_string);
        c
    };
    for ok in [
        "Accepted",
        "Unlocked",
        "Scheduled",
        "NotSupported",
        "Unknown",
    ] {
        assert_eq!(
            command_failure(&with(CommandState::Answered, Some(ok))),
            None,
            "{ok}"
        );
    }
    for bad in ["Rejected", "Failed", "UnlockFailed"] {
        let f = command_failure(&with(CommandState::Answered, Some(bad)));
        assert_eq!(f, Some(("rejected", bad.to_string())));
    }
    let mut e = with(CommandState::Error, None);
    e.error = Some(CallErrorInfo {
        code: "NotImplemented".into(),
        description: "no".into(),
        details: serde_json::json!({}),
    });
    assert_eq!(command_failure(&e).unwrap().0, "error");
    assert_eq!(
        command_failure(&with(CommandState::TimedOut, None))
            .unwrap()
            .0,
        "timed_out"
    );
    // Never delivered (the charger was offline) is the offline rule's, not this one's.
    assert_eq!(command_failure(&with(CommandState::Failed, None)), None);
    assert_eq!(command_failure(&with(CommandState::Sent, None)), None);
}
