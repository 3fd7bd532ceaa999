//! Domain events, derived from a committed change (the record before and after), never written on their
//! own. The same functions serve the embedded store's outbox and, on AWS, the relay that reads the table's
//! stream, so both publish the same events. Event ids are deterministic: a change derived twice yields the
//! same ids, and consumers deduplicate on them.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::charger::{Charger, ConnectorStatus};
use crate::session::{Session, SessionStatus};
use crate::{ChargerId, SessionId, TenantId};

/// A domain event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DomainEvent {
    /// Deterministic id: consumers deduplicate on it.
    pub id: String,
    /// Owner.
    pub tenant: TenantId,
    /// When the change was made.
    pub occurred_at: DateTime<Utc>,
    /// What happened.
    #[serde(flatten)]
    pub body: EventBody,
}

/// What happened. The `type` names are versioned: a breaking change to a payload gets a new name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data")]
pub enum EventBody {
    /// A charger opened a connection.
    #[serde(rename = "charger.connected.v1")]
    ChargerConnected {
        /// The charger.
        charger_id: ChargerId,
        /// Negotiated version.
        ocpp_version: String,
    },
    /// A charger's connection closed.
    #[serde(rename = "charger.disconnected.v1")]
    ChargerDisconnected {
        /// The charger.
        charger_id: ChargerId,
    },
    /// A charger booted and got an answer.
    #[serde(rename = "charger.booted.v1")]
    ChargerBooted {
        /// The charger.
        charger_id: ChargerId,
        /// Vendor.
        vendor: String,
        /// Model.
        model: String,
        /// Firmware version.
        firmware_version: Option<String>,
        /// The answer (`accepted`, `pending`, `rejected`).
        registration: String,
    },
    /// A connector's status changed.
    #[serde(rename = "connector.status_changed.v1")]
    ConnectorStatusChanged {
        /// The charger.
        charger_id: ChargerId,
        /// EVSE.
        evse_id: u32,
        /// Connector.
        connector_id: u32,
        /// New normalized status.
        status: ConnectorStatus,
        /// Status as the charger sent it.
        ocpp_status: String,
        /// 1.6 error code.
        error_code: Option<String>,
        /// Previous normalized status, if known.
        previous: Option<ConnectorStatus>,
        /// 1.6 info.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        info: Option<String>,
        /// 1.6 vendorId.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        vendor_id: Option<String>,
        /// Vendor error code.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        vendor_error_code: Option<String>,
        /// When the charger says the status began.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reported_at: Option<DateTime<Utc>>,
    },
    /// Smart charging found a charger it cannot control: it refused a profile, or it draws above its
    /// limit. It is reserved at its rating (or what it draws) until it complies again.
    #[serde(rename = "charger.noncompliant.v1")]
    ChargerNoncompliant {
        /// The charger.
        charger_id: ChargerId,
        /// The EVSE, when one EVSE was seen over its limit.
        evse_id: Option<u32>,
        /// `profile_rejected` or `limit_ignored`.
        reason: String,
        /// In words.
        detail: String,
    },
    /// What constrains a charger's charging changed on the charger's side: a car's charging needs
    /// (2.0.1 NotifyEVChargingNeeds), a limit set by a local energy manager or the grid operator
    /// (NotifyChargingLimit) or its end (ClearedChargingLimit). Smart charging computes the site again.
    #[serde(rename = "charger.limits_changed.v1")]
    ChargerLimitsChanged {
        /// The charger.
        charger_id: ChargerId,
        /// The EVSE (0: the whole charger).
        evse_id: u32,
        /// `ev_charging_needs`, `charging_limit`, `charging_limit_cleared`, or `profile_answered` (a
        /// lower limit that higher ones on the site waited for was answered).
        reason: String,
    },
    /// A 2.0.1 component reported a problem, or that it cleared (NotifyEvent with a `Problem` variable
    /// or an `Alerting` trigger).
    #[serde(rename = "charger.device_event.v1")]
    ChargerDeviceEvent {
        /// The charger.
        charger_id: ChargerId,
        /// EVSE (0: the station).
        evse_id: u32,
        /// Connector (0: the EVSE).
        connector_id: u32,
        /// Component.
        component: String,
        /// Variable.
        variable: String,
        /// Its value.
        actual_value: String,
        /// The problem is gone.
        cleared: bool,
        /// Vendor code.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        tech_code: Option<String>,
        /// When the charger says it happened.
        reported_at: DateTime<Utc>,
    },
    /// A charger reported the progress of a firmware update (FirmwareStatusNotification, 1.6's
    /// SignedFirmwareStatusNotification); `failed` when it says the update failed.
    #[serde(rename = "charger.firmware_status.v1")]
    ChargerFirmwareStatus {
        /// The charger.
        charger_id: ChargerId,
        /// As reported (`Installed`, `InstallationFailed`, `InvalidSignature`, ...).
        status: String,
        /// The update request it belongs to (2.0.1, the 1.6 security extension).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        request_id: Option<i64>,
        /// The update failed.
        failed: bool,
    },
    /// A charger reported a security event (SecurityEventNotification) that calls for a look: tampering,
    /// a cleared security log, a bad firmware signature, a replay attempt, TLS or certificate trouble.
    /// Routine ones (start-up, reset, firmware updated) stay in the charger's log only.
    #[serde(rename = "charger.security_event.v1")]
    ChargerSecurityEvent {
        /// The charger.
        charger_id: ChargerId,
        /// The event type as reported (`TamperDetectionActivated`, ...).
        event_type: String,
        /// Its severity: `warning`, `major` or `critical`.
        severity: String,
        /// The charger's details.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        tech_info: Option<String>,
        /// When the charger says it happened.
        reported_at: DateTime<Utc>,
    },
    /// A command to a charger failed: it answered Rejected or Failed, with a CALLERROR, or not at all
    /// before its deadline.
    #[serde(rename = "charger.command_failed.v1")]
    ChargerCommandFailed {
        /// The charger.
        charger_id: ChargerId,
        /// The command.
        command_id: String,
        /// Its OCPP action.
        action: String,
        /// `rejected`, `error` or `timed_out`.
        outcome: String,
        /// The status, error code or reason.
        detail: String,
        /// Who asked (an API key id, `smart-charging`, `alerts`).
        created_by: String,
    },
    /// An incident opened, changed state, escalated or missed a target.
    #[serde(rename = "incident.changed.v1")]
    IncidentChanged {
        /// The incident.
        incident_id: String,
        /// Its rule.
        rule: String,
        /// Its resource (`charger:CP1`).
        resource: String,
        /// Its site.
        site_id: Option<String>,
        /// Its charger.
        charger_id: Option<String>,
        /// State now (`open`, `acknowledged`, `resolved`).
        state: String,
        /// Severity.
        severity: String,
        /// What changed: `opened`, `reopened`, `acknowledged`, `assigned`, `escalated`, `resolved`,
        /// `auto_resolved`, `target_breached`.
        change: String,
        /// `target_breached`: which target (`acknowledge`, `resolve`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        target: Option<String>,
    },
    /// What a site publishes as a location changed other than its live status: the site itself, or
    /// which chargers stand there and their EVSEs (roaming pushes the location again).
    #[serde(rename = "location.changed.v1")]
    LocationChanged {
        /// The site.
        site_id: String,
        /// The charger that came or left, when that is what changed.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        charger_id: Option<ChargerId>,
    },
    /// A tariff's terms changed, or which tariff a scope has (an assignment set or removed): roaming
    /// publishes its tariffs and the locations whose connectors name them again.
    #[serde(rename = "tariff.changed.v1")]
    TariffChanged {
        /// The tariff (for an assignment: the one assigned, or the one removed).
        tariff_id: String,
        /// The scope whose assignment changed (`default`, `site:ID`, `charger:ID`, `group:ID`,
        /// `partner:ID`); absent when the tariff itself changed.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        scope: Option<String>,
    },
    /// A command a roaming partner sent ended (answered, refused, failed or timed out): its result
    /// goes back to the partner.
    #[serde(rename = "command.ended.v1")]
    CommandEnded {
        /// The charger.
        charger_id: ChargerId,
        /// The command.
        command_id: String,
        /// Who sent it (`ocpi:{partner}`).
        created_by: String,
    },
    /// A roaming partner keeps failing to take what is pushed to it (it did not answer, or answered
    /// an error, this many times in a row), or refused an object as invalid.
    #[serde(rename = "partner.delivery_failing.v1")]
    PartnerDeliveryFailing {
        /// The partner (`NL-EXA`).
        partner_id: String,
        /// The module of the object.
        module: String,
        /// The object.
        object_id: String,
        /// Failed attempts in a row.
        attempts: u32,
        /// `retrying` (it will be sent again) or `dead` (set aside until a resync).
        outcome: String,
        /// The last error.
        error: String,
    },
    /// A session began.
    #[serde(rename = "session.started.v1")]
    SessionStarted {
        /// The session.
        session_id: SessionId,
        /// EVSE.
        evse_id: Option<u32>,
        /// Token.
        id_token: Option<String>,
        /// Start.
        started_at: Option<DateTime<Utc>>,
    },
    /// New meter data for a running session (smart charging follows these).
    #[serde(rename = "session.metered.v1")]
    SessionMetered {
        /// The session.
        session_id: SessionId,
        /// Energy so far (Wh).
        #[serde(with = "cpms_ocpp::number::option")]
        energy_wh: Option<Decimal>,
        /// Power (W).
        #[serde(with = "cpms_ocpp::number::option")]
        power_w: Option<Decimal>,
        /// State of charge (%).
        #[serde(with = "cpms_ocpp::number::option")]
        soc_percent: Option<Decimal>,
    },
    /// A session ended (billing prices it).
    #[serde(rename = "session.ended.v1")]
    SessionEnded {
        /// The session.
        session_id: SessionId,
        /// How it ended.
        status: SessionStatus,
        /// Start.
        started_at: Option<DateTime<Utc>>,
        /// End.
        ended_at: Option<DateTime<Utc>>,
        /// Energy (Wh).
        #[serde(with = "cpms_ocpp::number::option")]
        energy_wh: Option<Decimal>,
        /// Token.
        id_token: Option<String>,
        /// Reason.
        stop_reason: Option<String>,
    },
    /// An ended session changed (late meter values, a reconciled session whose real stop arrived):
    /// billing re-prices it and corrects its CDR.
    #[serde(rename = "session.amended.v1")]
    SessionAmended {
        /// The session.
        session_id: SessionId,
        /// Status now.
        status: SessionStatus,
        /// End now.
        ended_at: Option<DateTime<Utc>>,
        /// Energy now (Wh).
        #[serde(with = "cpms_ocpp::number::option")]
        energy_wh: Option<Decimal>,
        /// Meter samples stored for it now.
        sample_count: u32,
    },
    /// A CDR was made: a session priced, or a credit CDR cancelling an earlier one.
    #[serde(rename = "cdr.created.v1")]
    CdrCreated {
        /// The CDR.
        cdr_id: String,
        /// `regular` or `credit`.
        kind: String,
        /// A credit CDR: the CDR it cancels.
        credits: Option<String>,
        /// The session.
        session_id: SessionId,
        /// Who pays (`kind:id`).
        billed_party: String,
        /// Currency.
        currency: String,
        /// Total excluding VAT.
        #[serde(with = "cpms_ocpp::number")]
        total_excl_vat: Decimal,
        /// Total including VAT.
        #[serde(with = "cpms_ocpp::number")]
        total_incl_vat: Decimal,
        /// Marked for review.
        review: bool,
    },
}

impl EventBody {
    /// The event's type name (`session.ended.v1`, ...), as consumers subscribe to it.
    pub fn type_name(&self) -> &'static str {
        match self {
            EventBody::ChargerConnected { .. } => "charger.connected.v1",
            EventBody::ChargerDisconnected { .. } => "charger.disconnected.v1",
            EventBody::ChargerBooted { .. } => "charger.booted.v1",
            EventBody::ConnectorStatusChanged { .. } => "connector.status_changed.v1",
            EventBody::ChargerNoncompliant { .. } => "charger.noncompliant.v1",
            EventBody::ChargerLimitsChanged { .. } => "charger.limits_changed.v1",
            EventBody::ChargerDeviceEvent { .. } => "charger.device_event.v1",
            EventBody::ChargerFirmwareStatus { .. } => "charger.firmware_status.v1",
            EventBody::ChargerSecurityEvent { .. } => "charger.security_event.v1",
            EventBody::ChargerCommandFailed { .. } => "charger.command_failed.v1",
            EventBody::IncidentChanged { .. } => "incident.changed.v1",
            EventBody::LocationChanged { .. } => "location.changed.v1",
            EventBody::TariffChanged { .. } => "tariff.changed.v1",
            EventBody::CommandEnded { .. } => "command.ended.v1",
            EventBody::PartnerDeliveryFailing { .. } => "partner.delivery_failing.v1",
            EventBody::SessionStarted { .. } => "session.started.v1",
            EventBody::SessionMetered { .. } => "session.metered.v1",
            EventBody::SessionEnded { .. } => "session.ended.v1",
            EventBody::SessionAmended { .. } => "session.amended.v1",
            EventBody::CdrCreated { .. } => "cdr.created.v1",
        }
    }
}

/// Which consumer receives which event types: `events/catalog/routing.json`, which the stack's
/// EventBridge rules are made from; the in-process bus of `cpms serve` delivers by the same table.
pub const ROUTING_JSON: &str = include_str!("../../../events/catalog/routing.json");

static ROUTING: std::sync::LazyLock<std::collections::BTreeMap<String, Vec<String>>> =
    std::sync::LazyLock::new(|| serde_json::from_str(ROUTING_JSON).unwrap_or_default());

/// The event types `consumer` receives (per [`ROUTING_JSON`]); empty for an unknown consumer.
pub fn routed_to(consumer: &str) -> &'static [String] {
    ROUTING.get(consumer).map_or(&[], Vec::as_slice)
}

/// Whether `consumer` receives `ev` (per [`ROUTING_JSON`]).
pub fn is_routed(consumer: &str, ev: &DomainEvent) -> bool {
    routed_to(consumer).iter().any(|t| t == ev.body.type_name())
}

/// Whether a running session's new meter data is published (`session.metered.v1`). A MeterValues is most
/// of a charger's traffic, and each published event is paid for (EventBridge, SQS, a consumer run), so it
/// is published only where a consumer acts on live data: today the running cost of OCPP 2.0.1 sessions
/// (`CostUpdated`). For 1.6 sessions a meter value is published only when the draw changed
/// ([`draw_changed`]), which is what smart charging follows. Ends and amendments are always published.
pub fn publishes_live_meter(s: &Session) -> bool {
    s.ocpp_version == crate::OcppVersion::V201
}

/// Whether what a car draws changed enough for smart charging to look again: the current by 1 A or
/// more, the power by 10 % (at least 500 W), the phases it draws on, or a reading appearing. A steady
/// charge publishes nothing, so a 1.6 charger's MeterValues cost no event while nothing changes.
pub fn draw_changed(old: &crate::session::LatestMeter, new: &crate::session::LatestMeter) -> bool {
    let moved = |a: Option<Decimal>, b: Option<Decimal>, min: Decimal, share: Decimal| match (a, b)
    {
        (Some(a), Some(b)) => (a - b).abs() >= min.max(a.abs() * share),
        (None, None) => false,
        _ => true,
    };
    moved(old.current_a, new.current_a, Decimal::ONE, Decimal::ZERO)
        || moved(
            old.power_w,
            new.power_w,
            Decimal::from(500),
            Decimal::new(1, 1),
        )
        || old.current_phases != new.current_phases
}

/// The event a change to a site implies (its location changed).
pub fn for_site(s: &crate::site::Site) -> DomainEvent {
    DomainEvent {
        id: format!("site:{}:{}", s.id, s.updated_at.timestamp_millis()),
        tenant: s.tenant.clone(),
        occurred_at: s.updated_at,
        body: EventBody::LocationChanged {
            site_id: s.id.clone(),
            charger_id: None,
        },
    }
}

/// The event a change to a tariff's terms implies.
pub fn for_tariff(t: &crate::tariff::Tariff) -> DomainEvent {
    DomainEvent {
        id: format!("tariff:{}:{}", t.id, t.updated_at.timestamp_millis()),
        tenant: t.tenant.clone(),
        occurred_at: t.updated_at,
        body: EventBody::TariffChanged {
            tariff_id: t.id.clone(),
            scope: None,
        },
    }
}

/// The event a change to a scope's tariff assignment implies; `tariff_id` is the tariff assigned,
/// or the one that was when the assignment is removed.
pub fn for_assignment(a: &crate::billing::TariffAssignment, tariff_id: &str) -> DomainEvent {
    DomainEvent {
        id: format!(
            "tariff-assignment:{}:{}",
            a.scope,
            a.updated_at.timestamp_millis()
        ),
        tenant: a.tenant.clone(),
        occurred_at: a.updated_at,
        body: EventBody::TariffChanged {
            tariff_id: tariff_id.to_string(),
            scope: Some(a.scope.clone()),
        },
    }
}

/// The event a new CDR implies.
pub fn for_cdr(c: &crate::billing::Cdr) -> DomainEvent {
    DomainEvent {
        id: format!("cdr:{}", c.id),
        tenant: c.tenant.clone(),
        occurred_at: c.created_at,
        body: EventBody::CdrCreated {
            cdr_id: c.id.clone(),
            kind: match c.kind {
                crate::billing::CdrKind::Regular => "regular".into(),
                crate::billing::CdrKind::Credit => "credit".into(),
            },
            credits: c.credits.clone(),
            session_id: c.session_id.clone(),
            billed_party: c.billed_party.key(),
            currency: c.pricing.currency.clone(),
            total_excl_vat: c.pricing.total_cost.excl_vat,
            total_incl_vat: c.pricing.total_cost.incl(),
            review: c.review,
        },
    }
}

/// The events a change to a charger record implies.
pub fn for_charger(old: Option<&Charger>, new: &Charger) -> Vec<DomainEvent> {
    let mut out = Vec::new();
    let ev = |id: String, body| DomainEvent {
        id,
        tenant: new.tenant.clone(),
        occurred_at: new.updated_at,
        body,
    };
    // Where it stands and what it offers there: both sites' locations change (a new charger's site).
    let placed = match old {
        Some(o) => o.site_id != new.site_id || o.evses != new.evses,
        None => new.site_id.is_some(),
    };
    if placed {
        let mut sites: Vec<&String> = old
            .and_then(|o| o.site_id.as_ref())
            .into_iter()
            .chain(new.site_id.iter())
            .collect();
        sites.dedup();
        for site in sites {
            out.push(ev(
                format!(
                    "{}:placed:{site}:{}",
                    new.id,
                    new.updated_at.timestamp_millis()
                ),
                EventBody::LocationChanged {
                    site_id: site.clone(),
                    charger_id: Some(new.id.clone()),
                },
            ));
        }
    }
    let old_conn = old.and_then(|o| o.connection.as_ref());
    if new.connection.as_ref().map(|c| &c.id) != old_conn.map(|c| &c.id) {
        if let Some(c) = old_conn {
            out.push(ev(
                format!("{}:{}:disconnected", new.id, c.id),
                EventBody::ChargerDisconnected {
                    charger_id: new.id.clone(),
                },
            ));
        }
        if let Some(c) = &new.connection {
            out.push(ev(
                format!("{}:{}:connected", new.id, c.id),
                EventBody::ChargerConnected {
                    charger_id: new.id.clone(),
                    ocpp_version: c.version.label().to_string(),
                },
            ));
        }
    }
    if let Some(b) = &new.boot
        && old.and_then(|o| o.boot.as_ref()) != Some(b)
    {
        let at = b.at.unwrap_or(new.updated_at);
        out.push(ev(
            format!("{}:boot:{}", new.id, at.timestamp_millis()),
            EventBody::ChargerBooted {
                charger_id: new.id.clone(),
                vendor: b.vendor.clone(),
                model: b.model.clone(),
                firmware_version: b.firmware_version.clone(),
                registration: format!("{:?}", new.registration).to_lowercase(),
            },
        ));
    }
    if let Some(f) = &new.firmware
        && old.and_then(|o| o.firmware.as_ref()) != Some(f)
    {
        out.push(ev(
            format!(
                "{}:firmware:{}:{}",
                new.id,
                f.at.timestamp_millis(),
                f.status
            ),
            EventBody::ChargerFirmwareStatus {
                charger_id: new.id.clone(),
                status: f.status.clone(),
                request_id: f.request_id,
                failed: crate::incidents::signals::firmware_failed(&f.status),
            },
        ));
    }
    for c in &new.connectors {
        let before = old.and_then(|o| {
            o.connectors
                .iter()
                .find(|x| (x.evse_id, x.connector_id) == (c.evse_id, c.connector_id))
        });
        if before.is_some_and(|b| {
            b.ocpp_status == c.ocpp_status
                && b.error_code == c.error_code
                && b.vendor_error_code == c.vendor_error_code
        }) {
            continue;
        }
        out.push(ev(
            format!(
                "{}:{}:{}:{}:{}",
                new.id,
                c.evse_id,
                c.connector_id,
                c.reported_at.timestamp_millis(),
                c.ocpp_status
            ),
            EventBody::ConnectorStatusChanged {
                charger_id: new.id.clone(),
                evse_id: c.evse_id,
                connector_id: c.connector_id,
                status: c.status,
                ocpp_status: c.ocpp_status.clone(),
                error_code: c.error_code.clone(),
                previous: before.map(|b| b.status),
                info: c.info.clone(),
                vendor_id: c.vendor_id.clone(),
                vendor_error_code: c.vendor_error_code.clone(),
                reported_at: Some(c.reported_at),
            },
        ));
    }
    out
}

/// The events a change to a session implies.
pub fn for_session(old: Option<&Session>, new: &Session) -> Vec<DomainEvent> {
    let mut out = Vec::new();
    let ev = |id: String, body| DomainEvent {
        id,
        tenant: new.tenant.clone(),
        occurred_at: new.updated_at,
        body,
    };
    let token = new.id_token.as_ref().map(|t| t.value.clone());
    if new.start_reported && !old.is_some_and(|o| o.start_reported) {
        out.push(ev(
            format!("{}:started", new.id),
            EventBody::SessionStarted {
                session_id: new.id.clone(),
                evse_id: new.evse_id,
                id_token: token.clone(),
                started_at: new.started_at,
            },
        ));
    }
    if new.ended_at.is_none()
        && old.is_some_and(|o| {
            o.sample_count < new.sample_count
                && (publishes_live_meter(new) || draw_changed(&o.latest, &new.latest))
        })
    {
        out.push(ev(
            format!("{}:metered:{}", new.id, new.sample_count),
            EventBody::SessionMetered {
                session_id: new.id.clone(),
                energy_wh: new.energy_wh,
                power_w: new.latest.power_w,
                soc_percent: new.latest.soc_percent,
            },
        ));
    }
    if new.ended_at.is_some() && old.is_none_or(|o| o.ended_at.is_none()) {
        out.push(ev(
            format!("{}:ended", new.id),
            EventBody::SessionEnded {
                session_id: new.id.clone(),
                status: new.status,
                started_at: new.started_at,
                ended_at: new.ended_at,
                energy_wh: new.energy_wh,
                id_token: token,
                stop_reason: new.stop_reason.clone(),
            },
        ));
    }
    let amended = |o: &Session| {
        o.ended_at.is_some()
            && (o.ended_at != new.ended_at
                || o.energy_wh != new.energy_wh
                || o.meter_stop_wh != new.meter_stop_wh
                || o.sample_count != new.sample_count
                || o.status != new.status)
    };
    if new.ended_at.is_some() && old.is_some_and(amended) {
        out.push(ev(
            format!(
                "{}:amended:{}:{}:{}",
                new.id,
                new.sample_count,
                new.ended_at.map_or(0, |t| t.timestamp_millis()),
                new.energy_wh.unwrap_or_default().normalize()
            ),
            EventBody::SessionAmended {
                session_id: new.id.clone(),
                status: new.status,
                ended_at: new.ended_at,
                energy_wh: new.energy_wh,
                sample_count: new.sample_count,
            },
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use cpms_ocpp::OcppVersion;

    use super::*;
    use crate::charger::{Connection, StatusInput};

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2024, 5, 1, 12, 0, 0).unwrap()
    }

    #[test]
    fn connecting_and_status_changes_are_events_with_stable_ids() {
        let old = Charger::register(
            TenantId::default_tenant(),
            ChargerId::new("CP1").unwrap(),
            now(),
        );
        let mut new = old.clone();
        new.connection = Some(Connection {
            id: "c1".into(),
            version: OcppVersion::V16,
            connected_at: now(),
        });
        new.apply_status(
            StatusInput {
                evse_id: 1,
                connector_id: 1,
                ocpp_status: "Charging".into(),
                error_code: None,
                info: None,
                vendor_error_code: None,
                vendor_id: None,
                timestamp: Some(now()),
            },
            now(),
        );
        let evs = for_charger(Some(&old), &new);
        let types: Vec<_> = evs
            .iter()
            .map(|e| serde_json::to_value(e).unwrap()["type"].clone())
            .collect();
        assert_eq!(
            types,
            ["charger.connected.v1", "connector.status_changed.v1"]
        );
        assert_eq!(for_charger(Some(&old), &new), evs);
        assert!(for_charger(Some(&new), &new).is_empty());
    }

    #[test]
    fn events_read_back_what_they_write() {
        use crate::session::{EventKind, SessionEvent};
        let id = SessionId::new(ChargerId::new("CP1").unwrap(), "7");
        let old = Session::new(TenantId::default_tenant(), id, OcppVersion::V16, now());
        let mut new = old.clone();
        let ev = |kind| {
            let mut e = SessionEvent::new(kind, now(), kind as u64);
            e.evse = Some((1, 1));
            e.meter_wh = Some(Decimal::from(10));
            e
        };
        new.apply(&ev(EventKind::Started), now());
        let mut done = new.clone();
        done.apply(&ev(EventKind::Ended), now());
        let mut all = for_session(Some(&old), &new);
        all.extend(for_session(Some(&new), &done));
        assert_eq!(all.len(), 2);
        for e in all {
            let text = serde_json::to_string(&e).unwrap();
            let back: DomainEvent = serde_json::from_str(&text).unwrap();
            assert_eq!(back, e, "{text}");
        }
    }

    #[test]
    fn live_meter_data_is_published_only_where_a_consumer_acts_on_it() {
        use crate::meter::MeterSample;
        use crate::session::{EventKind, SessionEvent};
        for (version, published) in [(OcppVersion::V16, false), (OcppVersion::V201, true)] {
            // GIVEN a running session of `version`
            let id = SessionId::new(ChargerId::new("CP1").unwrap(), "7");
            let mut old = Session::new(TenantId::default_tenant(), id, version, now());
            let mut start = SessionEvent::new(EventKind::Started, now(), 1);
            start.evse = Some((1, 1));
            old.apply(&start, now());
            // WHEN meter values arrive
            let mut new = old.clone();
            let mut mv = SessionEvent::new(EventKind::Updated, now(), 2);
            mv.samples = vec![MeterSample::register_wh(now(), Decimal::from(500))];
            new.apply(&mv, now());
            // THEN a metered event follows only for 2.0.1 (running cost)
            let types: Vec<_> = for_session(Some(&old), &new)
                .iter()
                .map(|e| e.body.type_name())
                .collect();
            assert_eq!(
                types.contains(&"session.metered.v1"),
                published,
                "{version:?}"
            );
        }
        assert!(
            routed_to("billing")
                .iter()
                .any(|t| t == "session.metered.v1")
        );
        assert!(
            !routed_to("ocpi-push")
                .iter()
                .any(|t| t == "session.metered.v1")
        );
        assert!(routed_to("no-such-consumer").is_empty());
    }
}
