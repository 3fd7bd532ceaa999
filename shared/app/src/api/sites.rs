//! `/v1/sites`: where chargers stand (OCPI locations).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use cpms_domain::site::{Address, Coordinates, Site};
use cpms_ports::{Documents, Expected, StoreError};
use rust_decimal::Decimal;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::auth::Principal;
use super::extract::{Body, Id, PageQuery, Params};
use super::views::List;
use super::{ApiState, Problem, audit};

/// `POST /v1/sites`.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewSite {
    /// 1 to 36 letters, digits, `-`, `_` or `.`.
    id: String,
    name: String,
    address: Address,
    coordinates: Coordinates,
    /// IANA time zone, e.g. `Europe/Berlin`.
    time_zone: String,
    /// Grid connection limit in kW.
    #[serde(default, with = "cpms_ocpp::number::option")]
    #[schemars(with = "Option<f64>")]
    grid_limit_kw: Option<Decimal>,
}

/// `PATCH /v1/sites/{id}`: fields present are changed.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct SitePatch {
    name: Option<String>,
    address: Option<Address>,
    coordinates: Option<Coordinates>,
    time_zone: Option<String>,
    #[serde(default, with = "cpms_ocpp::number::option")]
    #[schemars(with = "Option<f64>")]
    grid_limit_kw: Option<Decimal>,
}

/// A site.
#[derive(Serialize, JsonSchema)]
pub(crate) struct SiteView {
    id: String,
    name: String,
    address: Address,
    coordinates: Coordinates,
    time_zone: String,
    #[serde(with = "cpms_ocpp::number::option")]
    #[schemars(with = "Option<f64>")]
    grid_limit_kw: Option<Decimal>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl From<Site> for SiteView {
    fn from(s: Site) -> Self {
        SiteView {
            id: s.id,
            name: s.name,
            address: s.address,
            coordinates: s.coordinates,
            time_zone: s.time_zone,
            grid_limit_kw: s.grid_limit_kw,
            created_at: s.created_at,
            updated_at: s.updated_at,
        }
    }
}

fn sites(st: &ApiState) -> Documents<Site> {
    st.csms.records()
}

/// A site of the caller's tenant.
pub(crate) async fn load(
    st: &ApiState,
    p: &Principal,
    id: &str,
) -> Result<cpms_ports::Versioned<Site>, Problem> {
    sites(st)
        .get(&p.tenant, id)
        .await?
        .ok_or_else(|| Problem::not_found(format!("no site {id:?}")))
}

pub(crate) async fn create(
    State(st): State<ApiState>,
    p: Principal,
    Body(req): Body<NewSite>,
) -> Result<(StatusCode, Json<SiteView>), Problem> {
    let now = st.csms.now();
    let site = Site {
        tenant: p.tenant.clone(),
        id: req.id,
        name: req.name,
        address: req.address,
        coordinates: req.coordinates,
        time_zone: req.time_zone,
        grid_limit_kw: req.grid_limit_kw,
        created_at: now,
        updated_at: now,
    };
    site.validate()?;
    let placed = vec![cpms_domain::events::for_site(&site)];
    match sites(&st)
        .put_with_events(&site, Expected::Absent, placed)
        .await
    {
        Err(StoreError::Conflict) => {
            return Err(Problem::conflict(format!("site {} exists", site.id)));
        }
        r => r?,
    };
    audit(
        &st,
        &p,
        &p.tenant,
        "site.create",
        format!("sites/{}", site.id),
        json!({"name": site.name}),
    )
    .await;
    Ok((StatusCode::CREATED, Json(site.into())))
}

pub(crate) async fn get(
    State(st): State<ApiState>,
    p: Principal,
    Id(id): Id,
) -> Result<Json<SiteView>, Problem> {
    Ok(Json(load(&st, &p, &id).await?.value.into()))
}

pub(crate) async fn list(
    State(st): State<ApiState>,
    p: Principal,
    Params(q): Params<PageQuery>,
) -> Result<Json<List<SiteView>>, Problem> {
    let page = sites(&st)
        .query(&p.tenant, &Documents::<Site>::by_id(q.page()?))
        .await?;
    Ok(Json(List::of(page, |s| s.value.into())))
}

pub(crate) async fn update(
    State(st): State<ApiState>,
    p: Principal,
    Id(id): Id,
    Body(req): Body<SitePatch>,
) -> Result<Json<SiteView>, Problem> {
    let read = load(&st, &p, &id).await?;
    let mut s = read.value;
    if let Some(v) = req.name {
        s.name = v;
    }
    if let Some(v) = req.address {
        s.address = v;
    }
    if let Some(v) = req.coordinates {
        s.coordinates = v;
    }
    if let Some(v) = req.time_zone {
        s.time_zone = v;
    }
    if req.grid_limit_kw.is_some() {
        s.grid_limit_kw = req.grid_limit_kw;
    }
    s.updated_at = st.csms.now();
    s.validate()?;
    let changed = vec![cpms_domain::events::for_site(&s)];
    sites(&st)
        .put_with_events(&s, Expected::Version(read.version), changed)
        .await?;
    audit(
        &st,
        &p,
        &p.tenant,
        "site.update",
        format!("sites/{id}"),
        json!({}),
    )
    .await;
    Ok(Json(s.into()))
}
