//! `/v1/ocpi/...`: the tenant's own OCPI party, and its roaming partners: create one (with the
//! registration token to hand it), register with one given its versions URL and token, read where a
//! registration stands, unregister. The OCPI endpoints themselves are served by `cpms-roaming` under
//! `/ocpi/{tenant}/`.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use chrono::{DateTime, Utc};
use cpms_domain::roaming::{Partner, PartnerEndpoint, PartnerRole, PartnerState, RoamingSettings};
use cpms_roaming::RoamingError;
use cpms_roaming::handshake::NewPartner;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::auth::Principal;
use super::extract::{Body, Id, PageQuery, Params};
use super::views::List;
use super::{ApiState, Problem, audit};

impl From<RoamingError> for Problem {
    fn from(e: RoamingError) -> Self {
        match e {
            RoamingError::Store(e) => e.into(),
            RoamingError::UnknownPartner(_) => Problem::not_found(e.to_string()),
            RoamingError::PartnerExists(_) | RoamingError::Registration(_) => {
                Problem::conflict(e.to_string())
            }
            RoamingError::NotConfigured => {
                Problem::new(StatusCode::CONFLICT, "ocpi-not-configured", e.to_string())
            }
            RoamingError::Invalid(_) => Problem::bad_request(e.to_string()),
            // It answered and refused (the token given is not its token A, say): the request's fault.
            RoamingError::Partner(
                cpms_roaming::CallError::Refused { http, .. }
                | cpms_roaming::CallError::NotOcpi { http, .. },
            ) if (400..500).contains(&http) => Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "partner-refused",
                e.to_string(),
            ),
            RoamingError::UnsupportedVersion(_) | RoamingError::NoMatchingEndpoints(_) => {
                Problem::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "partner-incompatible",
                    e.to_string(),
                )
            }
            RoamingError::Partner(_) => {
                Problem::new(StatusCode::BAD_GATEWAY, "partner-failed", e.to_string())
            }
        }
    }
}

/// `PUT /v1/ocpi/settings`: the party the tenant's locations, sessions and CDRs are published under.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct SettingsBody {
    /// ISO 3166-1 alpha-2, e.g. `DE`.
    country_code: String,
    /// Three letters or digits.
    party_id: String,
    /// The operator's name partners show.
    name: String,
    website: Option<String>,
}

/// The tenant's OCPI party.
#[derive(Serialize, JsonSchema)]
pub(crate) struct SettingsView {
    country_code: String,
    party_id: String,
    name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    website: Option<String>,
    /// The versions endpoint partners register at.
    versions_url: String,
    updated_at: DateTime<Utc>,
}

fn settings_view(st: &ApiState, headers: &HeaderMap, s: RoamingSettings) -> SettingsView {
    SettingsView {
        versions_url: versions_url(st, headers, &s.tenant),
        country_code: s.country_code,
        party_id: s.party_id,
        name: s.name,
        website: s.website,
        updated_at: s.updated_at,
    }
}

fn versions_url(st: &ApiState, headers: &HeaderMap, tenant: &cpms_domain::TenantId) -> String {
    format!(
        "{}/versions",
        cpms_roaming::Roaming::ocpi_base(&st.roaming.base_url(headers), tenant)
    )
}

pub(crate) async fn get_settings(
    State(st): State<ApiState>,
    p: Principal,
    headers: HeaderMap,
) -> Result<Json<SettingsView>, Problem> {
    let s = st
        .roaming
        .settings(&p.tenant)
        .await?
        .ok_or_else(|| Problem::not_found("the tenant has no OCPI party yet"))?;
    Ok(Json(settings_view(&st, &headers, s)))
}

pub(crate) async fn put_settings(
    State(st): State<ApiState>,
    p: Principal,
    headers: HeaderMap,
    Body(b): Body<SettingsBody>,
) -> Result<Json<SettingsView>, Problem> {
    let s = st
        .roaming
        .set_settings(&p.tenant, &b.country_code, &b.party_id, b.name, b.website)
        .await?;
    audit(
        &st,
        &p,
        &p.tenant,
        "ocpi.settings",
        "ocpi".into(),
        json!({"country_code": s.country_code, "party_id": s.party_id}),
    )
    .await;
    Ok(Json(settings_view(&st, &headers, s)))
}

/// `POST /v1/ocpi/partners`.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewPartnerBody {
    name: String,
    /// ISO 3166-1 alpha-2.
    country_code: String,
    /// Three letters or digits.
    party_id: String,
    /// What the partner is to this CPO (default: an eMSP).
    #[serde(default)]
    roles: Vec<PartnerRole>,
}

/// A roaming partner. Tokens are never shown again after they are issued.
#[derive(Serialize, JsonSchema)]
pub(crate) struct PartnerView {
    /// `{country_code}-{party_id}`.
    id: String,
    name: String,
    country_code: String,
    party_id: String,
    roles: Vec<PartnerRole>,
    state: PartnerState,
    #[serde(skip_serializing_if = "Option::is_none")]
    versions_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    version: Option<String>,
    /// Its module endpoints in that version.
    endpoints: Vec<PartnerEndpoint>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl From<Partner> for PartnerView {
    fn from(p: Partner) -> Self {
        PartnerView {
            id: p.id,
            name: p.name,
            country_code: p.country_code,
            party_id: p.party_id,
            roles: p.roles,
            state: p.state,
            versions_url: p.versions_url,
            version: p.version,
            endpoints: p.endpoints,
            created_at: p.created_at,
            updated_at: p.updated_at,
        }
    }
}

/// A partner with the registration token to hand it (shown only in this answer).
#[derive(Serialize, JsonSchema)]
pub(crate) struct InvitedPartner {
    partner: PartnerView,
    /// Token A: the partner registers at `versions_url` with it.
    registration_token: String,
    /// Our versions endpoint.
    versions_url: String,
}

pub(crate) async fn create_partner(
    State(st): State<ApiState>,
    p: Principal,
    headers: HeaderMap,
    Body(b): Body<NewPartnerBody>,
) -> Result<(StatusCode, Json<InvitedPartner>), Problem> {
    let roles = if b.roles.is_empty() {
        vec![PartnerRole::Emsp]
    } else {
        b.roles
    };
    let (partner, token) = st
        .roaming
        .create_partner(
            &p.tenant,
            NewPartner {
                name: b.name,
                country_code: b.country_code,
                party_id: b.party_id,
                roles,
            },
        )
        .await?;
    audit(
        &st,
        &p,
        &p.tenant,
        "ocpi.partner.create",
        partner.id.clone(),
        json!({"name": partner.name}),
    )
    .await;
    Ok((
        StatusCode::CREATED,
        Json(InvitedPartner {
            versions_url: versions_url(&st, &headers, &p.tenant),
            partner: partner.into(),
            registration_token: token,
        }),
    ))
}

pub(crate) async fn list_partners(
    State(st): State<ApiState>,
    p: Principal,
    Params(q): Params<PageQuery>,
) -> Result<Json<List<PartnerView>>, Problem> {
    let page = st.roaming.partners(&p.tenant, q.page()?).await?;
    Ok(Json(List::of(page, PartnerView::from)))
}

pub(crate) async fn get_partner(
    State(st): State<ApiState>,
    p: Principal,
    Id(id): Id,
) -> Result<Json<PartnerView>, Problem> {
    let found = st
        .roaming
        .partner(&p.tenant, &id)
        .await?
        .ok_or_else(|| Problem::not_found(format!("no partner {id:?}")))?;
    Ok(Json(found.value.into()))
}

/// `POST /v1/ocpi/partners/{id}/register`: we register with the partner.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RegisterBody {
    /// The partner's versions endpoint.
    versions_url: String,
    /// The token the partner issued us for registering (its token A).
    token: String,
}

pub(crate) async fn register(
    State(st): State<ApiState>,
    p: Principal,
    headers: HeaderMap,
    Id(id): Id,
    Body(b): Body<RegisterBody>,
) -> Result<Json<PartnerView>, Problem> {
    let partner = st
        .roaming
        .register_with(
            &p.tenant,
            &id,
            &st.roaming.base_url(&headers),
            &b.versions_url,
            &b.token,
        )
        .await?;
    audit(
        &st,
        &p,
        &p.tenant,
        "ocpi.partner.register",
        partner.id.clone(),
        json!({"versions_url": b.versions_url}),
    )
    .await;
    Ok(Json(partner.into()))
}

pub(crate) async fn reinvite(
    State(st): State<ApiState>,
    p: Principal,
    headers: HeaderMap,
    Id(id): Id,
) -> Result<Json<InvitedPartner>, Problem> {
    let (partner, token) = st.roaming.reinvite(&p.tenant, &id).await?;
    audit(
        &st,
        &p,
        &p.tenant,
        "ocpi.partner.reinvite",
        partner.id.clone(),
        json!({}),
    )
    .await;
    Ok(Json(InvitedPartner {
        versions_url: versions_url(&st, &headers, &p.tenant),
        partner: partner.into(),
        registration_token: token,
    }))
}

/// The answer of an unregistration.
#[derive(Serialize, JsonSchema)]
pub(crate) struct Unregistered {
    partner: PartnerView,
    /// Why the partner was not told, when it was not (it is unregistered here all the same).
    #[serde(skip_serializing_if = "Option::is_none")]
    partner_error: Option<String>,
}

pub(crate) async fn unregister(
    State(st): State<ApiState>,
    p: Principal,
    Id(id): Id,
) -> Result<Json<Unregistered>, Problem> {
    let (partner, failure) = st.roaming.unregister(&p.tenant, &id).await?;
    audit(
        &st,
        &p,
        &p.tenant,
        "ocpi.partner.unregister",
        partner.id.clone(),
        json!({}),
    )
    .await;
    Ok(Json(Unregistered {
        partner: partner.into(),
        partner_error: failure.map(|e| e.to_string()),
    }))
}

/// The answer of a resync.
#[derive(Serialize, JsonSchema)]
pub(crate) struct Resynced {
    /// Locations queued for the partner.
    locations: usize,
}

pub(crate) async fn resync(
    State(st): State<ApiState>,
    p: Principal,
    Id(id): Id,
) -> Result<Json<Resynced>, Problem> {
    let found = st
        .roaming
        .partner(&p.tenant, &id)
        .await?
        .ok_or_else(|| Problem::not_found(format!("no partner {id:?}")))?;
    if found.value.state != PartnerState::Registered {
        return Err(Problem::conflict(format!("partner {id} is not registered")));
    }
    let n = st.roaming.resync(&p.tenant, Some(&id)).await?;
    audit(
        &st,
        &p,
        &p.tenant,
        "ocpi.partner.resync",
        id.clone(),
        json!({"locations": n}),
    )
    .await;
    // Sent now rather than at the next sweep (a partner that is down keeps it queued).
    if let Err(e) = st.roaming.deliver(&p.tenant, &id).await {
        tracing::warn!(partner = %id, error = %e, "the resync's first delivery failed; the sweep retries");
    }
    Ok(Json(Resynced { locations: n }))
}

/// `?module=&object=` of a delivery log.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct LogQuery {
    /// Items per page (1 to 500, default 50).
    limit: Option<usize>,
    cursor: Option<String>,
    /// With `object`: only this object's attempts (`locations`, `sessions`, `cdrs`).
    module: Option<String>,
    /// The object's OCPI id.
    object: Option<String>,
}

/// One attempt to send an object to the partner.
#[derive(Serialize, JsonSchema)]
pub(crate) struct AttemptView {
    module: String,
    object_id: String,
    method: String,
    at: DateTime<Utc>,
    ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    http_status: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ocpi_status: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    took_ms: u64,
}

async fn known(st: &ApiState, p: &Principal, id: &str) -> Result<(), Problem> {
    st.roaming
        .partner(&p.tenant, id)
        .await?
        .map(|_| ())
        .ok_or_else(|| Problem::not_found(format!("no partner {id:?}")))
}

pub(crate) async fn deliveries(
    State(st): State<ApiState>,
    p: Principal,
    Id(id): Id,
    Params(q): Params<LogQuery>,
) -> Result<Json<List<AttemptView>>, Problem> {
    known(&st, &p, &id).await?;
    let page = PageQuery {
        limit: q.limit,
        cursor: q.cursor,
    }
    .page()?;
    let object = match (&q.module, &q.object) {
        (Some(m), Some(o)) => Some((m.as_str(), o.as_str())),
        (None, None) => None,
        _ => return Err(Problem::bad_request("module and object go together")),
    };
    let found = st
        .roaming
        .delivery_log(&p.tenant, &id, object, page)
        .await?;
    Ok(Json(List::of(found, |a| AttemptView {
        module: a.module,
        object_id: a.object_id,
        method: a.method,
        at: a.at,
        ok: a.ok,
        http_status: a.http_status,
        ocpi_status: a.ocpi_status,
        error: a.error,
        took_ms: a.took_ms,
    })))
}

/// An object waiting to be sent to the partner.
#[derive(Serialize, JsonSchema)]
pub(crate) struct QueuedView {
    module: String,
    object_id: String,
    /// `put`, `patch_evse`, `post` or `delete`.
    action: String,
    queued_at: DateTime<Utc>,
    attempts: u32,
    next_at: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_error: Option<String>,
    /// Refused by the partner as invalid: not retried until a resync.
    dead: bool,
}

pub(crate) async fn queue(
    State(st): State<ApiState>,
    p: Principal,
    Id(id): Id,
    Params(q): Params<PageQuery>,
) -> Result<Json<List<QueuedView>>, Problem> {
    known(&st, &p, &id).await?;
    let found = st.roaming.queued(&p.tenant, &id, q.page()?).await?;
    Ok(Json(List::of(found, |j| QueuedView {
        action: match j.action {
            cpms_domain::roaming::PushAction::Put => "put".into(),
            cpms_domain::roaming::PushAction::PatchEvse { .. } => "patch_evse".into(),
            cpms_domain::roaming::PushAction::Post => "post".into(),
            cpms_domain::roaming::PushAction::Delete => "delete".into(),
        },
        module: j.module,
        object_id: j.object_id,
        queued_at: j.queued_at,
        attempts: j.attempts,
        next_at: j.next_at,
        last_error: j.last_error,
        dead: j.dead,
    })))
}
