//! Writing and reading chargers' status timelines (`cpms_domain::incidents::timeline`). Entries are
//! written before the charger gets its answer (a report the CSMS answered is on the timeline), each
//! day's record by a conditional write, so concurrent reports of one charger all land.

use chrono::{DateTime, Utc};
use cpms_domain::incidents::timeline::{self, Signal, TimelineDay, TimelineEntry};
use cpms_domain::{ChargerId, TenantId};
use cpms_ports::{Expected, StoreError};

use super::{RETRIES, backoff};
use crate::Csms;

/// The event of a new timeline entry the alert rules follow: `charger.device_event.v1` of a 2.0.1
/// problem report (a `Problem` variable, or an `Alerting` trigger), `charger.security_event.v1` of a
/// security event.
fn device_event(
    tenant: &TenantId,
    charger: &ChargerId,
    e: &TimelineEntry,
) -> Option<cpms_domain::events::DomainEvent> {
    if let Signal::Security {
        event_type,
        severity,
        tech_info,
    } = &e.signal
    {
        return Some(cpms_domain::events::DomainEvent {
            id: format!(
                "{charger}:security:{event_type}:{}",
                e.at.timestamp_millis()
            ),
            tenant: tenant.clone(),
            occurred_at: e.received_at,
            body: cpms_domain::events::EventBody::ChargerSecurityEvent {
                charger_id: charger.clone(),
                event_type: event_type.clone(),
                severity: severity.name().into(),
                tech_info: tech_info.clone(),
                reported_at: e.at,
            },
        });
    }
    let Signal::Event {
        event_id,
        component,
        variable,
        actual_value,
        trigger,
        cleared,
        tech_code,
        ..
    } = &e.signal
    else {
        return None;
    };
    if variable != "Problem" && trigger != "Alerting" {
        return None;
    }
    Some(cpms_domain::events::DomainEvent {
        id: format!("{charger}:event:{event_id}:{}", e.at.timestamp_millis()),
        tenant: tenant.clone(),
        occurred_at: e.received_at,
        body: cpms_domain::events::EventBody::ChargerDeviceEvent {
            charger_id: charger.clone(),
            evse_id: e.evse_id,
            connector_id: e.connector_id,
            component: component.clone(),
            variable: variable.clone(),
            actual_value: actual_value.clone(),
            cleared: *cleared,
            tech_code: tech_code.clone(),
            reported_at: e.at,
        },
    })
}

/// The most days one timeline read covers.
pub const MAX_PERIOD_DAYS: i64 = 31;

impl Csms {
    /// Adds `entries` to `charger`'s timeline (each in the day of its time).
    pub(crate) async fn record_timeline(
        &self,
        tenant: &TenantId,
        charger: &ChargerId,
        entries: Vec<TimelineEntry>,
    ) -> Result<(), StoreError> {
        if entries.is_empty() {
            return Ok(());
        }
        // The retention is read only for a day's first entry (it is fixed in the day's record).
        let mut retention: Option<u32> = None;
        let mut days: Vec<(chrono::NaiveDate, Vec<TimelineEntry>)> = Vec::new();
        for e in entries {
            let d = e.at.date_naive();
            match days.iter_mut().find(|(x, _)| *x == d) {
                Some((_, v)) => v.push(e),
                None => days.push((d, vec![e])),
            }
        }
        let docs = self.records::<TimelineDay>();
        for (day, list) in days {
            let key = TimelineDay::key(charger.as_str(), day);
            let mut written = false;
            for attempt in 0..RETRIES {
                backoff(attempt).await;
                let read = docs.get(tenant, &key).await?;
                let expected = Expected::from_read(&read);
                let mut d = match read {
                    Some(v) => v.value,
                    None => {
                        let days = match retention {
                            Some(r) => r,
                            None => {
                                let r = self.settings(tenant).await?.timeline_retention_days;
                                *retention.insert(r)
                            }
                        };
                        TimelineDay::new(tenant.clone(), charger.clone(), day, days)
                    }
                };
                let mut changed = false;
                let mut events = Vec::new();
                for e in &list {
                    if d.insert(e.clone()) {
                        changed = true;
                        events.extend(device_event(tenant, charger, e));
                    }
                }
                if !changed {
                    written = true;
                    break;
                }
                let mut w = cpms_ports::Documents::<TimelineDay>::write_of(&d, expected)?;
                w.events = events;
                match self.ports.docs.write(&[w]).await {
                    Ok(_) => {
                        written = true;
                        break;
                    }
                    Err(StoreError::Conflict) => continue,
                    Err(e) => return Err(e),
                }
            }
            if !written {
                return Err(StoreError::Conflict);
            }
        }
        Ok(())
    }

    /// Records on `charger`'s timeline, logging (not failing) when it cannot: for what has no answer to
    /// hold back (a disconnection).
    pub(crate) async fn note_timeline(
        &self,
        tenant: &TenantId,
        charger: &ChargerId,
        entry: TimelineEntry,
    ) {
        if let Err(e) = self.record_timeline(tenant, charger, vec![entry]).await {
            tracing::warn!(charger = %charger, error = %e, "cannot record on the status timeline");
        }
    }

    /// `charger`'s timeline from `from` to `to` (at most [`MAX_PERIOD_DAYS`]), of one EVSE or
    /// connector if asked: the state in force at `from` per place, and the entries of the period.
    pub async fn timeline(
        &self,
        tenant: &TenantId,
        charger: &ChargerId,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        evse: Option<u32>,
        connector: Option<u32>,
    ) -> Result<(Vec<TimelineEntry>, Vec<TimelineEntry>), StoreError> {
        let docs = self.records::<TimelineDay>();
        // The day before too: the state in force at `from` may have been reported then.
        let mut day = from.date_naive() - chrono::Days::new(1);
        let last = to.date_naive();
        let mut keys = Vec::new();
        while day <= last && keys.len() <= MAX_PERIOD_DAYS as usize + 1 {
            keys.push(TimelineDay::key(charger.as_str(), day));
            day = day + chrono::Days::new(1);
        }
        let reads = futures_util::future::join_all(keys.iter().map(|k| docs.get(tenant, k))).await;
        let mut days = Vec::with_capacity(reads.len());
        for r in reads {
            if let Some(d) = r? {
                days.push(d.value);
            }
        }
        Ok(timeline::period(&days, from, to, evse, connector))
    }
}
