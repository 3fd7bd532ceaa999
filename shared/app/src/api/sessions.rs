//! `/v1/sessions`: charging sessions, newest first, filtered by charger and status; one session; its
//! meter samples.

use axum::Json;
use axum::extract::State;
use cpms_domain::meter::MeterSample;
use cpms_domain::session::SessionStatus;
use cpms_domain::{ChargerId, SessionId};
use cpms_ports::{PageRequest, SessionFilter};
use serde::Deserialize;

use super::auth::Principal;
use super::extract::{Id, PageQuery, Params};
use super::views::{List, SessionView};
use super::{ApiState, Problem};

/// Query of `GET /v1/sessions`.
#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct SessionQuery {
    charger_id: Option<String>,
    /// `active`, `completed`, `reconciled` or `failed`.
    status: Option<String>,
    /// Only sessions started at or after this time (a filtered page may hold fewer items: follow
    /// `next_cursor`).
    from: Option<chrono::DateTime<chrono::Utc>>,
    /// Only sessions started before this time.
    to: Option<chrono::DateTime<chrono::Utc>>,
    limit: Option<usize>,
    cursor: Option<String>,
}

pub(crate) async fn list(
    State(st): State<ApiState>,
    p: Principal,
    Params(q): Params<SessionQuery>,
) -> Result<Json<List<SessionView>>, Problem> {
    let status = match q.status.as_deref() {
        None => None,
        Some(s) => Some(SessionStatus::parse(s).ok_or_else(|| {
            Problem::bad_request(format!(
                "status {s:?} is not one of active, completed, reconciled, failed"
            ))
        })?),
    };
    let charger = q.charger_id.map(ChargerId::new).transpose()?;
    let page = PageQuery {
        limit: q.limit,
        cursor: q.cursor,
    }
    .page()?;
    let filter = SessionFilter { charger, status };
    let tenant = &p.tenant;
    let mut found = st.csms.ports.sessions.list(tenant, &filter, &page).await?;
    let started = |s: &cpms_domain::session::Session| s.started_at.unwrap_or(s.created_at);
    found
        .items
        .retain(|s| q.from.is_none_or(|f| started(s) >= f) && q.to.is_none_or(|t| started(s) < t));
    Ok(Json(List::of(found, SessionView::from)))
}

/// The session id of a path (an id that cannot be one is a session that does not exist).
pub(crate) fn session_id(id: &str) -> Result<SessionId, Problem> {
    SessionId::parse(id).map_err(|_| Problem::not_found(format!("no session {id:?}")))
}

pub(crate) async fn get(
    State(st): State<ApiState>,
    p: Principal,
    Id(id): Id,
) -> Result<Json<SessionView>, Problem> {
    let sid = session_id(&id)?;
    let tenant = &p.tenant;
    match st.csms.ports.sessions.get(tenant, &sid).await? {
        Some(s) => Ok(Json(s.value.into())),
        None => Err(Problem::not_found(format!("no session {id:?}"))),
    }
}

pub(crate) async fn samples(
    State(st): State<ApiState>,
    p: Principal,
    Id(id): Id,
    Params(q): Params<PageQuery>,
) -> Result<Json<List<MeterSample>>, Problem> {
    let sid = session_id(&id)?;
    let tenant = &p.tenant;
    if st.csms.ports.sessions.get(tenant, &sid).await?.is_none() {
        return Err(Problem::not_found(format!("no session {id:?}")));
    }
    let page: PageRequest = q.page()?;
    let found = st.csms.ports.sessions.samples(tenant, &sid, &page).await?;
    Ok(Json(List::of(found, |s| s)))
}
