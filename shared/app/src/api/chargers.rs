//! `/v1/chargers`: register, list, read chargers (with live connector status and connection), their log,
//! and refused connection attempts.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use cpms_domain::charger::Charger;
use cpms_domain::log::{ConnectionAttempt, LogEntry};
use cpms_domain::{ChargerId, OcppVersion};
use cpms_ports::Expected;
use serde::{Deserialize, Serialize};

use super::auth::Principal;
use super::extract::{Body, Id, PageQuery, Params};
use super::views::{ChargerView, List};
use super::{ApiState, Problem, audit};

/// `POST /v1/chargers`.
#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewCharger {
    id: String,
    /// Basic-auth password; generated (and returned once) when absent.
    password: Option<String>,
    name: Option<String>,
    /// Pin the OCPP version (`1.6` or `2.0.1`).
    ocpp_version: Option<String>,
}

#[derive(Serialize, schemars::JsonSchema)]
#[schemars(rename = "ChargerCreated")]
pub(crate) struct Created {
    #[serde(flatten)]
    charger: ChargerView,
    /// The generated password: shown only in this response.
    #[serde(skip_serializing_if = "Option::is_none")]
    password: Option<String>,
    /// Advice about the request (e.g. a password too short for OCPP 2.0.1); empty when there is none.
    warnings: Vec<String>,
}

fn generated_password() -> String {
    cpms_domain::credentials::generate_password(rand::random())
}

/// `PUT /v1/chargers/{id}/password`.
#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct SetPassword {
    /// The password the charger now has (16 to 40 characters; hexadecimal for a 1.6 charger); generated
    /// and returned once when absent.
    password: Option<String>,
}

/// The answer to `PUT /v1/chargers/{id}/password`.
#[derive(Serialize, schemars::JsonSchema)]
pub(crate) struct PasswordSet {
    /// When it took effect.
    changed_at: chrono::DateTime<chrono::Utc>,
    /// The generated password: shown only in this response.
    #[serde(skip_serializing_if = "Option::is_none")]
    password: Option<String>,
}

/// Sets a charger's password in the CSMS (for a password configured on the charger by other means; to
/// change it on the charger too, send the `rotate_password` command). Every other password of the
/// charger stops working at once.
pub(crate) async fn set_password(
    State(st): State<ApiState>,
    p: Principal,
    Id(id): Id,
    Body(req): Body<SetPassword>,
) -> Result<Json<PasswordSet>, Problem> {
    let c = load(&st, &p, &id).await?;
    let version = c.expected_version.or(c.last_version);
    let (password, generated) = match req.password {
        Some(pw) => {
            cpms_domain::credentials::validate_password(version, &pw)?;
            (pw, false)
        }
        None => (generated_password(), true),
    };
    let hash = st.csms.hash_password(password.clone()).await;
    let now = st.csms.now();
    st.csms
        .update_charger(&c.id, |c| {
            c.password_set(hash.clone(), now);
            (true, ())
        })
        .await?
        .ok_or_else(|| Problem::not_found(format!("no charger {id:?}")))?;
    audit(
        &st,
        &p,
        &p.tenant,
        "charger.password.set",
        format!("chargers/{id}"),
        serde_json::json!({"generated": generated}),
    )
    .await;
    Ok(Json(PasswordSet {
        changed_at: now,
        password: generated.then_some(password),
    }))
}

pub(crate) async fn create(
    State(st): State<ApiState>,
    p: Principal,
    Body(req): Body<NewCharger>,
) -> Result<(StatusCode, Json<Created>), Problem> {
    let id = ChargerId::new(req.id)?;
    let expected_version = match req.ocpp_version.as_deref() {
        None => None,
        Some(v) => Some(OcppVersion::parse(v).ok_or_else(|| {
            Problem::bad_request(format!("ocpp_version {v:?} is not one of 1.6, 2.0.1"))
        })?),
    };
    let mut warnings = Vec::new();
    let (password, generated) = match req.password {
        Some(p) => {
            let n = p.chars().count();
            if n == 0 || n > 64 || p.chars().any(char::is_control) {
                return Err(Problem::bad_request(
                    "password must be 1 to 64 printable characters",
                ));
            }
            if !(16..=40).contains(&n) {
                warnings.push("OCPP 2.0.1 chargers need a password of 16 to 40 characters".into());
            }
            (p, false)
        }
        None => (generated_password(), true),
    };
    if let Some(name) = &req.name
        && name.chars().count() > 200
    {
        return Err(Problem::bad_request("name must be at most 200 characters"));
    }
    let hash = (st.csms.hash_password(password.clone()).await, password);
    let csms = &st.csms;
    let now = csms.now();
    let mut c = Charger::register(p.tenant.clone(), id.clone(), now);
    c.name = req.name;
    c.password_hash = Some(hash.0);
    c.expected_version = expected_version;
    match csms.ports.chargers.put(&c, Expected::Absent, &[]).await {
        Ok(_) => {}
        Err(cpms_ports::StoreError::Conflict) => {
            return Err(Problem::conflict(format!(
                "charger id {id} is already registered (identities are unique across the installation)"
            )));
        }
        Err(e) => return Err(e.into()),
    }
    audit(
        &st,
        &p,
        &p.tenant,
        "charger.create",
        format!("chargers/{id}"),
        serde_json::json!({"name": c.name}),
    )
    .await;
    let body = Created {
        charger: ChargerView::of(c, false),
        password: generated.then_some(hash.1),
        warnings,
    };
    Ok((StatusCode::CREATED, Json(body)))
}

/// The charger, if it belongs to the caller's tenant (others' chargers are "not found", not "forbidden").
pub(crate) async fn load(st: &ApiState, p: &Principal, id: &str) -> Result<Charger, Problem> {
    let not_found = || Problem::not_found(format!("no charger {id:?}"));
    let id = ChargerId::new(id).map_err(|_| not_found())?;
    match st.csms.ports.chargers.get(&id).await? {
        Some(c) if c.value.tenant == p.tenant => Ok(c.value),
        _ => Err(not_found()),
    }
}

async fn view(st: &ApiState, c: Charger) -> Result<ChargerView, Problem> {
    let connected = st.csms.live_connection(&c).await?.is_some();
    Ok(ChargerView::of(c, connected))
}

pub(crate) async fn get(
    State(st): State<ApiState>,
    p: Principal,
    Id(id): Id,
) -> Result<Json<ChargerView>, Problem> {
    let c = load(&st, &p, &id).await?;
    Ok(Json(view(&st, c).await?))
}

/// Query of `GET /v1/chargers`.
#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ChargerQuery {
    /// Only chargers of this site.
    site_id: Option<String>,
    /// Only connected (`true`) or offline (`false`) chargers.
    connected: Option<bool>,
    /// Items per page (1 to 500, default 50); a filtered page may hold fewer: follow `next_cursor`.
    limit: Option<usize>,
    cursor: Option<String>,
}

pub(crate) async fn list(
    State(st): State<ApiState>,
    p: Principal,
    Params(q): Params<ChargerQuery>,
) -> Result<Json<List<ChargerView>>, Problem> {
    let page = PageQuery {
        limit: q.limit,
        cursor: q.cursor,
    }
    .page()?;
    let page = st.csms.ports.chargers.list(&p.tenant, &page).await?;
    let mut items = Vec::with_capacity(page.items.len());
    for c in page.items {
        if q.site_id
            .as_ref()
            .is_some_and(|s| c.site_id.as_ref() != Some(s))
        {
            continue;
        }
        let v = view(&st, c).await?;
        if q.connected.is_some_and(|want| v.connected != want) {
            continue;
        }
        items.push(v);
    }
    Ok(Json(List {
        items,
        next_cursor: page.next,
    }))
}

/// `PATCH /v1/chargers/{id}`: fields present are changed; `null` clears `name` or `site_id`.
#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ChargerPatch {
    #[serde(default, deserialize_with = "some")]
    name: Option<Option<String>>,
    /// A site of the tenant.
    #[serde(default, deserialize_with = "some")]
    site_id: Option<Option<String>>,
    /// The EVSEs and connectors (replaces the declared topology).
    evses: Option<Vec<cpms_domain::charger::EvseSpec>>,
    /// A disabled charger's BootNotification is rejected.
    enabled: Option<bool>,
    /// Let in a Basic-auth user name other than the charger's identity (security profiles 1 and 2
    /// forbid it; only for firmware that cannot be fixed).
    allow_username_mismatch: Option<bool>,
    /// Let sessions start without authorization (2.0.1 idToken type `NoAuthorization`).
    free_charging: Option<bool>,
}

fn some<'de, D: serde::Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

pub(crate) async fn update(
    State(st): State<ApiState>,
    p: Principal,
    Id(id): Id,
    Body(req): Body<ChargerPatch>,
) -> Result<Json<ChargerView>, Problem> {
    let c = load(&st, &p, &id).await?;
    if let Some(Some(name)) = &req.name
        && (name.trim().is_empty() || name.chars().count() > 200)
    {
        return Err(Problem::bad_request("name must be 1 to 200 characters"));
    }
    if let Some(Some(site)) = &req.site_id {
        super::sites::load(&st, &p, site).await.map_err(|_| {
            Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "unknown-site",
                format!("no site {site:?}: create it first"),
            )
        })?;
    }
    if let Some(evses) = &req.evses {
        cpms_domain::charger::validate_topology(evses)?;
    }
    let updated = st
        .csms
        .update_charger(&c.id, |c| {
            if let Some(n) = &req.name {
                c.name = n.clone();
            }
            if let Some(s) = &req.site_id {
                c.site_id = s.clone();
            }
            if let Some(e) = &req.evses {
                c.evses = e.clone();
            }
            if let Some(e) = req.enabled {
                c.enabled = e;
            }
            if let Some(a) = req.allow_username_mismatch {
                c.allow_username_mismatch = a;
            }
            if let Some(f) = req.free_charging {
                c.free_charging = f;
            }
            (true, c.clone())
        })
        .await?
        .ok_or_else(|| Problem::not_found(format!("no charger {id:?}")))?;
    let detail = serde_json::json!({
        "name": req.name, "site_id": req.site_id, "enabled": req.enabled, "evses_changed": req.evses.is_some(),
        "allow_username_mismatch": req.allow_username_mismatch, "free_charging": req.free_charging,
    });
    audit(
        &st,
        &p,
        &p.tenant,
        "charger.update",
        format!("chargers/{id}"),
        detail,
    )
    .await;
    Ok(Json(view(&st, updated).await?))
}

pub(crate) async fn events(
    State(st): State<ApiState>,
    p: Principal,
    Id(id): Id,
    Params(q): Params<PageQuery>,
) -> Result<Json<List<LogEntry>>, Problem> {
    let c = load(&st, &p, &id).await?;
    let page = st.csms.ports.log.list(&c.tenant, &c.id, &q.page()?).await?;
    Ok(Json(List::of(page, |e| e)))
}

pub(crate) async fn attempts(
    State(st): State<ApiState>,
    Params(q): Params<PageQuery>,
) -> Result<Json<List<ConnectionAttempt>>, Problem> {
    let page = st.csms.ports.attempts.list(&q.page()?).await?;
    Ok(Json(List::of(page, |a| a)))
}
