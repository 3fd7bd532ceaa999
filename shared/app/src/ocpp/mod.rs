//! OCPP action handlers: one module per action and version, and one routing table per version. Handlers
//! translate the typed message into domain input, let the services apply it, and build the answer.

pub(crate) mod v16;
pub(crate) mod v201;

use cpms_domain::DomainError;
use cpms_domain::log::LogKind;
use cpms_domain::normalize;
use cpms_ocpp::{CallError, ErrorCode};
use cpms_ports::ConnectionInfo;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::Csms;

/// One validated CALL being handled.
pub(crate) struct CallCtx<'a> {
    /// The application.
    pub csms: &'a Csms,
    /// The connection it came on.
    pub conn: &'a ConnectionInfo,
    /// The action.
    pub action: &'a str,
    /// The payload, valid for its schema.
    pub payload: &'a Value,
    /// Quirks forgiven on the way.
    pub quirks: Vec<String>,
}

impl CallCtx<'_> {
    /// The typed request.
    pub fn request<T: DeserializeOwned>(&self) -> Result<T, CallError> {
        T::deserialize(self.payload).map_err(|e| {
            CallError::new(ErrorCode::FormatViolation, format!("{}: {e}", self.action))
        })
    }

    /// Keeps the payload in the charger's log.
    pub async fn record(&self, kind: LogKind, summary: String) -> Result<(), CallError> {
        self.csms
            .log(self.conn, kind, summary, self.payload.clone())
            .await
    }

    /// A SecurityEventNotification (either version): kept in the charger's log; one that calls for a
    /// look also goes on the charger's timeline, which publishes it to the alert rules.
    pub async fn security_event(
        &self,
        kind: &str,
        tech_info: Option<&str>,
        at: chrono::DateTime<chrono::Utc>,
    ) -> Result<(), CallError> {
        use cpms_domain::incidents::timeline::{Signal, TimelineEntry};
        if let Some(severity) = cpms_domain::incidents::signals::security_severity(kind) {
            let signal = Signal::Security {
                event_type: kind.to_string(),
                severity,
                tech_info: tech_info.map(|t| t.chars().take(255).collect()),
            };
            let entry = TimelineEntry::new(0, 0, signal, Some(at), self.csms.now());
            self.csms
                .record_timeline(&self.conn.tenant, &self.conn.charger_id, vec![entry])
                .await
                .map_err(crate::service::internal)?;
        }
        self.record(LogKind::SecurityEvent, kind.to_string()).await
    }

    /// Keeps a DataTransfer in the charger's log (no vendor extension is installed to act on it).
    pub async fn record_data_transfer(
        &self,
        vendor_id: &str,
        message_id: Option<&str>,
    ) -> Result<(), CallError> {
        let what = format!("{vendor_id} {}", message_id.unwrap_or(""));
        self.record(LogKind::DataTransfer, summary(self.action, what.trim()))
            .await
    }

    /// The fingerprint of the message content.
    pub fn fingerprint(&self) -> u64 {
        normalize::fingerprint(self.action, self.payload)
    }
}

/// Writes an answer.
pub(crate) fn answer<T: Serialize>(t: &T) -> Result<Value, CallError> {
    serde_json::to_value(t).map_err(|e| CallError::new(ErrorCode::InternalError, e.to_string()))
}

/// A value the domain refuses, as the CallError it deserves.
pub(crate) fn refused(e: DomainError) -> CallError {
    CallError::new(ErrorCode::PropertyConstraintViolation, e.to_string())
}

/// The summary line of a log entry for a notification.
pub(crate) fn summary(action: &str, detail: &str) -> String {
    if detail.is_empty() {
        action.to_string()
    } else {
        format!("{action}: {detail:.120}")
    }
}
