//! `/v1/tenants` (bootstrap key only) and `/v1/api-keys` (a tenant's admins): who may use the API.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use cpms_domain::TenantId;
use cpms_domain::access::{ApiKey, Role, Tenant, platform_tenant};
use cpms_ports::records::TenantRecord;
use cpms_ports::{Documents, Expected, StoreError};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::auth::Principal;
use super::extract::{Body, Id, PageQuery, Params};
use super::views::List;
use super::{ApiState, Problem, audit};

/// `POST /v1/tenants`.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewTenant {
    /// 1 to 64 letters, digits, `-` or `_`.
    id: String,
    /// Display name.
    name: String,
}

/// A tenant.
#[derive(Serialize, JsonSchema)]
pub(crate) struct TenantView {
    id: String,
    name: String,
    created_at: DateTime<Utc>,
}

/// A new tenant and the key of its first admin (shown only here).
#[derive(Serialize, JsonSchema)]
pub(crate) struct CreatedTenant {
    #[serde(flatten)]
    tenant: TenantView,
    admin_key: CreatedKey,
}

/// An API key (never its secret).
#[derive(Serialize, JsonSchema)]
pub(crate) struct KeyView {
    id: String,
    name: String,
    role: Role,
    created_by: String,
    created_at: DateTime<Utc>,
    revoked_at: Option<DateTime<Utc>>,
}

/// A new key: `key` is shown only in this response.
#[derive(Serialize, JsonSchema)]
pub(crate) struct CreatedKey {
    #[serde(flatten)]
    view: KeyView,
    /// Send as `Authorization: Bearer <key>`.
    key: String,
}

/// `POST /v1/api-keys`.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewKey {
    /// What it is for.
    name: String,
    /// `admin`, `operator` or `viewer`.
    role: Role,
}

fn key_view(k: ApiKey) -> KeyView {
    KeyView {
        id: k.id,
        name: k.name,
        role: k.role,
        created_by: k.created_by,
        created_at: k.created_at,
        revoked_at: k.revoked_at,
    }
}

fn tenants(st: &ApiState) -> Documents<TenantRecord> {
    st.csms.records()
}

fn keys(st: &ApiState) -> Documents<ApiKey> {
    st.csms.records()
}

async fn new_key(
    st: &ApiState,
    p: &Principal,
    tenant: TenantId,
    req: NewKey,
) -> Result<CreatedKey, Problem> {
    let (key, text) = ApiKey::generate(tenant, &req.name, req.role, &p.actor(), st.csms.now())?;
    keys(st).put(&key, Expected::Absent).await?;
    audit(
        st,
        p,
        &key.tenant,
        "api_key.create",
        format!("api-keys/{}", key.id),
        json!({"name": key.name, "role": key.role}),
    )
    .await;
    Ok(CreatedKey {
        view: key_view(key),
        key: text,
    })
}

pub(crate) async fn create_tenant(
    State(st): State<ApiState>,
    p: Principal,
    Body(req): Body<NewTenant>,
) -> Result<(StatusCode, Json<CreatedTenant>), Problem> {
    let id = TenantId::new(req.id)?;
    if id == platform_tenant() || id.as_str().starts_with('_') {
        return Err(Problem::bad_request(
            "tenant ids starting with '_' are reserved",
        ));
    }
    let name = req.name.trim().to_string();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(Problem::bad_request("name must be 1 to 200 characters"));
    }
    let t = Tenant {
        id: id.clone(),
        name,
        created_at: st.csms.now(),
    };
    match tenants(&st)
        .put(&TenantRecord(t.clone()), Expected::Absent)
        .await
    {
        Err(StoreError::Conflict) => return Err(Problem::conflict(format!("tenant {id} exists"))),
        r => r?,
    };
    audit(
        &st,
        &p,
        &platform_tenant(),
        "tenant.create",
        format!("tenants/{id}"),
        json!({"name": t.name}),
    )
    .await;
    let admin_key = new_key(
        &st,
        &p,
        id,
        NewKey {
            name: "first admin".into(),
            role: Role::Admin,
        },
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedTenant {
            tenant: TenantView {
                id: t.id.to_string(),
                name: t.name,
                created_at: t.created_at,
            },
            admin_key,
        }),
    ))
}

pub(crate) async fn list_tenants(
    State(st): State<ApiState>,
    Params(q): Params<PageQuery>,
) -> Result<Json<List<TenantView>>, Problem> {
    let page = tenants(&st)
        .query(
            &platform_tenant(),
            &Documents::<TenantRecord>::by_id(q.page()?),
        )
        .await?;
    Ok(Json(List::of(page, |t| TenantView {
        id: t.value.0.id.to_string(),
        name: t.value.0.name,
        created_at: t.value.0.created_at,
    })))
}

pub(crate) async fn create_key(
    State(st): State<ApiState>,
    p: Principal,
    Body(req): Body<NewKey>,
) -> Result<(StatusCode, Json<CreatedKey>), Problem> {
    let tenant = p.tenant.clone();
    Ok((
        StatusCode::CREATED,
        Json(new_key(&st, &p, tenant, req).await?),
    ))
}

pub(crate) async fn list_keys(
    State(st): State<ApiState>,
    p: Principal,
    Params(q): Params<PageQuery>,
) -> Result<Json<List<KeyView>>, Problem> {
    let page = keys(&st)
        .query(&p.tenant, &Documents::<ApiKey>::by_id(q.page()?))
        .await?;
    Ok(Json(List::of(page, |k| key_view(k.value))))
}

pub(crate) async fn revoke_key(
    State(st): State<ApiState>,
    p: Principal,
    Id(id): Id,
) -> Result<Json<KeyView>, Problem> {
    let not_found = || Problem::not_found(format!("no API key {id:?}"));
    let Some(mut k) = keys(&st).get(&p.tenant, &id).await? else {
        return Err(not_found());
    };
    if k.value.revoked_at.is_none() {
        k.value.revoked_at = Some(st.csms.now());
        keys(&st)
            .put(&k.value, Expected::Version(k.version))
            .await?;
        audit(
            &st,
            &p,
            &p.tenant,
            "api_key.revoke",
            format!("api-keys/{id}"),
            json!({}),
        )
        .await;
    }
    Ok(Json(key_view(k.value)))
}
