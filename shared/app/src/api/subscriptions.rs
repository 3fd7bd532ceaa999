//! What shapes invoices and statements: subscriptions of drivers and fleets, and the revenue split of
//! each site.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use cpms_domain::billing::{Party, RevenueSplit, Share, Subscription};
use cpms_ports::{Documents, Expected};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::auth::Principal;
use super::extract::{Body, Id, PageQuery, Params};
use super::views::List;
use super::{ApiState, Problem, audit};

/// `PUT /v1/sites/{id}/revenue-split`: the partners' shares of the site's revenue (excl. VAT).
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct SplitBody {
    shares: Vec<Share>,
}

/// A site's split.
#[derive(Serialize, JsonSchema)]
pub(crate) struct SplitView {
    site_id: String,
    shares: Vec<Share>,
    updated_at: DateTime<Utc>,
}

pub(crate) async fn put_split(
    State(st): State<ApiState>,
    p: Principal,
    Id(site): Id,
    Body(b): Body<SplitBody>,
) -> Result<Json<SplitView>, Problem> {
    super::sites::load(&st, &p, &site).await?;
    let split = RevenueSplit {
        tenant: p.tenant.clone(),
        site_id: site.clone(),
        shares: b.shares,
        updated_at: st.csms.now(),
    };
    split.validate()?;
    st.csms.records::<RevenueSplit>().replace(&split).await?;
    audit(
        &st,
        &p,
        &p.tenant,
        "site.revenue_split",
        format!("sites/{site}"),
        json!({"shares": split.shares.len()}),
    )
    .await;
    Ok(Json(SplitView {
        site_id: split.site_id,
        shares: split.shares,
        updated_at: split.updated_at,
    }))
}

pub(crate) async fn get_split(
    State(st): State<ApiState>,
    p: Principal,
    Id(site): Id,
) -> Result<Json<SplitView>, Problem> {
    super::sites::load(&st, &p, &site).await?;
    let s = st
        .csms
        .records::<RevenueSplit>()
        .get(&p.tenant, &site)
        .await?;
    Ok(Json(match s {
        Some(s) => SplitView {
            site_id: s.value.site_id,
            shares: s.value.shares,
            updated_at: s.value.updated_at,
        },
        None => SplitView {
            site_id: site,
            shares: Vec::new(),
            updated_at: st.csms.now(),
        },
    }))
}

/// `POST /v1/subscriptions`.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewSubscription {
    /// `driver:TOKEN` or `fleet:GROUP`.
    party: String,
    /// Plan name shown on invoices.
    plan: String,
    /// ISO 4217 (applies to invoices in this currency).
    currency: String,
    /// Monthly fee excl. VAT (charged pro rata for the days active).
    #[schemars(with = "f64")]
    #[serde(default, with = "cpms_ocpp::number")]
    monthly_fee: rust_decimal::Decimal,
    /// VAT on the fee, percent.
    #[schemars(with = "Option<f64>")]
    #[serde(default, with = "cpms_ocpp::number::option")]
    fee_vat: Option<rust_decimal::Decimal>,
    /// kWh a month whose energy cost is included.
    #[schemars(with = "f64")]
    #[serde(default, with = "cpms_ocpp::number")]
    included_kwh: rust_decimal::Decimal,
    /// Percent off the sessions.
    #[schemars(with = "f64")]
    #[serde(default, with = "cpms_ocpp::number")]
    discount_percent: rust_decimal::Decimal,
    /// Default: now.
    valid_from: Option<DateTime<Utc>>,
    valid_to: Option<DateTime<Utc>>,
}

/// A subscription.
#[derive(Serialize, JsonSchema)]
pub(crate) struct SubscriptionView {
    id: String,
    party: Party,
    plan: String,
    currency: String,
    #[schemars(with = "f64")]
    #[serde(with = "cpms_ocpp::number")]
    monthly_fee: rust_decimal::Decimal,
    #[schemars(with = "Option<f64>")]
    #[serde(with = "cpms_ocpp::number::option")]
    fee_vat: Option<rust_decimal::Decimal>,
    #[schemars(with = "f64")]
    #[serde(with = "cpms_ocpp::number")]
    included_kwh: rust_decimal::Decimal,
    #[schemars(with = "f64")]
    #[serde(with = "cpms_ocpp::number")]
    discount_percent: rust_decimal::Decimal,
    valid_from: DateTime<Utc>,
    valid_to: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl From<Subscription> for SubscriptionView {
    fn from(s: Subscription) -> Self {
        SubscriptionView {
            id: s.id,
            party: s.party,
            plan: s.plan,
            currency: s.currency,
            monthly_fee: s.monthly_fee,
            fee_vat: s.fee_vat,
            included_kwh: s.included_kwh,
            discount_percent: s.discount_percent,
            valid_from: s.valid_from,
            valid_to: s.valid_to,
            created_at: s.created_at,
            updated_at: s.updated_at,
        }
    }
}

pub(crate) async fn create_subscription(
    State(st): State<ApiState>,
    p: Principal,
    Body(r): Body<NewSubscription>,
) -> Result<(StatusCode, Json<SubscriptionView>), Problem> {
    let (kind, id) = r
        .party
        .split_once(':')
        .ok_or_else(|| Problem::bad_request("party: driver:TOKEN or fleet:GROUP"))?;
    let now = st.csms.now();
    let sub = Subscription {
        tenant: p.tenant.clone(),
        id: cpms_domain::ids::time_ordered_id(now, rand::random()),
        party: Party {
            kind: kind.into(),
            id: id.into(),
        },
        plan: r.plan,
        currency: r.currency,
        monthly_fee: r.monthly_fee,
        fee_vat: r.fee_vat,
        included_kwh: r.included_kwh,
        discount_percent: r.discount_percent,
        valid_from: r.valid_from.unwrap_or(now),
        valid_to: r.valid_to,
        created_at: now,
        updated_at: now,
    };
    sub.validate()?;
    st.csms
        .records::<Subscription>()
        .put(&sub, Expected::Absent)
        .await?;
    audit(
        &st,
        &p,
        &p.tenant,
        "subscription.create",
        format!("subscriptions/{}", sub.id),
        json!({"party": sub.party.key(), "plan": sub.plan}),
    )
    .await;
    Ok((StatusCode::CREATED, Json(sub.into())))
}

pub(crate) async fn list_subscriptions(
    State(st): State<ApiState>,
    p: Principal,
    Params(q): Params<PageQuery>,
) -> Result<Json<List<SubscriptionView>>, Problem> {
    let page = st
        .csms
        .records::<Subscription>()
        .query(&p.tenant, &Documents::<Subscription>::by_id(q.page()?))
        .await?;
    Ok(Json(List::of(page, |s| s.value.into())))
}

pub(crate) async fn get_subscription(
    State(st): State<ApiState>,
    p: Principal,
    Id(id): Id,
) -> Result<Json<SubscriptionView>, Problem> {
    match st
        .csms
        .records::<Subscription>()
        .get(&p.tenant, &id)
        .await?
    {
        Some(s) => Ok(Json(s.value.into())),
        None => Err(Problem::not_found(format!("no subscription {id:?}"))),
    }
}

/// `POST /v1/subscriptions/{id}/end`: ends it now (months already invoiced keep it; it stays readable).
pub(crate) async fn end_subscription(
    State(st): State<ApiState>,
    p: Principal,
    Id(id): Id,
) -> Result<Json<SubscriptionView>, Problem> {
    let docs = st.csms.records::<Subscription>();
    let Some(s) = docs.get(&p.tenant, &id).await? else {
        return Err(Problem::not_found(format!("no subscription {id:?}")));
    };
    let now = st.csms.now();
    let mut sub = s.value;
    if sub.valid_to.is_none_or(|t| t > now) {
        sub.valid_to = Some(now.max(sub.valid_from + chrono::Duration::seconds(1)));
        sub.updated_at = now;
        docs.put(&sub, Expected::Version(s.version)).await?;
        audit(
            &st,
            &p,
            &p.tenant,
            "subscription.end",
            format!("subscriptions/{id}"),
            json!({}),
        )
        .await;
    }
    Ok(Json(sub.into()))
}
