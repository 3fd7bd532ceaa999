//! Which alerting records live in the document store, under which ids and in which secondary orders.
//! Every timer (a condition's, an incident's, a watch's, a delivery's retry) is the sort key of a sparse
//! `due` index, so the sweep reads only what is due.

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use cpms_domain::TenantId;
use cpms_domain::incidents::condition::Condition;
use cpms_domain::incidents::delivery::{Delivery, DeliveryState};
use cpms_domain::incidents::escalation::EscalationPolicy;
use cpms_domain::incidents::incident::Incident;
use cpms_domain::incidents::maintenance::{MaintenanceWindow, WindowScope};
use cpms_domain::incidents::notify::Channel;
use cpms_domain::incidents::remedy::RemedyBudget;
use cpms_domain::incidents::rules::{AlertConfig, VendorCode};
use cpms_domain::incidents::watch::Watch;

use crate::documents::{INDEX_SLOTS, IndexKey, Record};

/// Index slot of records by their next timer.
pub const ALERTS_DUE: usize = 0;
/// The one partition of that index.
pub const ALERT_DUE: &str = "due";
/// Index slot of incidents still open, and of deliveries by incident.
pub const ALERTS_BY: usize = 1;
/// Partition of open incidents.
pub const OPEN_INCIDENTS: &str = "open";
/// Id of a tenant's alert configuration.
pub const ALERT_CONFIG_ID: &str = "alerts";
/// How long resolved incidents and their deliveries are kept (days).
pub const INCIDENT_RETENTION_DAYS: i64 = 400;

/// The sort key of a due time (ids after `#` keep it unique).
pub fn due_key(at: DateTime<Utc>, id: &str) -> String {
    format!("{}#{id}", at.to_rfc3339_opts(SecondsFormat::Millis, true))
}

/// The upper bound of due keys at `now`.
pub fn due_until(now: DateTime<Utc>) -> String {
    format!("{}#~", now.to_rfc3339_opts(SecondsFormat::Millis, true))
}

fn due(at: Option<DateTime<Utc>>, id: &str) -> Option<IndexKey> {
    at.map(|t| IndexKey {
        partition: ALERT_DUE.into(),
        sort: due_key(t, id),
    })
}

/// Partition of a site's watches.
pub fn watches_of_site(site: &str) -> String {
    format!("site#{site}")
}

/// Partition of an incident's deliveries.
pub fn deliveries_of(incident: &str) -> String {
    format!("incident#{incident}")
}

/// Partition of dead-lettered deliveries.
pub const DEAD_DELIVERIES: &str = "dead";

/// Partition of the maintenance windows of a scope.
pub fn windows_of(scope: &WindowScope) -> String {
    match scope {
        WindowScope::Site { site_id } => format!("site#{site_id}"),
        WindowScope::Charger { charger_id } => format!("charger#{charger_id}"),
    }
}

impl Record for AlertConfig {
    const KIND: &'static str = "alert-config";
    fn tenant(&self) -> &TenantId {
        &self.tenant
    }
    fn id(&self) -> String {
        ALERT_CONFIG_ID.into()
    }
}

impl Record for VendorCode {
    const KIND: &'static str = "vendor-code";
    fn tenant(&self) -> &TenantId {
        &self.tenant
    }
    fn id(&self) -> String {
        Self::key(&self.vendor, &self.code)
    }
}

impl Record for Condition {
    const KIND: &'static str = "alert-condition";
    fn tenant(&self) -> &TenantId {
        &self.tenant
    }
    fn id(&self) -> String {
        Self::key(self.rule, &self.resource)
    }
    fn index(&self) -> [Option<IndexKey>; INDEX_SLOTS] {
        [due(self.due, &self.id()), None]
    }
    fn expires_at(&self) -> Option<DateTime<Utc>> {
        // A clear condition with nothing pending is forgotten after a while.
        (!self.active && self.incident.is_none() && self.due.is_none())
            .then(|| self.updated_at + Duration::days(30))
    }
}

impl Record for Incident {
    const KIND: &'static str = "incident";
    fn tenant(&self) -> &TenantId {
        &self.tenant
    }
    fn id(&self) -> String {
        self.id.clone()
    }
    fn index(&self) -> [Option<IndexKey>; INDEX_SLOTS] {
        let open = self.is_open().then(|| IndexKey {
            partition: OPEN_INCIDENTS.into(),
            sort: self.id.clone(),
        });
        [due(self.due, &self.id), open]
    }
    fn expires_at(&self) -> Option<DateTime<Utc>> {
        self.resolved_at
            .map(|t| t + Duration::days(INCIDENT_RETENTION_DAYS))
    }
}

impl Record for Watch {
    const KIND: &'static str = "charger-watch";
    fn tenant(&self) -> &TenantId {
        &self.tenant
    }
    fn id(&self) -> String {
        self.charger_id.clone()
    }
    fn index(&self) -> [Option<IndexKey>; INDEX_SLOTS] {
        let site = self.site_id.as_ref().map(|s| IndexKey {
            partition: watches_of_site(s),
            sort: self.charger_id.clone(),
        });
        [due(self.due, &self.charger_id), site]
    }
}

impl Record for Delivery {
    const KIND: &'static str = "alert-delivery";
    fn tenant(&self) -> &TenantId {
        &self.tenant
    }
    fn id(&self) -> String {
        self.id.clone()
    }
    fn index(&self) -> [Option<IndexKey>; INDEX_SLOTS] {
        let by = IndexKey {
            partition: if self.state == DeliveryState::Dead {
                DEAD_DELIVERIES.into()
            } else {
                deliveries_of(&self.incident_id)
            },
            sort: self.id.clone(),
        };
        let next = (self.state == DeliveryState::Pending)
            .then_some(self.next_at)
            .flatten();
        [due(next, &self.id), Some(by)]
    }
    fn expires_at(&self) -> Option<DateTime<Utc>> {
        (self.state != DeliveryState::Pending)
            .then(|| self.created_at + Duration::days(INCIDENT_RETENTION_DAYS))
    }
}

impl Record for Channel {
    const KIND: &'static str = "alert-channel";
    fn tenant(&self) -> &TenantId {
        &self.tenant
    }
    fn id(&self) -> String {
        self.id.clone()
    }
}

impl Record for EscalationPolicy {
    const KIND: &'static str = "escalation-policy";
    fn tenant(&self) -> &TenantId {
        &self.tenant
    }
    fn id(&self) -> String {
        self.id.clone()
    }
}

impl Record for MaintenanceWindow {
    const KIND: &'static str = "maintenance-window";
    fn tenant(&self) -> &TenantId {
        &self.tenant
    }
    fn id(&self) -> String {
        self.id.clone()
    }
    fn index(&self) -> [Option<IndexKey>; INDEX_SLOTS] {
        [
            None,
            Some(IndexKey {
                partition: windows_of(&self.scope),
                sort: self.id.clone(),
            }),
        ]
    }
    fn expires_at(&self) -> Option<DateTime<Utc>> {
        match &self.time {
            cpms_domain::incidents::maintenance::WindowTime::Once { end, .. } => {
                Some(*end + Duration::days(INCIDENT_RETENTION_DAYS))
            }
            _ => None,
        }
    }
}

impl Record for RemedyBudget {
    const KIND: &'static str = "remedy-budget";
    fn tenant(&self) -> &TenantId {
        &self.tenant
    }
    fn id(&self) -> String {
        Self::key(&self.charger_id, self.day)
    }
    fn expires_at(&self) -> Option<DateTime<Utc>> {
        self.day
            .and_hms_opt(0, 0, 0)
            .map(|t| t.and_utc() + Duration::days(2))
    }
}
