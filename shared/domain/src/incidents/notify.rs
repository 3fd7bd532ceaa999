//! Notification channels and what they are sent: a webhook (JSON in the CSMS's own shape, or shaped
//! like PagerDuty Events v2 or the Prometheus Alertmanager webhook so existing on-call tools take it),
//! or e-mail. Every notice carries an event id receivers deduplicate on: delivery is at least once.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::incident::{Incident, IncidentState};
use super::rules::Severity;
use crate::{DomainError, TenantId};

/// The body shape of a webhook.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    /// The CSMS's own JSON.
    #[default]
    Native,
    /// PagerDuty Events API v2 (`routing_key`, `event_action`, `dedup_key`, `payload`).
    Pagerduty,
    /// Prometheus Alertmanager webhook (`version` 4, `status`, `alerts`).
    Alertmanager,
}

/// Where a channel delivers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Target {
    /// An HTTP(S) endpoint that receives a POST, signed with HMAC-SHA256 of the channel's secret.
    Webhook {
        /// The URL.
        url: String,
        /// The body shape.
        #[serde(default)]
        format: Format,
        /// PagerDuty: the integration's routing key.
        #[serde(default)]
        routing_key: Option<String>,
    },
    /// E-mail over the installation's SMTP server.
    Email {
        /// Recipients.
        to: Vec<String>,
    },
}

/// A notification channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Channel {
    /// Owner.
    #[schemars(skip)]
    pub tenant: TenantId,
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Where.
    pub target: Target,
    /// The webhook signing secret (never shown again after creation).
    #[serde(default)]
    #[schemars(skip)]
    pub secret: String,
    /// Created.
    pub created_at: DateTime<Utc>,
}

impl Channel {
    /// Checks the values.
    pub fn validate(&self) -> Result<(), DomainError> {
        let bad = |field, reason: &str| {
            Err(DomainError::Invalid {
                field,
                reason: reason.into(),
            })
        };
        if self.name.is_empty() || self.name.len() > 100 {
            return bad("name", "1 to 100 characters");
        }
        match &self.target {
            Target::Webhook {
                url,
                format,
                routing_key,
            } => {
                let ok = (url.starts_with("https://") || url.starts_with("http://"))
                    && url.len() <= 2000
                    && !url.chars().any(|c| c.is_whitespace() || c.is_control());
                if !ok {
                    return bad("target.url", "an http(s) URL of at most 2000 characters");
                }
                if *format == Format::Pagerduty && routing_key.as_deref().is_none_or(str::is_empty)
                {
                    return bad("target.routing_key", "PagerDuty needs a routing key");
                }
            }
            Target::Email { to } => {
                if to.is_empty() || to.len() > 20 {
                    return bad("target.to", "one to twenty addresses");
                }
                let plausible = |a: &String| {
                    a.len() <= 254
                        && a.split_once('@').is_some_and(|(l, d)| {
                            !l.is_empty() && d.contains('.') && !a.contains(char::is_whitespace)
                        })
                };
                if !to.iter().all(plausible) {
                    return bad("target.to", "not an e-mail address");
                }
            }
        }
        Ok(())
    }
}

/// Why a notice is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum NoticeKind {
    /// An incident opened (or reopened).
    Triggered,
    /// Nobody acknowledged: the next tier, or the last again.
    Escalated,
    /// Someone acknowledged it.
    Acknowledged,
    /// It resolved.
    Resolved,
    /// A test from the API.
    Test,
}

/// A notice about an incident.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Notice {
    /// Unique per notice and channel: receivers deduplicate on it.
    pub event_id: String,
    /// Why.
    pub kind: NoticeKind,
    /// The tier it goes to.
    pub tier: usize,
    /// When.
    pub at: DateTime<Utc>,
    /// The incident.
    pub incident: Summary,
}

/// What a notice tells of an incident.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Summary {
    /// Id.
    pub id: String,
    /// Rule.
    pub rule: String,
    /// State.
    pub state: IncidentState,
    /// Severity.
    pub severity: Severity,
    /// Title.
    pub title: String,
    /// Last signal.
    pub detail: String,
    /// Resource key (`charger:CP1`).
    pub resource: String,
    /// Site.
    pub site_id: Option<String>,
    /// Charger.
    pub charger_id: Option<String>,
    /// Site incidents: chargers attached.
    pub chargers: Vec<String>,
    /// Who fixes it.
    pub responsible: Option<String>,
    /// Opened.
    pub opened_at: DateTime<Utc>,
    /// Resolved.
    pub resolved_at: Option<DateTime<Utc>>,
}

impl Summary {
    /// The summary of `i`.
    pub fn of(i: &Incident) -> Self {
        Summary {
            id: i.id.clone(),
            rule: i.rule.name().into(),
            state: i.state,
            severity: i.severity,
            title: i.title.clone(),
            detail: i.detail.clone(),
            resource: i.resource.key(),
            site_id: i.site_id.clone(),
            charger_id: i.resource.charger().map(str::to_string),
            chargers: i.chargers.clone(),
            responsible: i.responsible.clone(),
            opened_at: i.opened_at,
            resolved_at: i.resolved_at,
        }
    }
}

/// The body of a webhook of `format`.
pub fn webhook_body(n: &Notice, format: Format, routing_key: Option<&str>) -> Value {
    let i = &n.incident;
    match format {
        Format::Native => json!({
            "event_id": n.event_id,
            "type": format!("incident.{}", match n.kind {
                NoticeKind::Triggered => "triggered",
                NoticeKind::Escalated => "escalated",
                NoticeKind::Acknowledged => "acknowledged",
                NoticeKind::Resolved => "resolved",
                NoticeKind::Test => "test",
            }),
            "tier": n.tier,
            "at": n.at,
            "incident": i,
        }),
        Format::Pagerduty => {
            let action = match n.kind {
                NoticeKind::Acknowledged => "acknowledge",
                NoticeKind::Resolved => "resolve",
                _ => "trigger",
            };
            let severity = match i.severity {
                Severity::Critical => "critical",
                Severity::Major => "error",
                Severity::Warning => "warning",
                Severity::Info => "info",
            };
            json!({
                "routing_key": routing_key.unwrap_or_default(),
                "event_action": action,
                "dedup_key": i.id,
                "payload": {
                    "summary": truncate(&i.title, 1024),
                    "source": i.charger_id.clone().or(i.site_id.clone()).unwrap_or_else(|| i.resource.clone()),
                    "severity": severity,
                    "timestamp": n.at,
                    "component": i.resource,
                    "group": i.site_id,
                    "class": i.rule,
                    "custom_details": {
                        "event_id": n.event_id,
                        "detail": i.detail,
                        "tier": n.tier,
                        "chargers": i.chargers,
                        "responsible": i.responsible,
                    }
                }
            })
        }
        Format::Alertmanager => {
            let status = if i.state == IncidentState::Resolved {
                "resolved"
            } else {
                "firing"
            };
            let labels = json!({
                "alertname": i.rule,
                "severity": i.severity.name(),
                "resource": i.resource,
                "site": i.site_id,
                "charger": i.charger_id,
                "incident": i.id,
            });
            json!({
                "version": "4",
                "groupKey": format!("{{}}:{{incident=\"{}\"}}", i.id),
                "truncatedAlerts": 0,
                "status": status,
                "receiver": "cpms",
                "groupLabels": {"incident": i.id},
                "commonLabels": labels,
                "commonAnnotations": {"summary": i.title, "description": i.detail},
                "externalURL": "",
                "alerts": [{
                    "status": status,
                    "labels": labels,
                    "annotations": {"summary": i.title, "description": i.detail, "event_id": n.event_id},
                    "startsAt": i.opened_at,
                    "endsAt": i.resolved_at.map_or(Value::from("0001-01-01T00:00:00Z"), |t| json!(t)),
                    "generatorURL": "",
                    "fingerprint": i.id,
                }]
            })
        }
    }
}

/// The subject and text of an e-mail.
pub fn email(n: &Notice) -> (String, String) {
    let i = &n.incident;
    let what = match n.kind {
        NoticeKind::Triggered => "Incident",
        NoticeKind::Escalated => "Escalated",
        NoticeKind::Acknowledged => "Acknowledged",
        NoticeKind::Resolved => "Resolved",
        NoticeKind::Test => "Test",
    };
    let subject = truncate(
        &format!("[{}] {what}: {}", i.severity.name().to_uppercase(), i.title),
        200,
    );
    let mut body = format!(
        "{}\n\n{}\n\nIncident: {}\nRule: {}\nResource: {}\nState: {}\nOpened: {}\n",
        i.title,
        i.detail,
        i.id,
        i.rule,
        i.resource,
        i.state.name(),
        i.opened_at.to_rfc3339()
    );
    if let Some(s) = &i.site_id {
        body.push_str(&format!("Site: {s}\n"));
    }
    if !i.chargers.is_empty() {
        body.push_str(&format!("Chargers: {}\n", i.chargers.join(", ")));
    }
    body.push_str(&format!("Event id: {}\n", n.event_id));
    (subject, body)
}

fn truncate(s: &str, max: usize) -> String {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_string()
}
