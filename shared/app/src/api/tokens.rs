//! `/v1/tokens`: the id tags / id tokens that may charge.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use cpms_domain::token::{Token, TokenStatus, token_key, validate_token_id};
use cpms_ocpp::v201::types::IdTokenEnumType;
use cpms_ports::{Expected, StoreError};
use serde::Deserialize;

use super::auth::Principal;
use super::extract::{Body, Id, PageQuery, Params};
use super::views::{List, TokenView};
use super::{ApiState, Problem, audit};

/// The 2.0.1 IdTokenEnumType values a token may be bound to.
fn kinds() -> impl Iterator<Item = &'static str> {
    IdTokenEnumType::ALL.iter().map(|k| k.as_str())
}

/// `POST /v1/tokens`.
#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewToken {
    id: String,
    /// Defaults to `accepted`.
    status: Option<TokenStatus>,
    #[serde(rename = "type")]
    kind: Option<String>,
    expires_at: Option<DateTime<Utc>>,
    group_id: Option<String>,
    /// The roaming partner (eMSP) that issued the token; its sessions are billed to it.
    partner: Option<String>,
}

/// `PATCH /v1/tokens/{id}`: fields present are changed; `null` clears an optional one.
#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct TokenPatch {
    status: Option<TokenStatus>,
    #[serde(default, deserialize_with = "double_option::deserialize")]
    #[schemars(with = "Option<String>")]
    expires_at: Option<Option<DateTime<Utc>>>,
    #[serde(default, deserialize_with = "double_option::deserialize")]
    #[schemars(with = "Option<String>")]
    group_id: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option::deserialize")]
    #[schemars(with = "Option<String>")]
    partner: Option<Option<String>>,
}

mod double_option {
    use serde::{Deserialize, Deserializer};

    pub fn deserialize<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
        d: D,
    ) -> Result<Option<Option<T>>, D::Error> {
        Option::<T>::deserialize(d).map(Some)
    }
}

fn check_group(g: &Option<String>) -> Result<(), Problem> {
    match g {
        Some(g) if validate_token_id(g).is_err() => Err(Problem::bad_request(
            "group_id and partner must be 1 to 36 printable characters",
        )),
        _ => Ok(()),
    }
}

pub(crate) async fn create(
    State(st): State<ApiState>,
    p: Principal,
    Body(req): Body<NewToken>,
) -> Result<(StatusCode, Json<TokenView>), Problem> {
    validate_token_id(&req.id)?;
    check_group(&req.group_id)?;
    check_group(&req.partner)?;
    if let Some(k) = &req.kind
        && !kinds().any(|x| x == k)
    {
        let all: Vec<_> = kinds().collect();
        return Err(Problem::bad_request(format!(
            "type must be one of {}",
            all.join(", ")
        )));
    }
    let now = st.csms.now();
    let t = Token {
        tenant: p.tenant.clone(),
        id: req.id.trim().to_string(),
        kind: req.kind,
        status: req.status.unwrap_or(TokenStatus::Accepted),
        expires_at: req.expires_at,
        group_id: req.group_id,
        partner: req.partner,
        created_at: now,
        updated_at: now,
    };
    match st.csms.ports.tokens.put(&t, Expected::Absent).await {
        Ok(_) => {
            let detail = serde_json::json!({"status": t.status, "group_id": t.group_id});
            audit(
                &st,
                &p,
                &p.tenant,
                "token.create",
                format!("tokens/{}", t.id),
                detail,
            )
            .await;
            Ok((StatusCode::CREATED, Json(t.into())))
        }
        Err(StoreError::Conflict) => Err(Problem::conflict(format!("token {:?} exists", t.id))),
        Err(e) => Err(e.into()),
    }
}

pub(crate) async fn get(
    State(st): State<ApiState>,
    p: Principal,
    Id(id): Id,
) -> Result<Json<TokenView>, Problem> {
    let tenant = &p.tenant;
    match st.csms.ports.tokens.get(tenant, &token_key(&id)).await? {
        Some(t) => Ok(Json(t.value.into())),
        None => Err(Problem::not_found(format!("no token {id:?}"))),
    }
}

pub(crate) async fn update(
    State(st): State<ApiState>,
    p: Principal,
    Id(id): Id,
    Body(patch): Body<TokenPatch>,
) -> Result<Json<TokenView>, Problem> {
    if let Some(g) = &patch.group_id {
        check_group(g)?;
    }
    if let Some(g) = &patch.partner {
        check_group(g)?;
    }
    let tenant = &p.tenant;
    let store = &st.csms.ports.tokens;
    for attempt in 0..crate::service::RETRIES {
        crate::service::backoff(attempt).await;
        let Some(read) = store.get(tenant, &token_key(&id)).await? else {
            return Err(Problem::not_found(format!("no token {id:?}")));
        };
        let mut t = read.value;
        if let Some(s) = patch.status {
            t.status = s;
        }
        if let Some(e) = patch.expires_at {
            t.expires_at = e;
        }
        if let Some(g) = &patch.group_id {
            t.group_id = g.clone();
        }
        if let Some(g) = &patch.partner {
            t.partner = g.clone();
        }
        t.updated_at = st.csms.now();
        match store.put(&t, Expected::Version(read.version)).await {
            Ok(_) => {
                let detail = serde_json::json!({"status": t.status, "group_id": t.group_id, "expires_at": t.expires_at});
                audit(
                    &st,
                    &p,
                    &p.tenant,
                    "token.update",
                    format!("tokens/{}", t.id),
                    detail,
                )
                .await;
                return Ok(Json(t.into()));
            }
            Err(StoreError::Conflict) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(StoreError::Conflict.into())
}

pub(crate) async fn list(
    State(st): State<ApiState>,
    p: Principal,
    Params(q): Params<PageQuery>,
) -> Result<Json<List<TokenView>>, Problem> {
    let tenant = &p.tenant;
    let page = st.csms.ports.tokens.list(tenant, &q.page()?).await?;
    Ok(Json(List::of(page, TokenView::from)))
}
