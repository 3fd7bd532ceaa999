//! The alerting set-up: `/v1/alert-rules` (the rules with the tenant's thresholds, overrides per site,
//! model or charger, site outages, remedy budget, targets), `/v1/vendor-codes`, `/v1/alert-channels`
//! (with a test notification), `/v1/escalation-policies` and `/v1/maintenance-windows`.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use cpms_domain::ids::time_ordered_id;
use cpms_domain::incidents::delivery::Delivery;
use cpms_domain::incidents::escalation::{EscalationPolicy, Tier};
use cpms_domain::incidents::maintenance::{MaintenanceWindow, WindowScope, WindowTime};
use cpms_domain::incidents::notify::{Channel, Target};
use cpms_domain::incidents::rules::{
    AlertConfig, Override, RuleId, RulePatch, RuleSettings, Severity, SiteOutage, Subject, Targets,
    VendorCode,
};
use cpms_ports::{Documents, Expected, StoreError};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::auth::Principal;
use super::extract::{Body, Id, PageQuery, Params};
use super::views::List;
use super::{ApiState, Problem, audit};

/// Most channels, policies or windows a tenant keeps of each.
const MAX_RECORDS: usize = 200;

/// The alerting configuration with every rule's settings in force for the tenant.
#[derive(Serialize, JsonSchema)]
pub(crate) struct RulesView {
    /// Each rule's settings for the whole tenant (before overrides).
    rules: BTreeMap<RuleId, RuleSettings>,
    /// The tenant's own changes, as given.
    changes: BTreeMap<RuleId, RulePatch>,
    overrides: Vec<Override>,
    site_outage: SiteOutage,
    remedies_per_day: u32,
    targets: BTreeMap<Severity, Targets>,
    default_policy: Option<String>,
}

impl From<&AlertConfig> for RulesView {
    fn from(c: &AlertConfig) -> Self {
        RulesView {
            rules: RuleId::ALL
                .into_iter()
                .map(|r| (r, c.rule(r, Subject::default())))
                .collect(),
            changes: c.rules.clone(),
            overrides: c.overrides.clone(),
            site_outage: c.site_outage,
            remedies_per_day: c.remedies_per_day,
            targets: c.targets.clone(),
            default_policy: c.default_policy.clone(),
        }
    }
}

/// `PATCH /v1/alert-rules`: what is given replaces what is stored (`rules` is merged per rule:
/// a rule's patch replaces its earlier patch; `overrides` replaces the whole list).
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RulesPatch {
    #[serde(default)]
    rules: Option<BTreeMap<RuleId, RulePatch>>,
    #[serde(default)]
    overrides: Option<Vec<Override>>,
    #[serde(default)]
    site_outage: Option<SiteOutage>,
    #[serde(default)]
    remedies_per_day: Option<u32>,
    #[serde(default)]
    targets: Option<BTreeMap<Severity, Targets>>,
    /// `""`: none.
    #[serde(default)]
    default_policy: Option<String>,
}

pub(crate) async fn get_rules(
    State(st): State<ApiState>,
    p: Principal,
) -> Result<Json<RulesView>, Problem> {
    Ok(Json(RulesView::from(
        &*st.csms.alert_config(&p.tenant).await?,
    )))
}

pub(crate) async fn update_rules(
    State(st): State<ApiState>,
    p: Principal,
    Body(req): Body<RulesPatch>,
) -> Result<Json<RulesView>, Problem> {
    let docs = st.csms.records::<AlertConfig>();
    let mut c = (*st.csms.alert_config(&p.tenant).await?).clone();
    if let Some(r) = req.rules {
        c.rules.extend(r);
    }
    if let Some(o) = req.overrides {
        c.overrides = o;
    }
    if let Some(s) = req.site_outage {
        c.site_outage = s;
    }
    if let Some(n) = req.remedies_per_day {
        c.remedies_per_day = n;
    }
    if let Some(t) = req.targets {
        c.targets = t;
    }
    if let Some(pol) = &req.default_policy {
        if !pol.is_empty() {
            policy_exists(&st, &p, pol).await?;
        }
        c.default_policy = (!pol.is_empty()).then(|| pol.clone());
    }
    c.validate()?;
    docs.replace(&c).await?;
    audit(
        &st,
        &p,
        &p.tenant,
        "alert_rules.update",
        "alert-rules".into(),
        json!({}),
    )
    .await;
    Ok(Json(RulesView::from(&c)))
}

async fn policy_exists(st: &ApiState, p: &Principal, id: &str) -> Result<(), Problem> {
    match st
        .csms
        .records::<EscalationPolicy>()
        .get(&p.tenant, id)
        .await?
    {
        Some(_) => Ok(()),
        None => Err(Problem::bad_request(format!("no escalation policy {id:?}"))),
    }
}

/// `PUT /v1/vendor-codes`: a vendor's error code and what it means (created or replaced).
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct VendorCodeBody {
    vendor: String,
    code: String,
    severity: Severity,
    /// `operator`, `vendor`, `site_host`, `grid`, `driver`, ...
    responsible: String,
    #[serde(default)]
    description: Option<String>,
}

pub(crate) async fn put_vendor_code(
    State(st): State<ApiState>,
    p: Principal,
    Body(req): Body<VendorCodeBody>,
) -> Result<Json<VendorCode>, Problem> {
    let short = |s: &str, n: usize| !s.is_empty() && s.len() <= n;
    if !short(&req.vendor, 255) || !short(&req.code, 50) || !short(&req.responsible, 50) {
        return Err(Problem::bad_request(
            "vendor (1-255), code (1-50) and responsible (1-50 characters) are required",
        ));
    }
    if req.description.as_ref().is_some_and(|d| d.len() > 500) {
        return Err(Problem::bad_request("description: at most 500 characters"));
    }
    let v = VendorCode {
        tenant: p.tenant.clone(),
        vendor: req.vendor,
        code: req.code,
        severity: req.severity,
        responsible: req.responsible,
        description: req.description,
    };
    st.csms.records::<VendorCode>().replace(&v).await?;
    audit(
        &st,
        &p,
        &p.tenant,
        "vendor_code.put",
        format!("vendor-codes/{}", VendorCode::key(&v.vendor, &v.code)),
        json!({"severity": v.severity}),
    )
    .await;
    Ok(Json(v))
}

pub(crate) async fn list_vendor_codes(
    State(st): State<ApiState>,
    p: Principal,
    Params(q): Params<PageQuery>,
) -> Result<Json<List<VendorCode>>, Problem> {
    Ok(Json(List::of(page_of(&st, &p, &q).await?, |v| v.value)))
}

pub(crate) async fn delete_vendor_code(
    State(st): State<ApiState>,
    p: Principal,
    Id(id): Id,
) -> Result<StatusCode, Problem> {
    let missing = format!("no vendor code {id:?} (ids are vendor|code)");
    delete_audited::<VendorCode>(&st, &p, &id, "vendor_code.delete", "vendor-codes", missing).await
}

/// One page of a tenant's records of kind `T`, by id.
async fn page_of<T: cpms_ports::Record>(
    st: &ApiState,
    p: &Principal,
    q: &PageQuery,
) -> Result<cpms_ports::Page<cpms_ports::Versioned<T>>, Problem> {
    Ok(st
        .csms
        .records::<T>()
        .query(&p.tenant, &Documents::<T>::by_id(q.page()?))
        .await?)
}

/// Deletes a tenant's record `id` of kind `T` and audits it as `action` on `path/id`; `missing` is the
/// not-found detail.
async fn delete_audited<T: cpms_ports::Record>(
    st: &ApiState,
    p: &Principal,
    id: &str,
    action: &str,
    path: &str,
    missing: String,
) -> Result<StatusCode, Problem> {
    if !st.csms.records::<T>().delete(&p.tenant, id).await? {
        return Err(Problem::not_found(missing));
    }
    audit(st, p, &p.tenant, action, format!("{path}/{id}"), json!({})).await;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /v1/alert-channels`.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewChannel {
    name: String,
    target: Target,
}

/// A channel (its secret is shown only when it is created).
#[derive(Serialize, JsonSchema)]
pub(crate) struct ChannelView {
    id: String,
    name: String,
    target: Target,
    created_at: DateTime<Utc>,
    /// Webhooks: the HMAC-SHA256 signing secret; only in the answer to the creation.
    #[serde(skip_serializing_if = "Option::is_none")]
    secret: Option<String>,
}

impl ChannelView {
    fn of(c: Channel, with_secret: bool) -> Self {
        ChannelView {
            id: c.id,
            name: c.name,
            target: c.target,
            created_at: c.created_at,
            secret: with_secret.then_some(c.secret),
        }
    }
}

async fn count<T: cpms_ports::Record>(st: &ApiState, p: &Principal) -> Result<usize, StoreError> {
    Ok(st.csms.records::<T>().all(&p.tenant).await?.len())
}

pub(crate) async fn create_channel(
    State(st): State<ApiState>,
    p: Principal,
    Body(req): Body<NewChannel>,
) -> Result<(StatusCode, Json<ChannelView>), Problem> {
    let now = st.csms.now();
    let c = Channel {
        tenant: p.tenant.clone(),
        id: time_ordered_id(now, rand::random()),
        name: req.name,
        target: req.target,
        secret: hex::encode(rand::random::<[u8; 32]>()),
        created_at: now,
    };
    c.validate()?;
    if count::<Channel>(&st, &p).await? >= MAX_RECORDS {
        return Err(Problem::conflict("at most 200 channels"));
    }
    st.csms
        .records::<Channel>()
        .put(&c, Expected::Absent)
        .await?;
    audit(
        &st,
        &p,
        &p.tenant,
        "alert_channel.create",
        format!("alert-channels/{}", c.id),
        json!({"name": c.name}),
    )
    .await;
    Ok((StatusCode::CREATED, Json(ChannelView::of(c, true))))
}

pub(crate) async fn list_channels(
    State(st): State<ApiState>,
    p: Principal,
    Params(q): Params<PageQuery>,
) -> Result<Json<List<ChannelView>>, Problem> {
    let page = page_of::<Channel>(&st, &p, &q).await?;
    Ok(Json(List::of(page, |c| ChannelView::of(c.value, false))))
}

async fn channel(st: &ApiState, p: &Principal, id: &str) -> Result<Channel, Problem> {
    st.csms
        .records::<Channel>()
        .get(&p.tenant, id)
        .await?
        .map(|v| v.value)
        .ok_or_else(|| Problem::not_found(format!("no alert channel {id:?}")))
}

pub(crate) async fn delete_channel(
    State(st): State<ApiState>,
    p: Principal,
    Id(id): Id,
) -> Result<StatusCode, Problem> {
    let missing = format!("no alert channel {id:?}");
    delete_audited::<Channel>(
        &st,
        &p,
        &id,
        "alert_channel.delete",
        "alert-channels",
        missing,
    )
    .await
}

pub(crate) async fn test_channel(
    State(st): State<ApiState>,
    p: Principal,
    Id(id): Id,
) -> Result<Json<Delivery>, Problem> {
    let c = channel(&st, &p, &id).await?;
    Ok(Json(st.csms.test_notice(&p.tenant, &c).await?))
}

/// `POST /v1/escalation-policies` and `PUT /v1/escalation-policies/{id}`.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct PolicyBody {
    name: String,
    tiers: Vec<Tier>,
    #[serde(default)]
    repeats: u32,
    #[serde(default = "yes")]
    notify_updates: bool,
}

fn yes() -> bool {
    true
}

async fn checked_policy(
    st: &ApiState,
    p: &Principal,
    id: String,
    req: PolicyBody,
) -> Result<EscalationPolicy, Problem> {
    let pol = EscalationPolicy {
        tenant: p.tenant.clone(),
        id,
        name: req.name,
        tiers: req.tiers,
        repeats: req.repeats,
        notify_updates: req.notify_updates,
    };
    pol.validate()?;
    if pol.name.is_empty() || pol.name.len() > 100 {
        return Err(Problem::bad_request("name: 1 to 100 characters"));
    }
    for ch in pol.tiers.iter().flat_map(|t| &t.channels) {
        channel(st, p, ch)
            .await
            .map_err(|_| Problem::bad_request(format!("no alert channel {ch:?}")))?;
    }
    Ok(pol)
}

pub(crate) async fn create_policy(
    State(st): State<ApiState>,
    p: Principal,
    Body(req): Body<PolicyBody>,
) -> Result<(StatusCode, Json<EscalationPolicy>), Problem> {
    let id = time_ordered_id(st.csms.now(), rand::random());
    let pol = checked_policy(&st, &p, id, req).await?;
    if count::<EscalationPolicy>(&st, &p).await? >= MAX_RECORDS {
        return Err(Problem::conflict("at most 200 escalation policies"));
    }
    st.csms
        .records::<EscalationPolicy>()
        .put(&pol, Expected::Absent)
        .await?;
    audit(
        &st,
        &p,
        &p.tenant,
        "escalation_policy.create",
        format!("escalation-policies/{}", pol.id),
        json!({"name": pol.name}),
    )
    .await;
    Ok((StatusCode::CREATED, Json(pol)))
}

pub(crate) async fn replace_policy(
    State(st): State<ApiState>,
    p: Principal,
    Id(id): Id,
    Body(req): Body<PolicyBody>,
) -> Result<Json<EscalationPolicy>, Problem> {
    policy_exists(&st, &p, &id)
        .await
        .map_err(|_| Problem::not_found(format!("no escalation policy {id:?}")))?;
    let pol = checked_policy(&st, &p, id, req).await?;
    st.csms.records::<EscalationPolicy>().replace(&pol).await?;
    audit(
        &st,
        &p,
        &p.tenant,
        "escalation_policy.update",
        format!("escalation-policies/{}", pol.id),
        json!({}),
    )
    .await;
    Ok(Json(pol))
}

pub(crate) async fn list_policies(
    State(st): State<ApiState>,
    p: Principal,
    Params(q): Params<PageQuery>,
) -> Result<Json<List<EscalationPolicy>>, Problem> {
    Ok(Json(List::of(page_of(&st, &p, &q).await?, |v| v.value)))
}

pub(crate) async fn delete_policy(
    State(st): State<ApiState>,
    p: Principal,
    Id(id): Id,
) -> Result<StatusCode, Problem> {
    let missing = format!("no escalation policy {id:?}");
    delete_audited::<EscalationPolicy>(
        &st,
        &p,
        &id,
        "escalation_policy.delete",
        "escalation-policies",
        missing,
    )
    .await
}

/// `POST /v1/maintenance-windows`.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewWindow {
    scope: WindowScope,
    time: WindowTime,
    #[serde(default)]
    reason: Option<String>,
}

pub(crate) async fn create_window(
    State(st): State<ApiState>,
    p: Principal,
    Body(req): Body<NewWindow>,
) -> Result<(StatusCode, Json<MaintenanceWindow>), Problem> {
    let now = st.csms.now();
    let w = MaintenanceWindow {
        tenant: p.tenant.clone(),
        id: time_ordered_id(now, rand::random()),
        scope: req.scope,
        time: req.time,
        reason: req.reason,
        created_at: now,
    };
    w.validate()?;
    if w.reason.as_ref().is_some_and(|r| r.len() > 500) {
        return Err(Problem::bad_request("reason: at most 500 characters"));
    }
    if count::<MaintenanceWindow>(&st, &p).await? >= 10 * MAX_RECORDS {
        return Err(Problem::conflict("at most 2000 maintenance windows"));
    }
    st.csms
        .records::<MaintenanceWindow>()
        .put(&w, Expected::Absent)
        .await?;
    audit(
        &st,
        &p,
        &p.tenant,
        "maintenance_window.create",
        format!("maintenance-windows/{}", w.id),
        json!({}),
    )
    .await;
    Ok((StatusCode::CREATED, Json(w)))
}

pub(crate) async fn list_windows(
    State(st): State<ApiState>,
    p: Principal,
    Params(q): Params<PageQuery>,
) -> Result<Json<List<MaintenanceWindow>>, Problem> {
    Ok(Json(List::of(page_of(&st, &p, &q).await?, |v| v.value)))
}

pub(crate) async fn delete_window(
    State(st): State<ApiState>,
    p: Principal,
    Id(id): Id,
) -> Result<StatusCode, Problem> {
    let missing = format!("no maintenance window {id:?}");
    delete_audited::<MaintenanceWindow>(
        &st,
        &p,
        &id,
        "maintenance_window.delete",
        "maintenance-windows",
        missing,
    )
    .await
}
