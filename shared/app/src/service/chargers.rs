//! Charger state changes: boot, connector status, last seen, operation status reports, log entries.

use std::time::Duration;

use chrono::{DateTime, Utc};
use cpms_domain::charger::{
    BootInfo, Charger, RegisterReading, Registration, StatusInput, StatusReport,
};
use cpms_domain::events;
use cpms_domain::log::{LogEntry, LogKind};
use cpms_ocpp::CallError;
use cpms_ports::{ConnectionInfo, Expected, StoreError};

use super::{RETRIES, admission::jitter, internal};
use crate::Csms;

/// The answer to a BootNotification.
pub(crate) struct BootDecision {
    /// Accepted, Pending or Rejected.
    pub status: Registration,
    /// Heartbeat interval (Accepted) or retry interval (otherwise).
    pub interval: Duration,
}

impl Csms {
    /// Reads a charger, lets `f` change it and writes it back with the events the change implies,
    /// retrying on a concurrent change. `f` says whether it changed anything; nothing is written if not.
    /// `Ok(None)` when the charger does not exist.
    pub(crate) async fn update_charger<R>(
        &self,
        id: &cpms_domain::ChargerId,
        mut f: impl FnMut(&mut Charger) -> (bool, R),
    ) -> Result<Option<R>, StoreError> {
        for attempt in 0..RETRIES {
            crate::service::backoff(attempt).await;
            let Some(read) = self.ports.chargers.get(id).await? else {
                return Ok(None);
            };
            let mut c = read.value.clone();
            let (changed, r) = f(&mut c);
            if !changed {
                return Ok(Some(r));
            }
            c.updated_at = c.updated_at.max(self.ports.clock.now());
            let evs = events::for_charger(Some(&read.value), &c);
            match self
                .ports
                .chargers
                .put(&c, Expected::Version(read.version), &evs)
                .await
            {
                Ok(_) => return Ok(Some(r)),
                Err(StoreError::Conflict) => continue,
                Err(e) => return Err(e),
            }
        }
        Err(StoreError::Conflict)
    }

    /// Handles a BootNotification.
    pub(crate) async fn boot(
        &self,
        conn: &ConnectionInfo,
        info: BootInfo,
    ) -> Result<BootDecision, CallError> {
        let now = self.ports.clock.now();
        let cfg = &self.config;
        let admitted = self.admission.admit();
        let decision = self
            .update_charger(&conn.charger_id, |c| {
                let (status, interval) = if !c.enabled {
                    (Registration::Rejected, cfg.rejected_interval)
                } else if admitted {
                    (Registration::Accepted, cfg.heartbeat_interval)
                } else {
                    let (lo, hi) = cfg.pending_interval;
                    (Registration::Pending, jitter(lo, hi))
                };
                c.registration = status;
                c.boot = Some(info.clone());
                c.last_seen = Some(now);
                (true, BootDecision { status, interval })
            })
            .await
            .map_err(internal)?
            .ok_or_else(|| gone(&conn.charger_id))?;
        tracing::info!(
            charger = %conn.charger_id, vendor = %info.vendor, model = %info.model,
            firmware = info.firmware_version.as_deref().unwrap_or(""), status = ?decision.status,
            "boot"
        );
        let accepted = decision.status == Registration::Accepted;
        if accepted != conn.accepted || conn.last_seen_written.is_none() {
            let mut info = conn.clone();
            info.accepted = accepted;
            info.last_seen_written = Some(now);
            self.ports.registry.put(&info).await.map_err(internal)?;
        }
        Ok(decision)
    }

    /// Records that the charger is alive (written at most every `last_seen_every`).
    pub(crate) async fn seen(&self, conn: &ConnectionInfo) -> Result<(), CallError> {
        let now = self.ports.clock.now();
        let every = chrono::Duration::from_std(self.config.last_seen_every).unwrap_or_default();
        if conn.last_seen_written.is_some_and(|w| now - w < every) {
            return Ok(());
        }
        self.update_charger(&conn.charger_id, |c| {
            c.last_seen = Some(now);
            (true, ())
        })
        .await
        .map_err(internal)?;
        let mut info = conn.clone();
        info.last_seen_written = Some(now);
        self.ports.registry.put(&info).await.map_err(internal)
    }

    /// Records a connector status report.
    pub(crate) async fn status(
        &self,
        conn: &ConnectionInfo,
        s: StatusInput,
    ) -> Result<(), CallError> {
        let now = self.ports.clock.now();
        if let Some(status) = cpms_domain::charger::ConnectorStatus::from_ocpp(&s.ocpp_status) {
            let signal = cpms_domain::incidents::timeline::Signal::Status {
                status,
                ocpp_status: s.ocpp_status.clone(),
                error_code: s.error_code.clone(),
                info: s.info.clone(),
                vendor_id: s.vendor_id.clone(),
                vendor_error_code: s.vendor_error_code.clone(),
            };
            let entry = cpms_domain::incidents::timeline::TimelineEntry::new(
                s.evse_id,
                s.connector_id,
                signal,
                s.timestamp,
                now,
            );
            self.record_timeline(&conn.tenant, &conn.charger_id, vec![entry])
                .await
                .map_err(internal)?;
        }
        self.update_charger(&conn.charger_id, |c| (c.apply_status(s.clone(), now), ()))
            .await
            .map_err(internal)?;
        Ok(())
    }

    /// Records an energy register reading taken outside a transaction.
    pub(crate) async fn register_reading(
        &self,
        conn: &ConnectionInfo,
        evse_id: u32,
        reading: RegisterReading,
    ) -> Result<(), CallError> {
        self.update_charger(&conn.charger_id, |c| {
            (c.apply_register(evse_id, reading.clone()), ())
        })
        .await
        .map_err(internal)?;
        Ok(())
    }

    /// Records a firmware (`firmware == true`) or diagnostics/log upload status report.
    pub(crate) async fn operation_status(
        &self,
        conn: &ConnectionInfo,
        firmware: bool,
        status: &str,
        request_id: Option<i64>,
    ) -> Result<(), CallError> {
        let report = StatusReport {
            status: status.to_string(),
            request_id,
            at: self.ports.clock.now(),
        };
        self.update_charger(&conn.charger_id, |c| {
            let slot = if firmware {
                &mut c.firmware
            } else {
                &mut c.diagnostics
            };
            *slot = Some(report.clone());
            (true, ())
        })
        .await
        .map_err(internal)?;
        Ok(())
    }

    /// Appends to the log of the connection's charger.
    pub(crate) async fn log(
        &self,
        conn: &ConnectionInfo,
        kind: LogKind,
        summary: String,
        data: serde_json::Value,
    ) -> Result<(), CallError> {
        self.log_for(&conn.tenant, &conn.charger_id, kind, summary, data)
            .await
    }

    /// Appends to a charger's log.
    pub(crate) async fn log_for(
        &self,
        tenant: &cpms_domain::TenantId,
        charger: &cpms_domain::ChargerId,
        kind: LogKind,
        summary: String,
        data: serde_json::Value,
    ) -> Result<(), CallError> {
        let entry = LogEntry {
            tenant: tenant.clone(),
            charger_id: charger.clone(),
            at: self.ports.clock.now(),
            kind,
            summary,
            data,
        };
        self.ports.log.append(&entry).await.map_err(internal)
    }

    /// The current time.
    pub(crate) fn now(&self) -> DateTime<Utc> {
        self.ports.clock.now()
    }
}

/// The charger was deleted while connected.
pub(crate) fn gone(id: &cpms_domain::ChargerId) -> CallError {
    CallError::new(
        cpms_ocpp::ErrorCode::SecurityError,
        format!("charger {id} is no longer registered"),
    )
}
