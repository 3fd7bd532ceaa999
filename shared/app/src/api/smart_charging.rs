//! Smart charging's operator API: a site's electrical tree and rules, what is posted for it (price
//! curve, external limits, readings of other loads), its live allocation, an allocation preview, and a
//! charger's profiles as the CSMS believes them installed. Every change computes the site again.

use axum::Json;
use axum::extract::State;
use chrono::{DateTime, Utc};
use cpms_domain::DomainError;
use cpms_domain::allocation::{
    Allocation, ChargerProfiles, Demand, ElectricalTree, EvNeeds, ExternalLimit, InstalledProfile,
    LoadReading, PricePoint, SiteConditions, SiteGrid, SitePolicy, state,
};
use cpms_ports::{Expected, StoreError};
use rust_decimal::Decimal;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::auth::Principal;
use super::extract::{Body, Id};
use super::{ApiState, Problem, audit};

/// `PUT /v1/sites/{id}/electrical`.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct GridBody {
    /// The tree: the grid connection, boards, chargers, EVSEs.
    tree: ElectricalTree,
    /// Schedules, price caps and settings (defaults when absent).
    #[serde(default)]
    policy: Option<SitePolicy>,
}

/// A site's electrical model.
#[derive(Serialize, JsonSchema)]
pub(crate) struct GridView {
    site_id: String,
    tree: ElectricalTree,
    policy: SitePolicy,
    /// Allowed but probably wrong (a node limited above the node it hangs from).
    warnings: Vec<String>,
    updated_at: DateTime<Utc>,
}

fn invalid(e: DomainError) -> Problem {
    Problem::from(e)
}

async fn grid_view(g: SiteGrid) -> Result<GridView, Problem> {
    let warnings = g.tree.resolve().map(|r| r.warnings).unwrap_or_default();
    Ok(GridView {
        site_id: g.site_id,
        tree: g.tree,
        policy: g.policy,
        warnings,
        updated_at: g.updated_at,
    })
}

/// Computes the site again after a change; a failure is logged (the next event computes it).
async fn recompute(st: &ApiState, p: &Principal, site: &str, why: &str) {
    if let Err(e) = st.csms.recompute_site(&p.tenant, site, why).await {
        tracing::warn!(site, error = %e, "computing the site after a change failed");
    }
}

pub(crate) async fn put_grid(
    State(st): State<ApiState>,
    p: Principal,
    Id(site): Id,
    Body(b): Body<GridBody>,
) -> Result<Json<GridView>, Problem> {
    super::sites::load(&st, &p, &site).await?;
    let resolved = b.tree.resolve().map_err(invalid)?;
    let policy = b.policy.unwrap_or_default();
    policy.validate(&resolved).map_err(invalid)?;
    let g = SiteGrid {
        tenant: p.tenant.clone(),
        site_id: site.clone(),
        tree: b.tree,
        policy,
        updated_at: st.csms.now(),
    };
    st.csms.site_grids().replace(&g).await?;
    audit(
        &st,
        &p,
        &p.tenant,
        "site.electrical",
        format!("sites/{site}"),
        json!({"nodes": g.tree.nodes.len(), "schedules": g.policy.schedules.len()}),
    )
    .await;
    recompute(&st, &p, &site, "electrical model changed").await;
    Ok(Json(grid_view(g).await?))
}

pub(crate) async fn get_grid(
    State(st): State<ApiState>,
    p: Principal,
    Id(site): Id,
) -> Result<Json<GridView>, Problem> {
    super::sites::load(&st, &p, &site).await?;
    let g = st
        .csms
        .site_grids()
        .get(&p.tenant, &site)
        .await?
        .ok_or_else(|| Problem::not_found(format!("site {site:?} has no electrical model")))?;
    Ok(Json(grid_view(g.value).await?))
}

/// What is posted for a site.
#[derive(Serialize, JsonSchema)]
pub(crate) struct ConditionsView {
    site_id: String,
    price_curve: Vec<PricePoint>,
    external_limits: Vec<ExternalLimit>,
    readings: Vec<LoadReading>,
    updated_at: Option<DateTime<Utc>>,
}

/// Changes a site's conditions (read, change, write with its version; retried on a concurrent change).
async fn change_conditions(
    st: &ApiState,
    p: &Principal,
    site: &str,
    change: impl Fn(&mut SiteConditions) -> Result<(), Problem>,
) -> Result<SiteConditions, Problem> {
    let grid = st.csms.site_grids().get(&p.tenant, site).await?;
    let Some(grid) = grid else {
        return Err(Problem::not_found(format!(
            "site {site:?} has no electrical model: PUT /v1/sites/{site}/electrical first"
        )));
    };
    let tree = grid.value.tree.resolve().map_err(invalid)?;
    let docs = st.csms.site_conditions();
    for _ in 0..crate::service::RETRIES {
        let read = docs.get(&p.tenant, site).await?;
        let now = st.csms.now();
        let mut c = read
            .as_ref()
            .map(|r| r.value.clone())
            .unwrap_or(SiteConditions {
                tenant: p.tenant.clone(),
                site_id: site.to_string(),
                conditions: Default::default(),
                updated_at: now,
            });
        change(&mut c)?;
        let unknown = c
            .conditions
            .external_limits
            .iter()
            .map(|e| &e.node)
            .chain(c.conditions.readings.iter().map(|r| &r.node))
            .find(|n| tree.get(n).is_none());
        if let Some(n) = unknown {
            return Err(Problem::from(DomainError::Invalid {
                field: "node",
                reason: format!("{n:?} is not a node of the site's tree"),
            }));
        }
        c.prune(now);
        c.updated_at = now;
        let expected = read.map_or(Expected::Absent, |r| Expected::Version(r.version));
        match docs.put(&c, expected).await {
            Ok(_) => return Ok(c),
            Err(StoreError::Conflict) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(StoreError::Conflict.into())
}

fn conditions_view(c: SiteConditions) -> ConditionsView {
    ConditionsView {
        site_id: c.site_id,
        price_curve: c.conditions.price_curve,
        external_limits: c.conditions.external_limits,
        readings: c.conditions.readings,
        updated_at: Some(c.updated_at),
    }
}

/// `PUT /v1/sites/{id}/price-curve`.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct PriceCurveBody {
    /// Intervals; they replace the curve from the first one's start on.
    points: Vec<PricePoint>,
}

pub(crate) async fn put_price_curve(
    State(st): State<ApiState>,
    p: Principal,
    Id(site): Id,
    Body(b): Body<PriceCurveBody>,
) -> Result<Json<ConditionsView>, Problem> {
    if b.points.len() > state::MAX_PRICE_POINTS {
        return Err(invalid(DomainError::Invalid {
            field: "points",
            reason: format!("at most {} intervals", state::MAX_PRICE_POINTS),
        }));
    }
    let mut points = b.points;
    points.sort_by_key(|x| x.from);
    if let Some(bad) = points.iter().find(|x| x.to <= x.from) {
        return Err(invalid(DomainError::Invalid {
            field: "points",
            reason: format!("the interval from {} ends before it starts", bad.from),
        }));
    }
    if points.windows(2).any(|w| w[1].from < w[0].to) {
        return Err(invalid(DomainError::Invalid {
            field: "points",
            reason: "intervals overlap".into(),
        }));
    }
    let start = points.first().map(|x| x.from);
    let c = change_conditions(&st, &p, &site, |c| {
        if let Some(start) = start {
            c.conditions.price_curve.retain(|x| x.to <= start);
        }
        c.conditions.price_curve.extend(points.iter().cloned());
        Ok(())
    })
    .await?;
    recompute(&st, &p, &site, "price curve changed").await;
    Ok(Json(conditions_view(c)))
}

pub(crate) async fn post_external_limit(
    State(st): State<ApiState>,
    p: Principal,
    Id(site): Id,
    Body(b): Body<ExternalLimit>,
) -> Result<Json<ConditionsView>, Problem> {
    let ok_id = (1..=64).contains(&b.id.len()) && !b.id.chars().any(char::is_control);
    if !ok_id || (b.limit_a.is_none() && b.limit_kw.is_none()) {
        return Err(invalid(DomainError::Invalid {
            field: "limit",
            reason: "an external limit has an id (1 to 64 characters) and limit_a or limit_kw"
                .into(),
        }));
    }
    if b.limit_a.is_some_and(|v| v < Decimal::ZERO) || b.limit_kw.is_some_and(|v| v < Decimal::ZERO)
    {
        return Err(invalid(DomainError::Invalid {
            field: "limit",
            reason: "limits are zero or more".into(),
        }));
    }
    let c = change_conditions(&st, &p, &site, |c| {
        c.conditions.external_limits.retain(|e| e.id != b.id);
        if c.conditions.external_limits.len() >= state::MAX_EXTERNAL_LIMITS {
            return Err(Problem::conflict(format!(
                "the site has {} external limits already",
                state::MAX_EXTERNAL_LIMITS
            )));
        }
        c.conditions.external_limits.push(b.clone());
        Ok(())
    })
    .await?;
    audit(
        &st,
        &p,
        &p.tenant,
        "site.external_limit",
        format!("sites/{site}"),
        json!({"id": b.id, "node": b.node, "until": b.until}),
    )
    .await;
    recompute(&st, &p, &site, "external limit").await;
    Ok(Json(conditions_view(c)))
}

pub(crate) async fn post_reading(
    State(st): State<ApiState>,
    p: Principal,
    Id(site): Id,
    Body(b): Body<LoadReading>,
) -> Result<Json<ConditionsView>, Problem> {
    let bad_current = b
        .current_a
        .as_ref()
        .is_some_and(|a| a.is_empty() || a.len() > 3 || a.iter().any(|v| *v < Decimal::ZERO));
    if bad_current || (b.current_a.is_none() && b.power_kw.is_none()) {
        return Err(invalid(DomainError::Invalid {
            field: "reading",
            reason: "current_a (1 to 3 values of 0 or more, L1 to L3) or power_kw".into(),
        }));
    }
    let c = change_conditions(&st, &p, &site, |c| {
        c.conditions.readings.push(b.clone());
        Ok(())
    })
    .await?;
    recompute(&st, &p, &site, "reading of other loads").await;
    Ok(Json(conditions_view(c)))
}

pub(crate) async fn get_conditions(
    State(st): State<ApiState>,
    p: Principal,
    Id(site): Id,
) -> Result<Json<ConditionsView>, Problem> {
    super::sites::load(&st, &p, &site).await?;
    let c = st.csms.site_conditions().get(&p.tenant, &site).await?;
    Ok(Json(match c {
        Some(c) => conditions_view(c.value),
        None => ConditionsView {
            site_id: site,
            price_curve: vec![],
            external_limits: vec![],
            readings: vec![],
            updated_at: None,
        },
    }))
}

/// A connector in the live allocation: its limit beside what it draws.
#[derive(Serialize, JsonSchema)]
pub(crate) struct LiveConnector {
    #[serde(flatten)]
    limit: cpms_domain::allocation::ConnectorLimit,
    /// Current it draws now (highest phase), in A.
    #[serde(with = "cpms_ocpp::number::option")]
    #[schemars(with = "Option<f64>")]
    measured_a: Option<Decimal>,
    /// Power it draws now, in W.
    #[serde(with = "cpms_ocpp::number::option")]
    #[schemars(with = "Option<f64>")]
    measured_w: Option<Decimal>,
    /// Whether it keeps to its limit (within 2 A); false for a charger found to refuse profiles or to
    /// ignore its limit; absent when nothing is measured.
    compliant: Option<bool>,
}

/// A site's live allocation.
#[derive(Serialize, JsonSchema)]
pub(crate) struct AllocationView {
    site_id: String,
    computed_at: DateTime<Utc>,
    trigger: String,
    next_change: Option<DateTime<Utc>>,
    connectors: Vec<LiveConnector>,
    nodes: Vec<cpms_domain::allocation::NodeLoad>,
    warnings: Vec<String>,
}

pub(crate) async fn get_allocation(
    State(st): State<ApiState>,
    p: Principal,
    Id(site): Id,
) -> Result<Json<AllocationView>, Problem> {
    super::sites::load(&st, &p, &site).await?;
    let a = match st.csms.site_allocations().get(&p.tenant, &site).await? {
        Some(a) => a.value,
        None => st
            .csms
            .recompute_site(&p.tenant, &site, "read")
            .await?
            .ok_or_else(|| Problem::not_found(format!("site {site:?} has no electrical model")))?,
    };
    let mut connectors = Vec::new();
    for c in a.allocation.connectors {
        let s = match c.session_id.as_deref().map(cpms_domain::SessionId::parse) {
            Some(Ok(id)) => st.csms.ports.sessions.get(&p.tenant, &id).await?,
            _ => None,
        };
        let latest = s.map(|s| s.value.latest);
        let measured_a = latest.as_ref().and_then(|l| l.current_a);
        // A reserved charger was found not to comply (or is offline): compliance is what it was
        // found to be, not its draw against the reservation.
        let flagged = match c.state {
            cpms_domain::allocation::ConnectorState::Reserved => st
                .csms
                .charger_profiles()
                .get(&p.tenant, c.charger.as_str())
                .await?
                .map(|v| !v.value.controllable()),
            _ => None,
        };
        let compliant = match flagged {
            Some(true) => Some(false),
            _ => measured_a.map(|m| m <= c.limit_a + Decimal::TWO),
        };
        connectors.push(LiveConnector {
            measured_w: latest.and_then(|l| l.power_w),
            measured_a,
            compliant,
            limit: c,
        });
    }
    Ok(Json(AllocationView {
        site_id: a.site_id,
        computed_at: a.computed_at,
        trigger: a.trigger,
        next_change: a.next_change,
        connectors,
        nodes: a.allocation.nodes,
        warnings: a.allocation.warnings,
    }))
}

/// `POST /v1/sites/{id}/allocation/preview`.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct PreviewBody {
    /// Hypothetical connectors that charge.
    demands: Vec<Demand>,
    /// The instant (schedules, prices); now when absent.
    #[serde(default)]
    at: Option<DateTime<Utc>>,
}

/// Most demands in one preview.
const MAX_PREVIEW: usize = 5000;

pub(crate) async fn preview(
    State(st): State<ApiState>,
    p: Principal,
    Id(site): Id,
    Body(b): Body<PreviewBody>,
) -> Result<Json<Allocation>, Problem> {
    super::sites::load(&st, &p, &site).await?;
    if b.demands.len() > MAX_PREVIEW {
        return Err(invalid(DomainError::Invalid {
            field: "demands",
            reason: format!("at most {MAX_PREVIEW}"),
        }));
    }
    let at = b.at.unwrap_or_else(|| st.csms.now());
    let c = st
        .csms
        .compute_site(&p.tenant, &site, Some(b.demands), at)
        .await?
        .ok_or_else(|| {
            Problem::not_found(format!("site {site:?} has no (valid) electrical model"))
        })?;
    Ok(Json(c.allocation))
}

/// A charger's charging profiles as smart charging sees them.
#[derive(Serialize, JsonSchema)]
pub(crate) struct ChargerProfilesView {
    charger_id: String,
    /// As the CSMS believes them installed (the newest per EVSE and purpose it sent).
    installed: Vec<InstalledProfile>,
    /// The charger refused a profile: reserved at its rating until it accepts one.
    refuses_profiles: bool,
    /// The charger drew above its limit for several readings: reserved at its rating.
    ignores_limits: bool,
    /// Per EVSE, the readings above the limit in a row (and since when).
    over_limit: Vec<cpms_domain::allocation::OverLimit>,
    /// What the charger said it can do with profiles, read at its boot.
    capabilities: Option<cpms_domain::allocation::ProfileCapabilities>,
    /// What the cars asked for (2.0.1 NotifyEVChargingNeeds).
    needs: Vec<EvNeeds>,
    /// Limits set by others on the charger (2.0.1 NotifyChargingLimit).
    external: Vec<cpms_domain::allocation::ChargerLimit>,
    /// Limits set on its sessions from outside the site (a roaming partner's smart charging).
    session_limits: Vec<cpms_domain::allocation::SessionLimit>,
    /// As the charger last reported them (the newest get_charging_profiles or get_composite_schedule
    /// command's result), when one was asked for.
    last_reported: Option<serde_json::Value>,
    updated_at: Option<DateTime<Utc>>,
}

pub(crate) async fn charger_profiles(
    State(st): State<ApiState>,
    p: Principal,
    Id(id): Id,
) -> Result<Json<ChargerProfilesView>, Problem> {
    let cid = super::chargers::load(&st, &p, &id).await?.id;
    let cp: Option<ChargerProfiles> = st
        .csms
        .charger_profiles()
        .get(&p.tenant, &id)
        .await?
        .map(|v| v.value);
    let last_reported = st.csms.last_profile_report(&p.tenant, &cid).await?;
    Ok(Json(match cp {
        Some(c) => ChargerProfilesView {
            charger_id: id,
            installed: c.installed,
            refuses_profiles: c.refuses_profiles,
            ignores_limits: c.ignores_limits,
            over_limit: c.over_limit,
            capabilities: c.capabilities,
            needs: c.needs,
            external: c.external,
            session_limits: c.session_limits,
            last_reported,
            updated_at: Some(c.updated_at),
        },
        None => ChargerProfilesView {
            charger_id: id,
            installed: vec![],
            refuses_profiles: false,
            ignores_limits: false,
            over_limit: vec![],
            capabilities: None,
            needs: vec![],
            session_limits: vec![],
            external: vec![],
            last_reported,
            updated_at: None,
        },
    }))
}

/// `GET /v1/sites/{id}/load`.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct LoadQuery {
    /// Start (default: 24 hours ago).
    from: Option<DateTime<Utc>>,
    /// End (default: now).
    to: Option<DateTime<Utc>>,
    /// `1m` or `15m` (default).
    resolution: Option<String>,
}

/// A site's load over a period.
#[derive(Serialize, JsonSchema)]
pub(crate) struct LoadView {
    site_id: String,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    resolution: String,
    buckets: Vec<cpms_domain::allocation::LoadBucket>,
    /// The highest 15-minute average of the period (what demand charges bill).
    peak: Option<cpms_domain::allocation::LoadBucket>,
}

fn period(
    st: &ApiState,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
    max_days: i64,
) -> Result<(DateTime<Utc>, DateTime<Utc>), Problem> {
    let to = to.unwrap_or_else(|| st.csms.now());
    let from = from.unwrap_or(to - chrono::Duration::hours(24));
    if from >= to || to - from > chrono::Duration::days(max_days) {
        return Err(invalid(DomainError::Invalid {
            field: "from",
            reason: format!("from before to, at most {max_days} days apart"),
        }));
    }
    Ok((from, to))
}

pub(crate) async fn load(
    State(st): State<ApiState>,
    p: Principal,
    Id(site): Id,
    super::extract::Params(q): super::extract::Params<LoadQuery>,
) -> Result<Json<LoadView>, Problem> {
    super::sites::load(&st, &p, &site).await?;
    let resolution = q.resolution.unwrap_or_else(|| "15m".into());
    let (width, max_days) = match resolution.as_str() {
        "1m" => (chrono::Duration::minutes(1), 2),
        "15m" => (chrono::Duration::minutes(15), 62),
        other => {
            return Err(invalid(DomainError::Invalid {
                field: "resolution",
                reason: format!("{other:?}: 1m or 15m"),
            }));
        }
    };
    let (from, to) = period(&st, q.from, q.to, max_days)?;
    let steps = st.csms.site_load(&p.tenant, &site, from, to).await?;
    Ok(Json(LoadView {
        buckets: cpms_domain::allocation::load::buckets(&steps, from, to, width),
        peak: cpms_domain::allocation::load::peak(&steps, from, to),
        site_id: site,
        from,
        to,
        resolution,
    }))
}

/// `GET /v1/sites/{id}/energy-cost`.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CostQuery {
    /// Start (default: 24 hours ago).
    from: Option<DateTime<Utc>>,
    /// End (default: now).
    to: Option<DateTime<Utc>>,
}

/// What a site's charging cost under its price curve.
#[derive(Serialize, JsonSchema)]
pub(crate) struct EnergyCostView {
    site_id: String,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    #[serde(flatten)]
    cost: cpms_domain::allocation::EnergyCost,
}

pub(crate) async fn energy_cost(
    State(st): State<ApiState>,
    p: Principal,
    Id(site): Id,
    super::extract::Params(q): super::extract::Params<CostQuery>,
) -> Result<Json<EnergyCostView>, Problem> {
    super::sites::load(&st, &p, &site).await?;
    let (from, to) = period(&st, q.from, q.to, 62)?;
    let steps = st.csms.site_load(&p.tenant, &site, from, to).await?;
    let curve = st
        .csms
        .site_conditions()
        .get(&p.tenant, &site)
        .await?
        .map(|c| c.value.conditions.price_curve)
        .unwrap_or_default();
    Ok(Json(EnergyCostView {
        cost: cpms_domain::allocation::load::energy_cost(&steps, &curve, from, to),
        site_id: site,
        from,
        to,
    }))
}
