//! Detection: what a domain event says about the rules' conditions. Pure: the service adds what needs
//! a read (the vendor code table, the site, maintenance windows) and applies the findings to the
//! conditions.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;

use super::condition::Resource;
use super::rules::RuleId;
use crate::events::{DomainEvent, EventBody};
use crate::session::SessionStatus;
use crate::{ChargerId, charger::ConnectorStatus};

/// Energy below which an ended session counts as a failed start (Wh).
pub const FAILED_START_WH: i64 = 100;

/// What an event says about one condition.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    /// The rule.
    pub rule: RuleId,
    /// The resource.
    pub resource: Resource,
    /// A state rule: the condition holds or not. A counting rule: `None`, one occurrence.
    pub holds: Option<bool>,
    /// In words.
    pub detail: String,
    /// When (the charger's time where it said).
    pub at: DateTime<Utc>,
    /// Vendor and code, for the vendor code table.
    pub vendor_code: Option<(String, String)>,
    /// The severity the signal itself carries (a security event's), over the rule's.
    pub severity: Option<super::rules::Severity>,
}

impl Finding {
    fn state(
        rule: RuleId,
        resource: Resource,
        holds: bool,
        detail: String,
        at: DateTime<Utc>,
    ) -> Self {
        Finding {
            rule,
            resource,
            holds: Some(holds),
            detail,
            at,
            vendor_code: None,
            severity: None,
        }
    }

    fn occurrence(rule: RuleId, resource: Resource, detail: String, at: DateTime<Utc>) -> Self {
        Finding {
            rule,
            resource,
            holds: None,
            detail,
            at,
            vendor_code: None,
            severity: None,
        }
    }
}

fn charger(id: &ChargerId) -> Resource {
    Resource::Charger {
        charger_id: id.to_string(),
    }
}

/// The charger an event is about.
pub fn charger_of(ev: &DomainEvent) -> Option<ChargerId> {
    match &ev.body {
        EventBody::ChargerConnected { charger_id, .. }
        | EventBody::ChargerDisconnected { charger_id }
        | EventBody::ChargerBooted { charger_id, .. }
        | EventBody::ConnectorStatusChanged { charger_id, .. }
        | EventBody::ChargerNoncompliant { charger_id, .. }
        | EventBody::ChargerLimitsChanged { charger_id, .. }
        | EventBody::ChargerDeviceEvent { charger_id, .. }
        | EventBody::ChargerFirmwareStatus { charger_id, .. }
        | EventBody::ChargerSecurityEvent { charger_id, .. }
        | EventBody::ChargerCommandFailed { charger_id, .. }
        | EventBody::CommandEnded { charger_id, .. } => Some(charger_id.clone()),
        EventBody::IncidentChanged { .. }
        | EventBody::LocationChanged { .. }
        | EventBody::TariffChanged { .. }
        | EventBody::PartnerDeliveryFailing { .. } => None,
        EventBody::SessionStarted { session_id, .. }
        | EventBody::SessionMetered { session_id, .. }
        | EventBody::SessionEnded { session_id, .. }
        | EventBody::SessionAmended { session_id, .. }
        | EventBody::CdrCreated { session_id, .. } => Some(session_id.charger.clone()),
    }
}

/// The findings of `ev`; `vendor` is the charger's vendor (from its boot), for vendor codes that do not
/// name theirs; `evse_of_session` is the EVSE of the session an event names, where known.
pub fn findings(
    ev: &DomainEvent,
    vendor: Option<&str>,
    evse_of_session: Option<u32>,
) -> Vec<Finding> {
    let at = ev.occurred_at;
    match &ev.body {
        EventBody::ConnectorStatusChanged {
            charger_id,
            evse_id,
            connector_id,
            status,
            ocpp_status,
            error_code,
            info,
            vendor_id,
            vendor_error_code,
            reported_at,
            ..
        } => {
            let at = reported_at.unwrap_or(at);
            let resource = Resource::Connector {
                charger_id: charger_id.to_string(),
                evse_id: *evse_id,
                connector_id: *connector_id,
            };
            let code = error_code
                .as_deref()
                .filter(|c| !c.is_empty() && *c != "NoError");
            let faulted = *status == ConnectorStatus::Faulted || code.is_some();
            let mut detail = ocpp_status.clone();
            if let Some(c) = code {
                detail.push_str(&format!(" ({c})"));
            }
            if let Some(v) = vendor_error_code.as_deref().filter(|v| !v.is_empty()) {
                detail.push_str(&format!(", vendor code {v}"));
            }
            if let Some(i) = info.as_deref().filter(|i| !i.is_empty()) {
                detail.push_str(&format!(": {i}"));
            }
            let mut out = vec![
                Finding::state(
                    RuleId::ConnectorFaulted,
                    resource.clone(),
                    faulted,
                    detail.clone(),
                    at,
                ),
                Finding::state(
                    RuleId::PreparingTooLong,
                    resource.clone(),
                    ocpp_status == "Preparing",
                    detail.clone(),
                    at,
                ),
                Finding::state(
                    RuleId::EvseUnavailable,
                    resource.clone(),
                    *status == ConnectorStatus::Unavailable,
                    detail.clone(),
                    at,
                ),
            ];
            let vendor_code = vendor_error_code
                .as_deref()
                .filter(|v| !v.is_empty())
                .map(|c| {
                    let v = vendor_id
                        .as_deref()
                        .filter(|v| !v.is_empty())
                        .or(vendor)
                        .unwrap_or("");
                    (v.to_string(), c.to_string())
                });
            let mut f = Finding::state(
                RuleId::VendorError,
                resource,
                vendor_code.is_some(),
                detail,
                at,
            );
            f.vendor_code = vendor_code;
            out.push(f);
            out
        }
        EventBody::ChargerDeviceEvent {
            charger_id,
            evse_id,
            component,
            variable,
            actual_value,
            cleared,
            tech_code,
            reported_at,
            ..
        } => {
            let mut detail = format!("{component}.{variable} = {actual_value}");
            if let Some(c) = tech_code {
                detail.push_str(&format!(" (code {c})"));
            }
            vec![Finding::state(
                RuleId::ComponentProblem,
                Resource::Component {
                    charger_id: charger_id.to_string(),
                    evse_id: *evse_id,
                    component: component.clone(),
                },
                // A `Problem` variable reports its end as `false`, or with `cleared`.
                !(*cleared || variable == "Problem" && actual_value.eq_ignore_ascii_case("false")),
                detail,
                *reported_at,
            )]
        }
        EventBody::ChargerFirmwareStatus {
            charger_id,
            status,
            request_id,
            failed,
        } => {
            let installed = super::signals::firmware_installed(status);
            if !*failed && !installed {
                // Still under way.
                return Vec::new();
            }
            let detail = match request_id {
                Some(r) => format!("firmware update {r}: {status}"),
                None => format!("firmware update: {status}"),
            };
            vec![Finding::state(
                RuleId::FirmwareFailed,
                charger(charger_id),
                *failed,
                detail,
                at,
            )]
        }
        EventBody::ChargerSecurityEvent {
            charger_id,
            event_type,
            severity,
            tech_info,
            reported_at,
        } => {
            let mut detail = event_type.clone();
            if let Some(t) = tech_info.as_deref().filter(|t| !t.is_empty()) {
                detail.push_str(&format!(": {t}"));
            }
            let mut f = Finding::occurrence(
                RuleId::SecurityEvent,
                charger(charger_id),
                detail,
                *reported_at,
            );
            f.severity = super::rules::Severity::parse(severity);
            vec![f]
        }
        EventBody::ChargerCommandFailed {
            charger_id,
            command_id,
            action,
            outcome,
            detail,
            ..
        } => vec![Finding::occurrence(
            RuleId::CommandFailed,
            charger(charger_id),
            format!("{action} {command_id}: {outcome} ({detail})"),
            at,
        )],
        EventBody::ChargerConnected { charger_id, .. } => vec![Finding::state(
            RuleId::ChargerOffline,
            charger(charger_id),
            false,
            "connected".into(),
            at,
        )],
        EventBody::ChargerNoncompliant {
            charger_id, detail, ..
        } => vec![Finding::occurrence(
            RuleId::Noncompliant,
            charger(charger_id),
            detail.clone(),
            at,
        )],
        EventBody::SessionStarted {
            session_id,
            evse_id,
            ..
        } => vec![Finding::state(
            RuleId::SessionStuck,
            Resource::Connector {
                charger_id: session_id.charger.to_string(),
                evse_id: evse_id.or(evse_of_session).unwrap_or(0),
                connector_id: 0,
            },
            true,
            format!("session {} is active", session_id.transaction),
            at,
        )],
        EventBody::SessionEnded {
            session_id,
            status,
            energy_wh,
            stop_reason,
            ended_at,
            ..
        } => {
            let evse = evse_of_session.unwrap_or(0);
            let resource = Resource::Connector {
                charger_id: session_id.charger.to_string(),
                evse_id: evse,
                connector_id: 0,
            };
            let at = ended_at.unwrap_or(at);
            let mut out = vec![Finding::state(
                RuleId::SessionStuck,
                resource.clone(),
                false,
                format!("session {} ended", session_id.transaction),
                at,
            )];
            let little = energy_wh.is_none_or(|e| e < Decimal::from(FAILED_START_WH));
            if little && *status != SessionStatus::Active {
                out.push(Finding::occurrence(
                    RuleId::FailedStarts,
                    resource,
                    format!(
                        "session {} ended with {} Wh ({})",
                        session_id.transaction,
                        energy_wh.unwrap_or_default().round_dp(0),
                        stop_reason.as_deref().unwrap_or("no reason given")
                    ),
                    at,
                ));
            }
            out
        }
        EventBody::CdrCreated {
            cdr_id,
            session_id,
            review: true,
            ..
        } => vec![Finding::occurrence(
            RuleId::BillingReview,
            charger(&session_id.charger),
            format!(
                "CDR {cdr_id} of session {} needs review",
                session_id.transaction
            ),
            at,
        )],
        EventBody::PartnerDeliveryFailing {
            partner_id,
            module,
            object_id,
            attempts,
            outcome,
            error,
        } => vec![Finding::occurrence(
            RuleId::PartnerDelivery,
            Resource::Partner {
                partner_id: partner_id.clone(),
            },
            if outcome == "dead" {
                format!("{partner_id} refused {module} {object_id}: {error}")
            } else {
                format!(
                    "{partner_id} failed {attempts} times in a row to take {module} {object_id}: {error}"
                )
            },
            at,
        )],
        _ => Vec::new(),
    }
}
