//! `/v1/audit`: every change and command made through the API, newest first.

use axum::Json;
use axum::extract::State;
use chrono::{DateTime, Utc};
use cpms_domain::audit::AuditEntry;
use cpms_domain::ids::time_ordered_prefix;
use cpms_ports::Documents;
use schemars::JsonSchema;
use serde::Deserialize;

use super::auth::Principal;
use super::extract::{PageQuery, Params};
use super::views::List;
use super::{ApiState, Problem};

/// Query of `GET /v1/audit`.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct AuditQuery {
    /// Entries at or after this time.
    from: Option<DateTime<Utc>>,
    /// Entries before this time.
    to: Option<DateTime<Utc>>,
    limit: Option<usize>,
    cursor: Option<String>,
}

pub(crate) async fn list(
    State(st): State<ApiState>,
    p: Principal,
    Params(q): Params<AuditQuery>,
) -> Result<Json<List<AuditEntry>>, Problem> {
    let page = PageQuery {
        limit: q.limit,
        cursor: q.cursor,
    }
    .page()?;
    let query = Documents::<AuditEntry>::by_id(page)
        .range(
            q.from.map(time_ordered_prefix),
            q.to.map(time_ordered_prefix),
        )
        .descending();
    let found = st
        .csms
        .records::<AuditEntry>()
        .query(&p.tenant, &query)
        .await?;
    Ok(Json(List::of(found, |e| e.value)))
}
