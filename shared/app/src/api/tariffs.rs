//! `/v1/tariffs`, `/v1/tariff-assignments` and price previews: tariffs (OCPI 2.2.1 terms, checked before
//! they are stored, with warnings that explain gaps and overlaps), where they apply, and what a session
//! would cost.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use cpms_domain::billing::{Scope, TariffAssignment};
use cpms_domain::tariff::{Price, Tariff, TariffCheck, TariffElement, TariffTerms, check};
use cpms_ports::{Documents, Expected, StoreError};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::auth::Principal;
use super::extract::{Body, Id, PageQuery, Params};
use super::views::List;
use super::{ApiState, Problem, audit};

/// `POST /v1/tariffs`.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewTariff {
    /// 1 to 36 letters, digits, `-`, `_` or `.` (OCPI tariff id).
    id: String,
    name: String,
    currency: String,
    elements: Vec<TariffElement>,
    min_price: Option<Price>,
    max_price: Option<Price>,
    start_date_time: Option<DateTime<Utc>>,
    end_date_time: Option<DateTime<Utc>>,
}

impl NewTariff {
    fn split(self) -> (String, TariffBody) {
        let body = TariffBody {
            name: self.name,
            currency: self.currency,
            elements: self.elements,
            min_price: self.min_price,
            max_price: self.max_price,
            start_date_time: self.start_date_time,
            end_date_time: self.end_date_time,
        };
        (self.id, body)
    }
}

/// `PUT /v1/tariffs/{id}`: the whole tariff. CDRs already made keep the terms they were priced with.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct TariffBody {
    /// Shown to operators and drivers.
    name: String,
    /// ISO 4217, e.g. `EUR`.
    currency: String,
    /// In order: per dimension the first element whose restrictions hold applies.
    elements: Vec<TariffElement>,
    min_price: Option<Price>,
    max_price: Option<Price>,
    /// Valid for sessions starting at or after this.
    start_date_time: Option<DateTime<Utc>>,
    /// Valid for sessions starting before this.
    end_date_time: Option<DateTime<Utc>>,
}

/// A tariff, with what the check found.
#[derive(Serialize, JsonSchema)]
pub(crate) struct TariffView {
    id: String,
    name: String,
    currency: String,
    elements: Vec<TariffElement>,
    min_price: Option<Price>,
    max_price: Option<Price>,
    start_date_time: Option<DateTime<Utc>>,
    end_date_time: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    /// Legal but probably unintended: uncovered times of day, overlapping or unreachable elements.
    warnings: Vec<String>,
}

impl From<Tariff> for TariffView {
    fn from(t: Tariff) -> Self {
        let warnings = check(&t.terms).warnings;
        TariffView {
            id: t.id,
            name: t.name,
            currency: t.terms.currency,
            elements: t.terms.elements,
            min_price: t.terms.min_price,
            max_price: t.terms.max_price,
            start_date_time: t.start_date_time,
            end_date_time: t.end_date_time,
            created_at: t.created_at,
            updated_at: t.updated_at,
            warnings,
        }
    }
}

/// The tariff from a request body, or a 422 naming every problem.
fn tariff_of(
    p: &Principal,
    id: String,
    b: TariffBody,
    created_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<Tariff, Problem> {
    let mut errors = Vec::new();
    if id.is_empty()
        || id.len() > 36
        || !id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
    {
        errors.push("id: 1 to 36 letters, digits, '-', '_' or '.'".to_string());
    }
    let n = b.name.trim().chars().count();
    if n == 0 || n > 100 || b.name.chars().any(char::is_control) {
        errors.push("name: 1 to 100 printable characters".into());
    }
    if let (Some(s), Some(e)) = (b.start_date_time, b.end_date_time)
        && s >= e
    {
        errors.push("start_date_time: must be before end_date_time".into());
    }
    let terms = TariffTerms {
        currency: b.currency,
        elements: b.elements,
        min_price: b.min_price,
        max_price: b.max_price,
    };
    let TariffCheck { errors: found, .. } = check(&terms);
    errors.extend(found);
    if !errors.is_empty() {
        return Err(Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid-tariff",
            errors.join("; "),
        ));
    }
    Ok(Tariff {
        tenant: p.tenant.clone(),
        id,
        name: b.name,
        terms,
        start_date_time: b.start_date_time,
        end_date_time: b.end_date_time,
        created_at,
        updated_at: now,
    })
}

pub(crate) fn tariffs(st: &ApiState) -> Documents<Tariff> {
    st.csms.records()
}

pub(crate) async fn create(
    State(st): State<ApiState>,
    p: Principal,
    Body(req): Body<NewTariff>,
) -> Result<(StatusCode, Json<TariffView>), Problem> {
    let now = st.csms.now();
    let (id, body) = req.split();
    let t = tariff_of(&p, id, body, now, now)?;
    let events = vec![cpms_domain::events::for_tariff(&t)];
    match tariffs(&st)
        .put_with_events(&t, Expected::Absent, events)
        .await
    {
        Err(StoreError::Conflict) => {
            return Err(Problem::conflict(format!("tariff {} exists", t.id)));
        }
        r => r?,
    };
    audit(
        &st,
        &p,
        &p.tenant,
        "tariff.create",
        format!("tariffs/{}", t.id),
        json!({"name": t.name}),
    )
    .await;
    Ok((StatusCode::CREATED, Json(t.into())))
}

pub(crate) async fn replace(
    State(st): State<ApiState>,
    p: Principal,
    Id(id): Id,
    Body(b): Body<TariffBody>,
) -> Result<Json<TariffView>, Problem> {
    let Some(old) = tariffs(&st).get(&p.tenant, &id).await? else {
        return Err(Problem::not_found(format!("no tariff {id:?}")));
    };
    let t = tariff_of(&p, id, b, old.value.created_at, st.csms.now())?;
    let events = vec![cpms_domain::events::for_tariff(&t)];
    tariffs(&st)
        .put_with_events(&t, Expected::Version(old.version), events)
        .await?;
    audit(
        &st,
        &p,
        &p.tenant,
        "tariff.update",
        format!("tariffs/{}", t.id),
        json!({"name": t.name}),
    )
    .await;
    Ok(Json(t.into()))
}

/// `DELETE /v1/tariffs/{id}`: refused while a scope is assigned to it (CDRs keep their own copy).
pub(crate) async fn remove(
    State(st): State<ApiState>,
    p: Principal,
    Id(id): Id,
) -> Result<StatusCode, Problem> {
    if tariffs(&st).get(&p.tenant, &id).await?.is_none() {
        return Err(Problem::not_found(format!("no tariff {id:?}")));
    }
    let using: Vec<String> = st
        .csms
        .records::<TariffAssignment>()
        .all(&p.tenant)
        .await?
        .into_iter()
        .filter(|a| a.tariff_id.as_deref() == Some(id.as_str()))
        .map(|a| a.scope)
        .collect();
    if !using.is_empty() {
        return Err(Problem::conflict(format!(
            "tariff {id} is assigned to {}; assign another tariff there first",
            using.join(", ")
        )));
    }
    tariffs(&st).delete(&p.tenant, &id).await?;
    audit(
        &st,
        &p,
        &p.tenant,
        "tariff.delete",
        format!("tariffs/{id}"),
        json!({}),
    )
    .await;
    Ok(StatusCode::NO_CONTENT)
}

pub(crate) async fn get(
    State(st): State<ApiState>,
    p: Principal,
    Id(id): Id,
) -> Result<Json<TariffView>, Problem> {
    match tariffs(&st).get(&p.tenant, &id).await? {
        Some(t) => Ok(Json(t.value.into())),
        None => Err(Problem::not_found(format!("no tariff {id:?}"))),
    }
}

pub(crate) async fn list(
    State(st): State<ApiState>,
    p: Principal,
    Params(q): Params<PageQuery>,
) -> Result<Json<List<TariffView>>, Problem> {
    let page = tariffs(&st)
        .query(&p.tenant, &Documents::<Tariff>::by_id(q.page()?))
        .await?;
    Ok(Json(List::of(page, |t| t.value.into())))
}

/// `PUT /v1/tariff-assignments/{scope}`.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct AssignmentBody {
    tariff_id: String,
}

/// Which tariff a scope has.
#[derive(Serialize, JsonSchema)]
pub(crate) struct AssignmentView {
    /// `default`, `site:ID`, `charger:ID`, `group:ID` (token group) or `partner:ID`.
    scope: String,
    tariff_id: String,
    updated_at: DateTime<Utc>,
}

impl AssignmentView {
    /// The view of a scope's assignment; `None` for one that was removed.
    fn of(a: TariffAssignment) -> Option<Self> {
        Some(AssignmentView {
            tariff_id: a.tariff_id?,
            scope: a.scope,
            updated_at: a.updated_at,
        })
    }
}

fn assignments_of(st: &ApiState) -> Documents<TariffAssignment> {
    st.csms.records()
}

pub(crate) async fn assign(
    State(st): State<ApiState>,
    p: Principal,
    Id(scope): Id,
    Body(b): Body<AssignmentBody>,
) -> Result<Json<AssignmentView>, Problem> {
    let scope = Scope::parse(&scope)?.key();
    if tariffs(&st).get(&p.tenant, &b.tariff_id).await?.is_none() {
        return Err(Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "unknown-tariff",
            format!("no tariff {:?}", b.tariff_id),
        ));
    }
    let read = assignments_of(&st).get(&p.tenant, &scope).await?;
    let a = TariffAssignment {
        tenant: p.tenant.clone(),
        scope: scope.clone(),
        tariff_id: Some(b.tariff_id.clone()),
        updated_at: st.csms.now(),
    };
    let events = vec![cpms_domain::events::for_assignment(&a, &b.tariff_id)];
    assignments_of(&st)
        .put_with_events(&a, Expected::from_read(&read), events)
        .await?;
    audit(
        &st,
        &p,
        &p.tenant,
        "tariff.assign",
        format!("tariff-assignments/{scope}"),
        json!({"tariff_id": b.tariff_id}),
    )
    .await;
    Ok(Json(AssignmentView {
        scope,
        tariff_id: b.tariff_id,
        updated_at: a.updated_at,
    }))
}

/// `DELETE /v1/tariff-assignments/{scope}`: the scope falls back to the next in precedence. The
/// assignment is kept without a tariff, so that its removal carries its event to roaming.
pub(crate) async fn unassign(
    State(st): State<ApiState>,
    p: Principal,
    Id(scope): Id,
) -> Result<StatusCode, Problem> {
    let scope = Scope::parse(&scope)?.key();
    let read = assignments_of(&st).get(&p.tenant, &scope).await?;
    let Some((old, version)) = read
        .as_ref()
        .and_then(|r| Some((r.value.tariff_id.clone()?, r.version)))
    else {
        return Err(Problem::not_found(format!(
            "no tariff is assigned to {scope}"
        )));
    };
    let a = TariffAssignment {
        tenant: p.tenant.clone(),
        scope: scope.clone(),
        tariff_id: None,
        updated_at: st.csms.now(),
    };
    let events = vec![cpms_domain::events::for_assignment(&a, &old)];
    assignments_of(&st)
        .put_with_events(&a, Expected::Version(version), events)
        .await?;
    audit(
        &st,
        &p,
        &p.tenant,
        "tariff.unassign",
        format!("tariff-assignments/{scope}"),
        json!({"tariff_id": old}),
    )
    .await;
    Ok(StatusCode::NO_CONTENT)
}

pub(crate) async fn assignments(
    State(st): State<ApiState>,
    p: Principal,
    Params(q): Params<PageQuery>,
) -> Result<Json<List<AssignmentView>>, Problem> {
    let page = st
        .csms
        .records::<TariffAssignment>()
        .query(&p.tenant, &Documents::<TariffAssignment>::by_id(q.page()?))
        .await?;
    Ok(Json(List {
        items: page
            .items
            .into_iter()
            .filter_map(|a| AssignmentView::of(a.value))
            .collect(),
        next_cursor: page.next,
    }))
}
