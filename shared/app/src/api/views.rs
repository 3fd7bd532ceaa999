//! The JSON shapes the API returns (kept apart from the stored records, so either can change alone).

use chrono::{DateTime, Utc};
use cpms_domain::charger::{BootInfo, Charger, ConnectorState, Registration, StatusReport};
use cpms_domain::session::{Anomaly, Session, SessionStatus};
use cpms_domain::token::{AuthStatus, Token, TokenStatus};
use rust_decimal::Decimal;
use serde::Serialize;

/// A list page.
#[derive(Serialize, schemars::JsonSchema)]
#[schemars(rename = "{T}List")]
pub(crate) struct List<T> {
    pub items: Vec<T>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

impl<T> List<T> {
    pub fn of<U>(page: cpms_ports::Page<U>, f: impl Fn(U) -> T) -> Self {
        List {
            items: page.items.into_iter().map(f).collect(),
            next_cursor: page.next,
        }
    }
}

/// A charger.
#[derive(Serialize, schemars::JsonSchema)]
pub(crate) struct ChargerView {
    pub id: String,
    pub name: Option<String>,
    pub enabled: bool,
    /// Whether it has a live connection now.
    pub connected: bool,
    /// Version of the latest connection (live or not).
    pub ocpp_version: Option<String>,
    /// Pinned version, if any.
    pub expected_ocpp_version: Option<String>,
    pub registration: Registration,
    pub boot: Option<BootInfo>,
    pub last_seen: Option<DateTime<Utc>>,
    pub connected_at: Option<DateTime<Utc>>,
    /// The site it stands at.
    pub site_id: Option<String>,
    /// Its EVSEs and connectors as declared.
    pub evses: Vec<cpms_domain::charger::EvseSpec>,
    pub connectors: Vec<ConnectorView>,
    pub firmware: Option<StatusReport>,
    pub diagnostics: Option<StatusReport>,
    /// When its Basic-auth password last changed.
    pub password_changed_at: Option<DateTime<Utc>>,
    /// Whether a new password was sent and is not confirmed yet.
    pub password_change_pending: bool,
    /// Whether a Basic-auth user name other than its identity is let in.
    pub allow_username_mismatch: bool,
    /// Whether sessions may start without authorization (2.0.1 `NoAuthorization`).
    pub free_charging: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A connector's live state.
#[derive(Serialize, schemars::JsonSchema)]
pub(crate) struct ConnectorView {
    pub evse_id: u32,
    pub connector_id: u32,
    pub status: cpms_domain::charger::ConnectorStatus,
    pub ocpp_status: String,
    pub error_code: Option<String>,
    pub info: Option<String>,
    pub vendor_error_code: Option<String>,
    pub since: DateTime<Utc>,
    #[schemars(with = "Option<f64>")]
    #[serde(with = "cpms_ocpp::number::option")]
    pub meter_wh: Option<Decimal>,
}

impl ChargerView {
    pub fn of(c: Charger, connected: bool) -> Self {
        ChargerView {
            id: c.id.to_string(),
            name: c.name,
            enabled: c.enabled,
            connected,
            ocpp_version: c.last_version.map(|v| v.label().to_string()),
            expected_ocpp_version: c.expected_version.map(|v| v.label().to_string()),
            registration: c.registration,
            boot: c.boot,
            last_seen: c.last_seen,
            connected_at: c
                .connection
                .as_ref()
                .filter(|_| connected)
                .map(|x| x.connected_at),
            site_id: c.site_id,
            evses: c.evses,
            connectors: c.connectors.into_iter().map(ConnectorView::of).collect(),
            firmware: c.firmware,
            diagnostics: c.diagnostics,
            password_changed_at: c.password_changed_at,
            password_change_pending: c.pending_password.is_some(),
            allow_username_mismatch: c.allow_username_mismatch,
            free_charging: c.free_charging,
            created_at: c.created_at,
            updated_at: c.updated_at,
        }
    }
}

impl ConnectorView {
    fn of(c: ConnectorState) -> Self {
        ConnectorView {
            evse_id: c.evse_id,
            connector_id: c.connector_id,
            status: c.status,
            ocpp_status: c.ocpp_status,
            error_code: c.error_code,
            info: c.info,
            vendor_error_code: c.vendor_error_code,
            since: c.reported_at,
            meter_wh: c.meter.map(|m| m.energy_wh),
        }
    }
}

/// A token.
#[derive(Serialize, schemars::JsonSchema)]
pub(crate) struct TokenView {
    pub id: String,
    pub status: TokenStatus,
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub expires_at: Option<DateTime<Utc>>,
    pub group_id: Option<String>,
    pub partner: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<Token> for TokenView {
    fn from(t: Token) -> Self {
        TokenView {
            id: t.id,
            status: t.status,
            kind: t.kind,
            expires_at: t.expires_at,
            group_id: t.group_id,
            partner: t.partner,
            created_at: t.created_at,
            updated_at: t.updated_at,
        }
    }
}

/// A session.
#[derive(Serialize, schemars::JsonSchema)]
pub(crate) struct SessionView {
    /// `CHARGER~TRANSACTION`.
    pub id: String,
    pub charger_id: String,
    pub transaction_id: String,
    pub ocpp_version: String,
    pub status: SessionStatus,
    pub evse_id: Option<u32>,
    pub connector_id: Option<u32>,
    pub id_token: Option<String>,
    pub id_token_type: Option<String>,
    pub auth_status: Option<AuthStatus>,
    pub started_at: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
    #[schemars(with = "Option<f64>")]
    #[serde(with = "cpms_ocpp::number::option")]
    pub meter_start_wh: Option<Decimal>,
    #[schemars(with = "Option<f64>")]
    #[serde(with = "cpms_ocpp::number::option")]
    pub meter_stop_wh: Option<Decimal>,
    #[schemars(with = "Option<f64>")]
    #[serde(with = "cpms_ocpp::number::option")]
    pub energy_wh: Option<Decimal>,
    pub stop_reason: Option<String>,
    pub charging_state: Option<String>,
    #[schemars(with = "Option<f64>")]
    #[serde(with = "cpms_ocpp::number::option")]
    pub power_w: Option<Decimal>,
    #[schemars(with = "Option<f64>")]
    #[serde(with = "cpms_ocpp::number::option")]
    pub current_a: Option<Decimal>,
    #[schemars(with = "Option<f64>")]
    #[serde(with = "cpms_ocpp::number::option")]
    pub soc_percent: Option<Decimal>,
    pub offline: bool,
    pub sample_count: u32,
    pub anomalies: Vec<Anomaly>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<Session> for SessionView {
    fn from(s: Session) -> Self {
        SessionView {
            id: s.id.to_string(),
            charger_id: s.id.charger.to_string(),
            transaction_id: s.id.transaction.clone(),
            ocpp_version: s.ocpp_version.label().to_string(),
            status: s.status,
            evse_id: s.evse_id,
            connector_id: s.connector_id,
            id_token: s.id_token.as_ref().map(|t| t.value.clone()),
            id_token_type: s.id_token.and_then(|t| t.kind),
            auth_status: s.auth.map(|a| a.status),
            started_at: s.started_at,
            ended_at: s.ended_at,
            meter_start_wh: s.meter_start_wh,
            meter_stop_wh: s.meter_stop_wh,
            energy_wh: s.energy_wh,
            stop_reason: s.stop_reason,
            charging_state: s.charging_state,
            power_w: s.latest.power_w,
            current_a: s.latest.current_a,
            soc_percent: s.latest.soc_percent,
            offline: s.offline,
            sample_count: s.sample_count,
            anomalies: s.anomalies,
            created_at: s.created_at,
            updated_at: s.updated_at,
        }
    }
}
