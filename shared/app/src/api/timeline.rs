//! `GET /v1/chargers/{id}/timeline`: a charger's status timeline over a period, or one EVSE's or
//! connector's.

use axum::Json;
use axum::extract::State;
use chrono::{DateTime, Utc};
use cpms_domain::incidents::timeline::TimelineEntry;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::auth::Principal;
use super::extract::{Id, Params};
use super::{ApiState, Problem};
use crate::service::timeline::MAX_PERIOD_DAYS;

/// The query of a timeline.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct TimelineQuery {
    /// Start, inclusive (default: 24 hours before `to`).
    from: Option<DateTime<Utc>>,
    /// End, exclusive (default: now). At most 31 days after `from`.
    to: Option<DateTime<Utc>>,
    /// Only this EVSE (and the charger's own entries).
    evse_id: Option<u32>,
    /// Only this connector of `evse_id`.
    connector_id: Option<u32>,
    /// The most entries returned, oldest first (1 to 5000, default 1000).
    limit: Option<usize>,
}

/// A timeline over a period.
#[derive(Serialize, JsonSchema)]
pub(crate) struct TimelineView {
    charger_id: String,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    /// Per EVSE and connector, the last status reported before `from`: the state in force then.
    initial: Vec<TimelineEntry>,
    /// What happened in the period, in the charger's order.
    entries: Vec<TimelineEntry>,
    /// More entries than `limit` fell in the period: ask again from the last one's time.
    truncated: bool,
}

pub(crate) async fn get(
    State(st): State<ApiState>,
    p: Principal,
    Id(id): Id,
    Params(q): Params<TimelineQuery>,
) -> Result<Json<TimelineView>, Problem> {
    let cid = super::chargers::load(&st, &p, &id).await?.id;
    let to = q.to.unwrap_or_else(|| st.csms.now());
    let from = q.from.unwrap_or(to - chrono::Duration::hours(24));
    if from >= to || to - from > chrono::Duration::days(MAX_PERIOD_DAYS) {
        return Err(Problem::bad_request(format!(
            "from must be before to, at most {MAX_PERIOD_DAYS} days apart"
        )));
    }
    if q.connector_id.is_some() && q.evse_id.is_none() {
        return Err(Problem::bad_request("connector_id needs evse_id"));
    }
    let limit = q.limit.unwrap_or(1000);
    if !(1..=5000).contains(&limit) {
        return Err(Problem::bad_request("limit must be 1 to 5000"));
    }
    let (initial, mut entries) = st
        .csms
        .timeline(&p.tenant, &cid, from, to, q.evse_id, q.connector_id)
        .await?;
    let truncated = entries.len() > limit;
    entries.truncate(limit);
    Ok(Json(TimelineView {
        charger_id: id,
        from,
        to,
        initial,
        entries,
        truncated,
    }))
}
