//! Notices of incidents to channels: who is told (the escalation policy's tier, or every channel when
//! the incident follows no policy), the delivery records written with the change (the outbox), and
//! their sending: a webhook signed with HMAC-SHA256, or an e-mail. A failed attempt is retried with a
//! growing delay; after the last it is dead-lettered. Every attempt is kept as the delivery log.

use std::time::Instant;

use backon::BackoffBuilder;
use chrono::{DateTime, Utc};
use cpms_domain::TenantId;
use cpms_domain::incidents::delivery::{Attempt, Delivery, DeliveryState};
use cpms_domain::incidents::escalation::EscalationPolicy;
use cpms_domain::incidents::incident::{EntryKind, Incident, SYSTEM};
use cpms_domain::incidents::notify::{
    Channel, Notice, NoticeKind, Summary, Target, email, webhook_body,
};
use cpms_ports::{Expected, StoreError};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::Csms;

/// Header carrying the signature: `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`.
pub const SIGNATURE_HEADER: &str = "x-cpms-signature";
/// Header carrying the notice's event id (receivers deduplicate on it).
pub const EVENT_ID_HEADER: &str = "x-cpms-event-id";

/// The signature header's value for `body` sent at `at` under `secret`.
pub fn sign(secret: &str, at: DateTime<Utc>, body: &[u8]) -> String {
    let t = at.timestamp();
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key");
    mac.update(t.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("t={t},v1={}", hex::encode(mac.finalize().into_bytes()))
}

/// When attempt `n` (1-based) of a delivery is retried: about 10 s, 30 s, 1.5 min, ... up to an hour.
fn retry_delay(n: usize) -> std::time::Duration {
    backon::ExponentialBuilder::default()
        .with_min_delay(std::time::Duration::from_secs(10))
        .with_factor(3.0)
        .with_max_delay(std::time::Duration::from_secs(3600))
        .with_jitter()
        .with_max_times(n)
        .build()
        .nth(n.saturating_sub(1))
        .unwrap_or(std::time::Duration::from_secs(3600))
}

/// How long the sweep leaves a new delivery to its first attempt (longer than a webhook may take).
const FIRST_ATTEMPT_GRACE: chrono::Duration = chrono::Duration::seconds(30);

impl Csms {
    /// The deliveries of a notice of `kind` about `i` (which records them on its timeline).
    pub(crate) async fn notices(
        &self,
        i: &mut Incident,
        kind: NoticeKind,
        now: DateTime<Utc>,
    ) -> Result<Vec<Delivery>, StoreError> {
        let policy = match &i.escalation.policy {
            Some(id) => self
                .alert_records::<EscalationPolicy>()
                .get(&i.tenant, id)
                .await?
                .map(|v| v.value),
            None => None,
        };
        let (channels, tier) = match (&policy, kind) {
            (Some(p), NoticeKind::Triggered) => match p.start(&mut i.escalation, now) {
                Some(step) => (step.channels, step.tier),
                None => {
                    i.log(
                        now,
                        EntryKind::Notification,
                        "the first tier is outside its business hours: it is told when they begin"
                            .into(),
                        SYSTEM,
                    );
                    return Ok(Vec::new());
                }
            },
            (Some(p), _) if !p.notify_updates => return Ok(Vec::new()),
            (Some(p), _) => {
                let mut ids: Vec<String> = p
                    .tiers
                    .iter()
                    .take(i.escalation.tier + 1)
                    .flat_map(|t| t.channels.iter().cloned())
                    .collect();
                ids.sort();
                ids.dedup();
                (ids, i.escalation.tier)
            }
            (None, _) => (
                self.alert_records::<Channel>()
                    .all(&i.tenant)
                    .await?
                    .into_iter()
                    .map(|c| c.id)
                    .collect(),
                0,
            ),
        };
        Ok(self.deliveries_to(i, kind, tier, channels, now))
    }

    /// Deliveries of one notice to `channels`, recorded on `i`.
    pub(crate) fn deliveries_to(
        &self,
        i: &mut Incident,
        kind: NoticeKind,
        tier: usize,
        channels: Vec<String>,
        now: DateTime<Utc>,
    ) -> Vec<Delivery> {
        if channels.is_empty() {
            return Vec::new();
        }
        let seq = i.escalation.sent;
        i.escalation.sent += 1;
        i.log(
            now,
            EntryKind::Notification,
            format!(
                "{} notice to tier {} ({})",
                match kind {
                    NoticeKind::Triggered => "opened",
                    NoticeKind::Escalated => "escalation",
                    NoticeKind::Acknowledged => "acknowledged",
                    NoticeKind::Resolved => "resolved",
                    NoticeKind::Test => "test",
                },
                tier + 1,
                channels.join(", ")
            ),
            SYSTEM,
        );
        let summary = Summary::of(i);
        channels
            .into_iter()
            .map(|ch| {
                let id = format!("{}:{seq}:{ch}", i.id);
                Delivery {
                    tenant: i.tenant.clone(),
                    id: id.clone(),
                    incident_id: i.id.clone(),
                    channel_id: ch,
                    notice: Notice {
                        event_id: id,
                        kind,
                        tier,
                        at: now,
                        incident: summary.clone(),
                    },
                    state: DeliveryState::Pending,
                    attempts: Vec::new(),
                    // The first attempt is made right after the commit; the sweep retries only
                    // one that attempt never recorded (the process stopped), so that it does not
                    // send the notice a second time while the first is on its way.
                    next_at: Some(now + FIRST_ATTEMPT_GRACE),
                    created_at: now,
                }
            })
            .collect()
    }

    /// Sends a delivery once and records the attempt (failures are logged: the sweep retries it).
    pub(crate) async fn deliver_notice(&self, d: Delivery) {
        let id = d.id.clone();
        if let Err(e) = self.attempt(d).await {
            tracing::warn!(error = %e, delivery = %id, "a notification attempt could not be recorded");
        }
    }

    /// One attempt of `d`, recorded; the delivery as it is now.
    pub(crate) async fn attempt(&self, d: Delivery) -> Result<Delivery, StoreError> {
        let docs = self.alert_records::<Delivery>();
        let Some(read) = docs.get(&d.tenant, &d.id).await? else {
            return Ok(d);
        };
        let mut d = read.value;
        if d.state != DeliveryState::Pending {
            return Ok(d);
        }
        let channel = self
            .alert_records::<Channel>()
            .get(&d.tenant, &d.channel_id)
            .await?
            .map(|v| v.value);
        let now = self.now();
        let started = Instant::now();
        let outcome = match &channel {
            None => Err((None, format!("channel {} no longer exists", d.channel_id))),
            Some(ch) => self.send(ch, &d.notice, now).await,
        };
        let ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let attempt = match &outcome {
            Ok(status) => Attempt {
                at: now,
                ok: true,
                status: *status,
                error: None,
                ms,
            },
            Err((status, e)) => Attempt {
                at: now,
                ok: false,
                status: *status,
                error: Some(e.clone()),
                ms,
            },
        };
        let n = d.attempts.len() + 1;
        let retry =
            now + chrono::Duration::from_std(retry_delay(n)).unwrap_or(chrono::Duration::hours(1));
        d.record(attempt, retry);
        let outcome_label = match d.state {
            DeliveryState::Delivered => "delivered",
            DeliveryState::Dead => "dead",
            DeliveryState::Pending => "retry",
        };
        metrics::counter!("cpms_notifications_total", "outcome" => outcome_label).increment(1);
        if d.state == DeliveryState::Dead {
            tracing::error!(delivery = %d.id, channel = %d.channel_id, "a notification was dead-lettered after every attempt failed");
        }
        match docs.put(&d, Expected::Version(read.version)).await {
            Ok(_) | Err(StoreError::Conflict) => Ok(d),
            Err(e) => Err(e),
        }
    }

    /// Sends `n` over `ch`: the receiver's HTTP status, or why it failed.
    async fn send(
        &self,
        ch: &Channel,
        n: &Notice,
        now: DateTime<Utc>,
    ) -> Result<Option<u16>, (Option<u16>, String)> {
        match &ch.target {
            Target::Webhook {
                url,
                format,
                routing_key,
            } => {
                let body = webhook_body(n, *format, routing_key.as_deref());
                let body = serde_json::to_vec(&body).map_err(|e| (None, e.to_string()))?;
                let headers = vec![
                    (SIGNATURE_HEADER.to_string(), sign(&ch.secret, now, &body)),
                    (EVENT_ID_HEADER.to_string(), n.event_id.clone()),
                ];
                match self.notifier.post(url, &body, &headers).await {
                    Ok(s) => Ok(Some(s)),
                    Err(cpms_ports::NotifyError::Status(s)) => {
                        Err((Some(s), format!("the receiver answered {s}")))
                    }
                    Err(e) => Err((None, e.to_string())),
                }
            }
            Target::Email { to } => {
                let (subject, text) = email(n);
                self.notifier
                    .mail(to, &subject, &text, &n.event_id)
                    .await
                    .map(|()| None)
                    .map_err(|e| (None, e.to_string()))
            }
        }
    }

    /// A test notice to one channel, sent at once; the delivery with its attempt.
    pub async fn test_notice(
        &self,
        tenant: &TenantId,
        channel: &Channel,
    ) -> Result<Delivery, StoreError> {
        let now = self.now();
        let id = format!(
            "test-{}",
            cpms_domain::ids::time_ordered_id(now, rand::random())
        );
        let mut i = Incident::open(
            tenant.clone(),
            id.clone(),
            cpms_domain::incidents::rules::RuleId::ConnectorFaulted,
            cpms_domain::incidents::condition::Resource::Charger {
                charger_id: "TEST".into(),
            },
            None,
            cpms_domain::incidents::rules::Severity::Info,
            "Test notification from the CPMS".into(),
            "This is a test: nothing is wrong.".into(),
            now,
        );
        let d = self
            .deliveries_to(&mut i, NoticeKind::Test, 0, vec![channel.id.clone()], now)
            .remove(0);
        self.alert_records::<Delivery>()
            .put(&d, Expected::Absent)
            .await?;
        self.attempt(d).await
    }
}
