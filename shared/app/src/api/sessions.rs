//! `/v1/sessions`: charging sessions, newest first, filtered by charger and status; one session; its
//! meter samples.

use axum::Json;
use axum::extract::State;
use cpms_domain::meter::MeterSample;
use cpms_domain::session::SessionStatus;
use cpms_domain::{ChargerId, SessionId};
use cpms_ports::{PageRequest, SessionFilter};
use serde::Deserialize;

use super::extract::{Id, PageQuery, Params};
use super::views::{List, SessionView};
use super::{ApiState, Problem};

/// Query of `GET /v1/sessions`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SessionQuery {
    charger_id: Option<String>,
    /// `active`, `completed`, `reconciled` or `failed`.
    status: Option<String>,
    limit: Option<usize>,
    cursor: Option<String>,
}

pub(crate) async fn list(
    State(st): State<ApiState>,
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
    let tenant = &st.csms.config.default_tenant;
    let found = st.csms.ports.sessions.list(tenant, &filter, &page).await?;
    Ok(Json(List::of(found, SessionView::from)))
}

fn session_id(id: &str) -> Result<SessionId, Problem> {
    SessionId::parse(id).map_err(|_| Problem::not_found(format!("no session {id:?}")))
}

pub(crate) async fn get(
    State(st): State<ApiState>,
    Id(id): Id,
) -> Result<Json<SessionView>, Problem> {
    let sid = session_id(&id)?;
    let tenant = &st.csms.config.default_tenant;
    match st.csms.ports.sessions.get(tenant, &sid).await? {
        Some(s) => Ok(Json(s.value.into())),
        None => Err(Problem::not_found(format!("no session {id:?}"))),
    }
}

pub(crate) async fn samples(
    State(st): State<ApiState>,
    Id(id): Id,
    Params(q): Params<PageQuery>,
) -> Result<Json<List<MeterSample>>, Problem> {
    let sid = session_id(&id)?;
    let tenant = &st.csms.config.default_tenant;
    if st.csms.ports.sessions.get(tenant, &sid).await?.is_none() {
        return Err(Problem::not_found(format!("no session {id:?}")));
    }
    let page: PageRequest = q.page()?;
    let found = st.csms.ports.sessions.samples(tenant, &sid, &page).await?;
    Ok(Json(List::of(found, |s| s)))
}
