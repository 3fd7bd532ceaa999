//! `/v1/incidents`: incidents filtered by state, severity, site, charger and rule; one incident with its
//! timeline; acknowledge, resolve, assign, note; its notification deliveries (the delivery log), and
//! dead-lettered deliveries. `/v1/stream`: incident and charger status changes as Server-Sent Events.

use std::convert::Infallible;
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use cpms_domain::incidents::delivery::Delivery;
use cpms_domain::incidents::incident::{Incident, IncidentState};
use cpms_domain::incidents::rules::{RuleId, Severity};
use cpms_ports::alert_records::{ALERTS_BY, DEAD_DELIVERIES, OPEN_INCIDENTS, deliveries_of};
use cpms_ports::{Documents, PageRequest};
use schemars::JsonSchema;
use serde::Deserialize;

use super::auth::Principal;
use super::extract::{Body, Id, PageQuery, Params};
use super::views::List;
use super::{ApiState, Problem};
use crate::alerts::{ActionError, HumanAction};

/// `GET /v1/incidents` filters. Newest first.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct IncidentQuery {
    /// `open` (default: open and acknowledged), `acknowledged`, `resolved` or `all`.
    state: Option<String>,
    severity: Option<Severity>,
    site_id: Option<String>,
    charger_id: Option<String>,
    rule: Option<RuleId>,
    /// Items per page (1 to 500, default 50).
    limit: Option<usize>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
}

/// Reads of the store for one page of a filtered list, at most.
const MAX_QUERIES: usize = 10;

pub(crate) async fn list(
    State(st): State<ApiState>,
    p: Principal,
    Params(q): Params<IncidentQuery>,
) -> Result<Json<List<Incident>>, Problem> {
    let limit = PageQuery {
        limit: q.limit,
        cursor: None,
    }
    .page()?
    .limit;
    let state = q.state.as_deref().unwrap_or("open");
    let wanted: &[IncidentState] = match state {
        "open" => &[IncidentState::Open, IncidentState::Acknowledged],
        "acknowledged" => &[IncidentState::Acknowledged],
        "resolved" => &[IncidentState::Resolved],
        "all" => &[
            IncidentState::Open,
            IncidentState::Acknowledged,
            IncidentState::Resolved,
        ],
        _ => {
            return Err(Problem::bad_request(
                "state must be open, acknowledged, resolved or all",
            ));
        }
    };
    let docs = st.csms.records::<Incident>();
    let listing = |page| {
        if state == "open" || state == "acknowledged" {
            Documents::<Incident>::by_index(ALERTS_BY, OPEN_INCIDENTS, page).descending()
        } else {
            Documents::<Incident>::by_id(page).descending()
        }
    };
    let keep = |i: &Incident| {
        wanted.contains(&i.state)
            && q.severity.is_none_or(|s| s == i.severity)
            && q.rule.is_none_or(|r| r == i.rule)
            && q.site_id
                .as_ref()
                .is_none_or(|s| i.site_id.as_ref() == Some(s))
            && q.charger_id
                .as_ref()
                .is_none_or(|c| i.resource.charger() == Some(c.as_str()) || i.chargers.contains(c))
    };
    // Filters are applied to pages read in order, each asking for what is still missing (so a page
    // ends where the store's cursor does); at most MAX_QUERIES reads, then the cursor where it stopped.
    let mut out = Vec::new();
    let mut cursor = q.cursor.clone();
    for _ in 0..MAX_QUERIES {
        let page = PageRequest {
            limit: limit - out.len(),
            cursor: cursor.clone(),
        };
        let found = docs.query(&p.tenant, &listing(page)).await?;
        out.extend(found.items.into_iter().map(|v| v.value).filter(|i| keep(i)));
        cursor = found.next;
        if cursor.is_none() || out.len() == limit {
            break;
        }
    }
    Ok(Json(List {
        items: out,
        next_cursor: cursor,
    }))
}

async fn load(st: &ApiState, p: &Principal, id: &str) -> Result<Incident, Problem> {
    st.csms
        .records::<Incident>()
        .get(&p.tenant, id)
        .await?
        .map(|v| v.value)
        .ok_or_else(|| Problem::not_found(format!("no incident {id:?}")))
}

pub(crate) async fn get(
    State(st): State<ApiState>,
    p: Principal,
    Id(id): Id,
) -> Result<Json<Incident>, Problem> {
    Ok(Json(load(&st, &p, &id).await?))
}

/// `POST /v1/incidents/{id}/resolve`.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ResolveBody {
    /// Why (at most 500 characters).
    #[serde(default)]
    reason: Option<String>,
}

/// `POST /v1/incidents/{id}/assign`.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct AssignBody {
    /// Who (`null`: nobody; at most 100 characters).
    assignee: Option<String>,
}

/// `POST /v1/incidents/{id}/notes`.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NoteBody {
    /// The note (1 to 2000 characters).
    text: String,
}

async fn act(
    st: &ApiState,
    p: &Principal,
    id: &str,
    a: HumanAction,
) -> Result<Json<Incident>, Problem> {
    match st.csms.incident_action(&p.tenant, id, a, &p.actor()).await {
        Ok(i) => Ok(Json(i)),
        Err(ActionError::NotFound(_)) => Err(Problem::not_found(format!("no incident {id:?}"))),
        Err(ActionError::State(s)) => Err(Problem::conflict(s)),
        Err(ActionError::Store(e)) => Err(e.into()),
    }
}

pub(crate) async fn acknowledge(
    State(st): State<ApiState>,
    p: Principal,
    Id(id): Id,
) -> Result<Json<Incident>, Problem> {
    act(&st, &p, &id, HumanAction::Acknowledge).await
}

pub(crate) async fn resolve(
    State(st): State<ApiState>,
    p: Principal,
    Id(id): Id,
    Body(req): Body<ResolveBody>,
) -> Result<Json<Incident>, Problem> {
    if req.reason.as_ref().is_some_and(|r| r.len() > 500) {
        return Err(Problem::bad_request("reason: at most 500 characters"));
    }
    act(&st, &p, &id, HumanAction::Resolve(req.reason)).await
}

pub(crate) async fn assign(
    State(st): State<ApiState>,
    p: Principal,
    Id(id): Id,
    Body(req): Body<AssignBody>,
) -> Result<Json<Incident>, Problem> {
    if req
        .assignee
        .as_ref()
        .is_some_and(|a| a.is_empty() || a.len() > 100)
    {
        return Err(Problem::bad_request(
            "assignee: 1 to 100 characters, or null",
        ));
    }
    act(&st, &p, &id, HumanAction::Assign(req.assignee)).await
}

pub(crate) async fn note(
    State(st): State<ApiState>,
    p: Principal,
    Id(id): Id,
    Body(req): Body<NoteBody>,
) -> Result<Json<Incident>, Problem> {
    if req.text.is_empty() || req.text.len() > 2000 {
        return Err(Problem::bad_request("text: 1 to 2000 characters"));
    }
    act(&st, &p, &id, HumanAction::Note(req.text)).await
}

pub(crate) async fn deliveries(
    State(st): State<ApiState>,
    p: Principal,
    Id(id): Id,
    Params(q): Params<PageQuery>,
) -> Result<Json<List<Delivery>>, Problem> {
    load(&st, &p, &id).await?;
    deliveries_in(&st, &p, deliveries_of(&id), &q).await
}

/// One page of the deliveries listed under `partition`.
async fn deliveries_in(
    st: &ApiState,
    p: &Principal,
    partition: String,
    q: &PageQuery,
) -> Result<Json<List<Delivery>>, Problem> {
    let query = Documents::<Delivery>::by_index(ALERTS_BY, partition, q.page()?);
    let page = st
        .csms
        .records::<Delivery>()
        .query(&p.tenant, &query)
        .await?;
    Ok(Json(List::of(page, |v| v.value)))
}

pub(crate) async fn dead_deliveries(
    State(st): State<ApiState>,
    p: Principal,
    Params(q): Params<PageQuery>,
) -> Result<Json<List<Delivery>>, Problem> {
    deliveries_in(&st, &p, DEAD_DELIVERIES.into(), &q).await
}

/// `GET /v1/stream` filters.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct StreamQuery {
    /// Comma-separated: `incidents`, `status` (connector status, connections). Default: both.
    types: Option<String>,
}

/// How long one stream stays open (clients reconnect: EventSource does so by itself).
const STREAM_FOR: Duration = Duration::from_secs(3600);

pub(crate) async fn stream(
    State(st): State<ApiState>,
    p: Principal,
    Params(q): Params<StreamQuery>,
) -> Result<Sse<impl futures_util::Stream<Item = Result<Event, Infallible>>>, Problem> {
    let types = q.types.as_deref().unwrap_or("incidents,status");
    let mut incidents = false;
    let mut status = false;
    for t in types.split(',') {
        match t.trim() {
            "incidents" => incidents = true,
            "status" => status = true,
            other => {
                return Err(Problem::bad_request(format!(
                    "unknown stream type {:.40?}: incidents, status",
                    other
                )));
            }
        }
    }
    let rx = st.csms.live_events().ok_or_else(|| {
        Problem::new(
            axum::http::StatusCode::NOT_IMPLEMENTED,
            "no-live-stream",
            "this deployment has no live stream (the operator-api function cannot hold one open); \
             run cpms serve, or subscribe to the EventBridge bus",
        )
    })?;
    let tenant = p.tenant.clone();
    let until = tokio::time::Instant::now() + STREAM_FOR;
    let s = futures_util::stream::unfold(rx, move |mut rx| {
        let tenant = tenant.clone();
        async move {
            loop {
                let ev = match tokio::time::timeout_at(until, rx.recv()).await {
                    Err(_) => return None,
                    Ok(Ok(ev)) => ev,
                    Ok(Err(tokio::sync::broadcast::error::RecvError::Lagged(n))) => {
                        let e = Event::default()
                            .event("lagged")
                            .data(format!("{{\"missed\":{n}}}"));
                        return Some((Ok(e), rx));
                    }
                    Ok(Err(_)) => return None,
                };
                if ev.tenant != tenant {
                    continue;
                }
                use cpms_domain::events::EventBody as B;
                let wanted = match &ev.body {
                    B::IncidentChanged { .. } => incidents,
                    B::ConnectorStatusChanged { .. }
                    | B::ChargerConnected { .. }
                    | B::ChargerDisconnected { .. } => status,
                    _ => false,
                };
                if !wanted {
                    continue;
                }
                let data = serde_json::to_string(&ev).unwrap_or_default();
                let e = Event::default()
                    .id(ev.id.clone())
                    .event(ev.body.type_name())
                    .data(data);
                return Some((Ok(e), rx));
            }
        }
    });
    Ok(Sse::new(s).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}
