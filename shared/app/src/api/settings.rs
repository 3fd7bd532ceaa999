//! `/v1/settings`: the tenant's settings (the defaults until an admin changes one).

use axum::Json;
use axum::extract::State;
use cpms_domain::settings::TenantSettings;
use serde::Deserialize;

use super::auth::Principal;
use super::extract::Body;
use super::{ApiState, Problem, audit};

/// `PATCH /v1/settings`: fields present are changed.
#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct SettingsPatch {
    /// Seconds between two `CostUpdated` to a running 2.0.1 session's station (0 to 900; 0: with every
    /// meter value that changes the cost).
    running_cost_interval_s: Option<u32>,
    /// Days each charger's status timeline is kept (30 to 3650). Applies to days recorded from now on.
    timeline_retention_days: Option<u32>,
}

pub(crate) async fn get(
    State(st): State<ApiState>,
    p: Principal,
) -> Result<Json<TenantSettings>, Problem> {
    Ok(Json(st.csms.settings(&p.tenant).await?))
}

pub(crate) async fn update(
    State(st): State<ApiState>,
    p: Principal,
    Body(req): Body<SettingsPatch>,
) -> Result<Json<TenantSettings>, Problem> {
    let mut s = st.csms.settings(&p.tenant).await?;
    if let Some(i) = req.running_cost_interval_s {
        s.running_cost_interval_s = i;
    }
    if let Some(d) = req.timeline_retention_days {
        s.timeline_retention_days = d;
    }
    s.validate()?;
    s.updated_at = Some(st.csms.now());
    st.csms.records::<TenantSettings>().replace(&s).await?;
    let detail = serde_json::json!({"running_cost_interval_s": req.running_cost_interval_s,
        "timeline_retention_days": req.timeline_retention_days});
    audit(
        &st,
        &p,
        &p.tenant,
        "settings.update",
        "settings".into(),
        detail,
    )
    .await;
    Ok(Json(s))
}
