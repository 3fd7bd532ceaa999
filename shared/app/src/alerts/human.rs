//! What people do to incidents: acknowledge, resolve, assign, note. Each is one conditional batch with
//! the notices it causes; resolving by hand also lets go of the condition (it opens a new incident if
//! it still holds at its next signal).

use cpms_domain::TenantId;
use cpms_domain::incidents::condition::Condition;
use cpms_domain::incidents::delivery::Delivery;
use cpms_domain::incidents::incident::{EntryKind, Incident};
use cpms_domain::incidents::notify::NoticeKind;
use cpms_ports::{Documents, Expected, StoreError};

use super::engine::changed;
use crate::Csms;
use crate::service::{RETRIES, backoff};

/// A person's action on an incident.
#[derive(Debug, Clone)]
pub enum HumanAction {
    /// Take it.
    Acknowledge,
    /// Close it, with why.
    Resolve(Option<String>),
    /// Give it to someone (`None`: nobody).
    Assign(Option<String>),
    /// Add a note.
    Note(String),
}

/// Why an action could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum ActionError {
    /// No such incident.
    #[error("no incident {0:?}")]
    NotFound(String),
    /// It is not in a state that allows it.
    #[error("{0}")]
    State(String),
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Csms {
    /// Applies a person's action; the incident as it is now.
    pub async fn incident_action(
        &self,
        tenant: &TenantId,
        id: &str,
        action: HumanAction,
        by: &str,
    ) -> Result<Incident, ActionError> {
        let docs = self.alert_records::<Incident>();
        let cfg = self.alert_config(tenant).await?;
        for attempt in 0..RETRIES {
            backoff(attempt).await;
            let read = docs
                .get(tenant, id)
                .await?
                .ok_or_else(|| ActionError::NotFound(id.to_string()))?;
            let mut i = read.value;
            let now = self.now();
            let mut deliveries = Vec::new();
            let mut condition = None;
            let change = match &action {
                HumanAction::Acknowledge => {
                    if !i.acknowledge(by, now) {
                        return Err(ActionError::State(format!(
                            "incident {id} is {}: only an open one can be acknowledged",
                            i.state.name()
                        )));
                    }
                    deliveries = self.notices(&mut i, NoticeKind::Acknowledged, now).await?;
                    "acknowledged"
                }
                HumanAction::Resolve(why) => {
                    let text = match why {
                        Some(w) => format!("resolved by {by}: {w}"),
                        None => format!("resolved by {by}"),
                    };
                    if !i.resolve(by, text, now) {
                        return Err(ActionError::State(format!(
                            "incident {id} is resolved already"
                        )));
                    }
                    deliveries = self.notices(&mut i, NoticeKind::Resolved, now).await?;
                    let key = Condition::key(i.rule, &i.resource);
                    if let Some(c) = self.alert_records::<Condition>().get(tenant, &key).await?
                        && c.value.incident.as_deref() == Some(id)
                    {
                        let mut v = c.value;
                        v.closed_by_hand(now);
                        condition = Some((v, Expected::Version(c.version)));
                    }
                    "resolved"
                }
                HumanAction::Assign(who) => {
                    i.assignee.clone_from(who);
                    let text = match who {
                        Some(w) => format!("assigned to {w} by {by}"),
                        None => format!("unassigned by {by}"),
                    };
                    i.log(now, EntryKind::Assigned, text, by);
                    "assigned"
                }
                HumanAction::Note(text) => {
                    i.log(now, EntryKind::Note, text.clone(), by);
                    "noted"
                }
            };
            i.schedule(cfg.targets(i.severity));
            let mut w = Documents::<Incident>::write_of(&i, Expected::Version(read.version))?;
            if change != "noted" {
                w.events.push(changed(&i, change, None));
            }
            let mut writes = vec![w];
            if let Some((c, e)) = &condition {
                writes.push(Documents::<Condition>::write_of(c, *e)?);
            }
            for d in &deliveries {
                writes.push(Documents::<Delivery>::write_of(d, Expected::Absent)?);
            }
            match self.write_all(writes).await {
                Err(StoreError::Conflict) => continue,
                Err(e) => return Err(e.into()),
                Ok(()) => {
                    for d in deliveries {
                        self.deliver_notice(d).await;
                    }
                    return Ok(i);
                }
            }
        }
        Err(StoreError::Conflict.into())
    }
}
