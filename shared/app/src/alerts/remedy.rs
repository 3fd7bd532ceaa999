//! Running an incident's remedy ladder: at each check the next step is sent through the command path
//! (after the previous one did not clear the condition), unless it would interrupt a session the rule
//! may not interrupt, or the charger's daily budget of remedies is spent. A step's effect shows as the
//! condition clearing; the incident then records which step cleared it.

use chrono::{DateTime, Duration, Utc};
use cpms_domain::incidents::incident::{EntryKind, Incident, SYSTEM};
use cpms_domain::incidents::remedy::{Next, RemedyBudget, Step};
use cpms_domain::incidents::rules::AlertConfig;
use cpms_domain::{ChargerId, OcppVersion, TenantId};
use cpms_ports::{Expected, StoreError};

use super::engine::settings;
use super::{ACTOR, Ctx};
use crate::Csms;
use crate::service::{RETRIES, backoff};

/// How long a remedy command may wait for its answer (s).
const REMEDY_TIMEOUT_S: u32 = 60;

impl Csms {
    /// The next step of incident `id`'s ladder, if its check is due.
    pub(crate) async fn run_remedy(
        &self,
        cfg: &AlertConfig,
        tenant: &TenantId,
        id: &str,
    ) -> Result<(), StoreError> {
        let docs = self.alert_records::<Incident>();
        let now = self.now();
        let mut budget: Option<bool> = None;
        let mut send: Option<(String, Step, u32, OcppVersion)> = None;
        for attempt in 0..RETRIES {
            backoff(attempt).await;
            send = None;
            let Some(read) = docs.get(tenant, id).await? else {
                return Ok(());
            };
            let mut i = read.value;
            if !i.is_open() || i.remedy.check_at.is_none_or(|t| t > now) {
                return Ok(());
            }
            let Some(charger) = i.resource.charger().map(str::to_string) else {
                i.remedy.check_at = None;
                i.schedule(cfg.targets(i.severity));
                docs.put(&i, Expected::Version(read.version)).await?;
                return Ok(());
            };
            let Ok(cid) = ChargerId::new(&charger) else {
                return Ok(());
            };
            let rec = self.ports.chargers.get(&cid).await?.map(|v| v.value);
            let ctx = Ctx::of(tenant, &charger, rec.as_ref());
            let s = settings(cfg, i.rule, &ctx);
            let check = Duration::seconds(i64::from(s.check_after_s.max(1)));
            if let Some((step, _)) = i.remedy.last {
                i.log(
                    now,
                    EntryKind::Remedy,
                    format!("{} did not clear it", step.name()),
                    SYSTEM,
                );
            }
            if !ctx.connected {
                i.log(
                    now,
                    EntryKind::Remedy,
                    "the charger is offline: remedies wait until it is back".into(),
                    SYSTEM,
                );
                i.remedy.last = None;
                i.remedy.check_at = Some(now + check);
            } else {
                let charging = !self.ports.sessions.active(tenant, &cid).await?.is_empty();
                let next = loop {
                    match i.remedy.next(&s.remedies, charging, s.may_interrupt) {
                        Next::Skip(n, step) => {
                            i.log(
                                now,
                                EntryKind::Remedy,
                                format!("{} skipped: a session is charging", step.name()),
                                SYSTEM,
                            );
                            i.remedy.next_step = n + 1;
                        }
                        Next::Send(n, step) => break Some((n, step)),
                        Next::Done => break None,
                    }
                };
                match next {
                    None => {
                        self.ladder_done(&mut i, "every remedy was tried: it needs a person", now)
                    }
                    Some((n, step)) => {
                        let ok = match budget {
                            Some(b) => b,
                            None => {
                                *budget.insert(self.take_budget(cfg, tenant, &charger, now).await?)
                            }
                        };
                        if ok {
                            i.remedy.next_step = n + 1;
                            i.remedy.last = Some((step, String::new()));
                            i.remedy.check_at = Some(now + check);
                            i.log(
                                now,
                                EntryKind::Remedy,
                                format!("sending {}", step.name()),
                                SYSTEM,
                            );
                            let version = ctx.version.unwrap_or(OcppVersion::V16);
                            send = Some((charger.clone(), step, i.resource.evse(), version));
                        } else {
                            self.ladder_done(
                                &mut i,
                                &format!(
                                    "the charger's {} remedies for today are spent",
                                    cfg.remedies_per_day
                                ),
                                now,
                            );
                        }
                    }
                }
            }
            i.schedule(cfg.targets(i.severity));
            match docs.put(&i, Expected::Version(read.version)).await {
                Err(StoreError::Conflict) => continue,
                Err(e) => return Err(e),
                Ok(_) => break,
            }
        }
        let Some((charger, step, evse, version)) = send else {
            return Ok(());
        };
        metrics::counter!("cpms_remedies_total", "step" => step.name()).increment(1);
        let text = match self
            .submit_command(
                tenant,
                &charger,
                step.command(evse, version),
                REMEDY_TIMEOUT_S,
                ACTOR,
            )
            .await
        {
            Ok(cmd) => format!("sent {} as command {}", step.name(), cmd.id),
            Err(e) => format!("could not send {}: {e}", step.name()),
        };
        self.note_incident(tenant, id, EntryKind::Remedy, text)
            .await
    }

    fn ladder_done(&self, i: &mut Incident, why: &str, now: DateTime<Utc>) {
        if !i.remedy.exhausted {
            i.log(now, EntryKind::Remedy, why.to_string(), SYSTEM);
        }
        i.remedy.exhausted = true;
        i.remedy.last = None;
        i.remedy.check_at = None;
    }

    /// Takes one remedy from the charger's budget of the day; false when it is spent.
    async fn take_budget(
        &self,
        cfg: &AlertConfig,
        tenant: &TenantId,
        charger: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let docs = self.alert_records::<RemedyBudget>();
        let day = now.date_naive();
        for attempt in 0..RETRIES {
            backoff(attempt).await;
            let read = docs.get(tenant, &RemedyBudget::key(charger, day)).await?;
            let expected = Expected::from_read(&read);
            let mut b = read.map_or_else(
                || RemedyBudget {
                    tenant: tenant.clone(),
                    charger_id: charger.to_string(),
                    day,
                    used: 0,
                },
                |v| v.value,
            );
            if b.used >= cfg.remedies_per_day {
                return Ok(false);
            }
            b.used += 1;
            match docs.put(&b, expected).await {
                Err(StoreError::Conflict) => continue,
                Err(e) => return Err(e),
                Ok(_) => return Ok(true),
            }
        }
        Err(StoreError::Conflict)
    }

    /// Adds an entry to an incident's timeline.
    pub(crate) async fn note_incident(
        &self,
        tenant: &TenantId,
        id: &str,
        kind: EntryKind,
        text: String,
    ) -> Result<(), StoreError> {
        let docs = self.alert_records::<Incident>();
        for attempt in 0..RETRIES {
            backoff(attempt).await;
            let Some(read) = docs.get(tenant, id).await? else {
                return Ok(());
            };
            let mut i = read.value;
            i.log(self.now(), kind, text.clone(), SYSTEM);
            match docs.put(&i, Expected::Version(read.version)).await {
                Err(StoreError::Conflict) => continue,
                Err(e) => return Err(e),
                Ok(_) => return Ok(()),
            }
        }
        Err(StoreError::Conflict)
    }
}
