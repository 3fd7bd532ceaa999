//! Sending what is queued to a partner: in the partner's order, one worker per partner at a time (a
//! lease in the store, so two consumers or a consumer and the sweep do not interleave), each object as
//! it is when sent. A partner that does not answer or answers a server error is retried with backoff
//! and its later objects wait behind (order holds); an object it refuses as invalid is set aside as
//! dead (kept, listed, queued again by a resync), and the rest goes on. A refused EVSE status PATCH
//! (the partner does not know the location) becomes a PUT of the whole location. Every attempt goes to
//! the delivery log.

use std::time::Duration;

use backon::BackoffBuilder;
use cpms_domain::TenantId;
use cpms_domain::events::{DomainEvent, EventBody};
use cpms_domain::ids::time_ordered_id;
use cpms_domain::roaming::{
    Partner, Published, PushAction, PushAttempt, PushJob, PushLease, RoamingSettings,
};
use cpms_ocpi::headers::PartyRef;
use cpms_ocpi::versions::VersionNumber;
use cpms_ports::partner_client::Method;
use cpms_ports::roaming_records::{PUSH_DUE, PUSH_DUE_LIST, PUSH_QUEUE, due_until, push_queue};
use cpms_ports::{Documents, Expected, PageRequest, StoreError};
use serde_json::{Value, json};

use crate::client::Target;
use crate::publish::LOCATIONS;
use crate::{CallError, Roaming, RoamingError};

/// How long a worker holds a partner's queue before another may take it over.
const LEASE: chrono::Duration = chrono::Duration::seconds(60);

/// The most objects one run sends to a partner (the sweep carries on).
const MAX_PER_RUN: usize = 500;

/// After this many failed attempts in a row the partner counts as failing (logged as an error).
pub const FAILING_AFTER: u32 = 5;

/// When attempt `n` (1-based) is retried: about 2 s, 5 s, 12 s, 30 s, ... (each with up to as much
/// again of jitter) up to 30 minutes; an object is never given up for not being answered (a CDR must
/// arrive).
fn retry_delay(n: u32) -> Duration {
    let n = n.max(1) as usize;
    backon::ExponentialBuilder::default()
        .with_min_delay(Duration::from_secs(2))
        .with_factor(2.5)
        .with_max_delay(Duration::from_secs(1800))
        .with_jitter()
        .with_max_times(n)
        .build()
        .nth(n - 1)
        .unwrap_or(Duration::from_secs(1800))
}

/// `partner.delivery_failing.v1` of a job that keeps failing (`retrying`) or was refused (`dead`),
/// for the `partner_delivery` alert rule.
fn failing(j: &PushJob, outcome: &str, now: chrono::DateTime<chrono::Utc>) -> DomainEvent {
    DomainEvent {
        id: format!("partner:{}:failing:{}:{}", j.partner, j.id(), j.attempts),
        tenant: j.tenant.clone(),
        occurred_at: now,
        body: EventBody::PartnerDeliveryFailing {
            partner_id: j.partner.clone(),
            module: j.module.clone(),
            object_id: j.object_id.clone(),
            attempts: j.attempts,
            outcome: outcome.into(),
            error: j
                .last_error
                .clone()
                .unwrap_or_default()
                .chars()
                .take(300)
                .collect(),
        },
    }
}

/// What one run for a partner did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Sent {
    /// Objects the partner took.
    pub delivered: usize,
    /// Attempts that failed (to be retried).
    pub failed: usize,
    /// Objects set aside as dead.
    pub dead: usize,
}

impl Roaming {
    async fn lease(&self, tenant: &TenantId, partner: &str) -> Result<bool, StoreError> {
        let leases = self.records::<PushLease>();
        let now = self.now();
        let read = leases.get(tenant, partner).await?;
        if read.as_ref().is_some_and(|l| l.value.until > now) {
            return Ok(false);
        }
        let lease = PushLease {
            tenant: tenant.clone(),
            partner: partner.to_string(),
            until: now + LEASE,
        };
        match leases.put(&lease, Expected::from_read(&read)).await {
            Ok(_) => Ok(true),
            Err(StoreError::Conflict) => Ok(false),
            Err(e) => Err(e),
        }
    }

    async fn release(&self, tenant: &TenantId, partner: &str) {
        if let Err(e) = self.records::<PushLease>().delete(tenant, partner).await {
            tracing::warn!(partner, error = %e, "cannot release a push lease (it expires)");
        }
    }

    /// Sends what is due for `partner`, unless another worker is at it.
    pub async fn deliver(&self, tenant: &TenantId, partner: &str) -> Result<Sent, RoamingError> {
        if !self.lease(tenant, partner).await? {
            return Ok(Sent::default());
        }
        let r = self.deliver_leased(tenant, partner).await;
        self.release(tenant, partner).await;
        r
    }

    async fn deliver_leased(&self, tenant: &TenantId, partner: &str) -> Result<Sent, RoamingError> {
        let mut sent = Sent::default();
        let Some(p) = self.partner(tenant, partner).await? else {
            return Ok(sent);
        };
        let p = p.value;
        let Some(settings) = self.settings(tenant).await? else {
            return Ok(sent);
        };
        let jobs = self.records::<PushJob>();
        let started = std::time::Instant::now();
        while sent.delivered + sent.dead < MAX_PER_RUN {
            if started.elapsed() > Duration::from_secs(40) {
                break; // within the lease
            }
            let q = Documents::<PushJob>::by_index(
                PUSH_QUEUE,
                push_queue(partner),
                PageRequest::first(50),
            );
            let page = jobs.query(tenant, &q).await?;
            let Some(job) = page.items.into_iter().find(|j| !j.value.dead) else {
                break;
            };
            let now = self.now();
            if job.value.next_at > now {
                break; // the first in order waits: so do the rest
            }
            let outcome = self.send_one(&settings, &p, &job.value).await;
            let attempt_no = job.value.attempts + 1;
            match outcome {
                Ok(()) => {
                    sent.delivered += 1;
                    // A change queued while this was on its way moved the revision: send again.
                    match jobs.delete_if(tenant, &job.value.id(), job.version).await {
                        Ok(_) | Err(StoreError::Conflict) => {}
                        Err(e) => return Err(e.into()),
                    }
                }
                Err(e) if e.is_retryable() => {
                    sent.failed += 1;
                    let mut j = job.value.clone();
                    j.attempts = attempt_no;
                    j.next_at =
                        now + chrono::Duration::from_std(retry_delay(attempt_no)).unwrap_or(LEASE);
                    j.last_error = Some(e.to_string());
                    let mut events = Vec::new();
                    if attempt_no == FAILING_AFTER {
                        tracing::error!(tenant = tenant.as_str(), partner, error = %e, "pushes to the partner keep failing");
                        events.push(failing(&j, "retrying", now));
                    }
                    let _ = jobs
                        .put_with_events(&j, Expected::Version(job.version), events)
                        .await;
                    break;
                }
                Err(e) => {
                    let mut j = job.value.clone();
                    if let PushAction::PatchEvse { .. } = j.action {
                        // It does not know the location (or the EVSE): send the whole location.
                        let _ = jobs.delete_if(tenant, &j.id(), job.version).await;
                        self.enqueue(tenant, partner, LOCATIONS, &j.object_id, PushAction::Put)
                            .await?;
                        continue;
                    }
                    sent.dead += 1;
                    j.attempts = attempt_no;
                    j.dead = true;
                    j.last_error = Some(e.to_string());
                    tracing::warn!(tenant = tenant.as_str(), partner, module = %j.module, object = %j.object_id, error = %e, "the partner refused an object: set aside");
                    let events = vec![failing(&j, "dead", now)];
                    let _ = jobs
                        .put_with_events(&j, Expected::Version(job.version), events)
                        .await;
                }
            }
        }
        Ok(sent)
    }

    /// Sends one queued object as it is now, and logs the attempt.
    async fn send_one(
        &self,
        settings: &RoamingSettings,
        p: &Partner,
        job: &PushJob,
    ) -> Result<(), CallError> {
        let tenant = &p.tenant;
        let commands = job.module == crate::commands::COMMANDS;
        let Some(base) = p
            .endpoint(&job.module, "RECEIVER")
            .or(commands.then_some(""))
        else {
            return Err(CallError::Refused {
                http: 0,
                code: 3003,
                message: Some(format!("the partner has no {} receiver", job.module)),
            });
        };
        let Some(token) = p.their_token.as_deref() else {
            return Err(CallError::Refused {
                http: 0,
                code: 3001,
                message: Some("the partner is not registered".into()),
            });
        };
        let target = Target {
            token,
            version: VersionNumber::V2_2_1,
            route: Some((
                PartyRef::new(&settings.country_code, &settings.party_id),
                PartyRef::new(&p.country_code, &p.party_id),
            )),
            correlation: None,
        };
        let ours = format!("{}/{}", settings.country_code, settings.party_id);
        // POST goes to the endpoint as the partner wrote it (some insist on its trailing slash); the
        // object paths are joined to it without one.
        let endpoint = base.to_string();
        let base = base.trim_end_matches('/');
        if job.action == PushAction::Delete {
            let url = format!("{base}/{ours}/{}", crate::tariffs::ocpi_id(&job.object_id));
            let r = self
                .send(p, job, &target, (Method::Delete, &url), None)
                .await;
            // Not there (any more) is what a DELETE wants.
            return match r {
                Err(CallError::Refused { http: 404, .. })
                | Err(CallError::Refused { code: 2003, .. }) => Ok(()),
                r => r,
            };
        }
        let object = match self
            .records::<Published>()
            .get(tenant, &Published::key(&job.module, &job.object_id))
            .await
        {
            Ok(Some(o)) => o.value,
            // Nothing to send any more: done.
            Ok(None) => return Ok(()),
            Err(e) => {
                return Err(CallError::Transport(cpms_ports::PartnerError::Unreachable(
                    format!("reading the object: {e}"),
                )));
            }
        };
        let (method, url, body) = match &job.action {
            // The object's own id (a tariff published for one partner is kept as `{id}@{partner}`).
            PushAction::Put => (
                Method::Put,
                format!(
                    "{base}/{ours}/{}",
                    object.body["id"].as_str().unwrap_or(&job.object_id)
                ),
                self.as_seen_by(p, &job.module, object.body)
                    .await
                    .map_err(|e| {
                        CallError::Transport(cpms_ports::PartnerError::Unreachable(format!(
                            "reading the partner's tariff: {e}"
                        )))
                    })?,
            ),
            PushAction::PatchEvse { evse_uid } => {
                let evse = object.body["evses"]
                    .as_array()
                    .and_then(|a| a.iter().find(|e| e["uid"] == evse_uid.as_str()))
                    .cloned();
                let Some(evse) = evse else {
                    return Ok(()); // the EVSE is gone: the location's PUT tells
                };
                (
                    Method::Patch,
                    format!("{base}/{ours}/{}/{evse_uid}", job.object_id),
                    json!({"status": evse["status"], "last_updated": evse["last_updated"]}),
                )
            }
            // A command's result goes where the partner asked for it.
            PushAction::Post if commands => (
                Method::Post,
                object.body["response_url"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                object.body["result"].clone(),
            ),
            PushAction::Post => (Method::Post, endpoint, object.body.clone()),
            PushAction::Delete => return Ok(()), // sent above, without reading the object
        };
        self.send(p, job, &target, (method, &url), Some(&body))
            .await
    }

    /// One request of a push, logged.
    async fn send(
        &self,
        p: &Partner,
        job: &PushJob,
        target: &Target<'_>,
        (method, url): (Method, &str),
        body: Option<&Value>,
    ) -> Result<(), CallError> {
        let started = std::time::Instant::now();
        let r = self.call(method, url, target, body).await;
        self.log_attempt(p, job, method, &r, started.elapsed().as_millis() as u64)
            .await;
        r.map(|_| ())
    }

    async fn log_attempt(
        &self,
        p: &Partner,
        job: &PushJob,
        method: Method,
        r: &Result<crate::client::Answer, CallError>,
        took_ms: u64,
    ) {
        let now = self.now();
        let (http_status, ocpi_status, error) = match r {
            Ok(a) => (Some(a.status), Some(1000), None),
            Err(CallError::Refused { http, code, .. }) => (
                Some(*http).filter(|h| *h > 0),
                Some(*code),
                r.as_ref().err().map(|e| e.to_string()),
            ),
            Err(CallError::NotOcpi { http, .. }) => {
                (Some(*http), None, r.as_ref().err().map(|e| e.to_string()))
            }
            Err(e) => (None, None, Some(e.to_string())),
        };
        let a = PushAttempt {
            tenant: p.tenant.clone(),
            id: time_ordered_id(now, rand::random()),
            partner: p.id.clone(),
            module: job.module.clone(),
            object_id: job.object_id.clone(),
            method: format!("{method:?}").to_uppercase(),
            at: now,
            ok: r.is_ok(),
            http_status,
            ocpi_status,
            error,
            took_ms,
        };
        if let Err(e) = self
            .records::<PushAttempt>()
            .put(&a, Expected::Absent)
            .await
        {
            tracing::warn!(error = %e, "cannot write the delivery log");
        }
    }

    /// Sends what is due to every partner of the tenant (the sweep: retries, and what a crashed
    /// worker left); returns what was sent.
    pub async fn sweep_pushes(&self, tenant: &TenantId) -> Result<Sent, RoamingError> {
        let now = self.now();
        let q = Documents::<PushJob>::by_index(PUSH_DUE, PUSH_DUE_LIST, PageRequest::first(200))
            .range(None, Some(due_until(now)));
        let due = self.records::<PushJob>().query(tenant, &q).await?;
        let mut partners: Vec<String> = due.items.into_iter().map(|j| j.value.partner).collect();
        partners.sort();
        partners.dedup();
        let mut total = Sent::default();
        for p in partners {
            let s = self.deliver(tenant, &p).await?;
            total.delivered += s.delivered;
            total.failed += s.failed;
            total.dead += s.dead;
        }
        Ok(total)
    }

    /// One page of a partner's delivery log, newest first (of one object when `object` is given).
    pub async fn delivery_log(
        &self,
        tenant: &TenantId,
        partner: &str,
        object: Option<(&str, &str)>,
        page: PageRequest,
    ) -> Result<cpms_ports::Page<PushAttempt>, StoreError> {
        let slot = if object.is_some() { 1 } else { 0 };
        let q = Documents::<PushAttempt>::by_index(
            slot,
            cpms_ports::roaming_records::push_log(partner, object),
            page,
        )
        .descending();
        let found = self.records::<PushAttempt>().query(tenant, &q).await?;
        Ok(cpms_ports::Page {
            items: found.items.into_iter().map(|v| v.value).collect(),
            next: found.next,
        })
    }

    /// What is queued for a partner, in order (dead ones included, marked).
    pub async fn queued(
        &self,
        tenant: &TenantId,
        partner: &str,
        page: PageRequest,
    ) -> Result<cpms_ports::Page<PushJob>, StoreError> {
        let q = Documents::<PushJob>::by_index(PUSH_QUEUE, push_queue(partner), page);
        let found = self.records::<PushJob>().query(tenant, &q).await?;
        Ok(cpms_ports::Page {
            items: found.items.into_iter().map(|v| v.value).collect(),
            next: found.next,
        })
    }
}
