//! Prices before and without charging: a preview of what a session would cost (by a tariff, or by what
//! applies at a charger), and the ad-hoc price at a charger now (price transparency).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Duration, Utc};
use cpms_domain::tariff::{
    PriceComponent, Priced, Tariff, TariffElement, Usage, components_at, price, with_vat,
};
use rust_decimal::Decimal;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::auth::Principal;
use super::extract::{Body, Id};
use super::tariffs::tariffs;
use super::{ApiState, Problem};
use cpms_domain::TenantId;

/// `POST /v1/price-preview`: what a session would cost. Either a `tariff_id`, or a `charger_id` (with
/// an optional `token`) to price it with the tariff that would apply there.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct PreviewRequest {
    tariff_id: Option<String>,
    charger_id: Option<String>,
    /// A token, whose group or partner may have its own tariff.
    token: Option<String>,
    /// Start (default: now).
    start: Option<DateTime<Utc>>,
    /// IANA time zone the tariff's times of day are read in, with `tariff_id` (default UTC; a
    /// charger preview uses its site's).
    time_zone: Option<String>,
    /// Minutes charging (1 to 10080).
    charging_minutes: u32,
    /// Energy charged, kWh.
    #[schemars(with = "f64")]
    #[serde(with = "cpms_ocpp::number")]
    energy_kwh: Decimal,
    /// Minutes connected after charging.
    #[serde(default)]
    parking_minutes: u32,
    /// Power, kW (default: the average).
    #[schemars(with = "Option<f64>")]
    #[serde(default, with = "cpms_ocpp::number::option")]
    power_kw: Option<Decimal>,
    /// Current, A (sum over phases).
    #[schemars(with = "Option<f64>")]
    #[serde(default, with = "cpms_ocpp::number::option")]
    current_a: Option<Decimal>,
}

/// A preview.
#[derive(Serialize, JsonSchema)]
pub(crate) struct PreviewView {
    tariff_id: Option<String>,
    /// Where the tariff was assigned (for a charger preview).
    scope: Option<String>,
    time_zone: String,
    pricing: Priced,
}

pub(crate) async fn preview(
    State(st): State<ApiState>,
    p: Principal,
    Body(r): Body<PreviewRequest>,
) -> Result<Json<PreviewView>, Problem> {
    if r.charging_minutes == 0 || r.charging_minutes > 10_080 || r.parking_minutes > 10_080 {
        return Err(Problem::bad_request(
            "charging_minutes: 1 to 10080; parking_minutes: 0 to 10080",
        ));
    }
    if r.energy_kwh < Decimal::ZERO || r.energy_kwh > Decimal::from(10_000) {
        return Err(Problem::bad_request("energy_kwh: 0 to 10000"));
    }
    let start = r.start.unwrap_or_else(|| st.csms.now());
    let (tariff, scope, tz) = match (&r.tariff_id, &r.charger_id) {
        (Some(id), None) => match tariffs(&st).get(&p.tenant, id).await? {
            Some(t) => {
                let tz = match &r.time_zone {
                    None => chrono_tz::UTC,
                    Some(z) => z.parse().map_err(|_| {
                        Problem::bad_request(format!("time_zone {z:?} is not an IANA time zone"))
                    })?,
                };
                (t.value, None, tz)
            }
            None => return Err(Problem::not_found(format!("no tariff {id:?}"))),
        },
        (None, Some(cid)) => {
            let (t, scope, tz) =
                charger_tariff(&st, Some(&p.tenant), cid, r.token.as_deref(), start).await?;
            (t, Some(scope), tz)
        }
        _ => return Err(Problem::bad_request("give either tariff_id or charger_id")),
    };
    let usage = Usage::planned(
        start,
        Duration::minutes(i64::from(r.charging_minutes)),
        r.energy_kwh * Decimal::ONE_THOUSAND,
        Duration::minutes(i64::from(r.parking_minutes)),
        r.power_kw,
        r.current_a,
    );
    Ok(Json(PreviewView {
        tariff_id: Some(tariff.id.clone()),
        scope,
        time_zone: tz.name().into(),
        pricing: price(&tariff.terms, tz, &usage),
    }))
}

/// The tariff that would price a session at `charger` now, with the charger's site time zone.
/// `tenant`: the caller's (another tenant's charger is not found); `None` for the public price.
async fn charger_tariff(
    st: &ApiState,
    tenant: Option<&TenantId>,
    charger: &str,
    token: Option<&str>,
    at: DateTime<Utc>,
) -> Result<(Tariff, String, chrono_tz::Tz), Problem> {
    let not_found = || Problem::not_found(format!("no charger {charger:?}"));
    let id = cpms_domain::ChargerId::new(charger.to_string()).map_err(|_| not_found())?;
    let c = st
        .csms
        .ports
        .chargers
        .get(&id)
        .await?
        .filter(|c| tenant.is_none_or(|t| c.value.tenant == *t))
        .ok_or_else(not_found)?
        .value;
    let owner = c.tenant.clone();
    let ctx = st.csms.pricing_context(&owner, Some(c), token).await?;
    let resolved = st
        .csms
        .tariff_for(&owner, id.as_str(), &ctx, at)
        .await?
        .ok_or_else(|| {
            Problem::new(
                StatusCode::NOT_FOUND,
                "no-tariff",
                format!("no tariff applies at charger {charger}: assign one to it, its site, or as the default"),
            )
        })?;
    let tz = ctx.tz;
    Ok((resolved.tariff, resolved.scope, tz))
}

/// The ad-hoc price at a charger now: what a driver without a contract pays, shown before charging.
#[derive(Serialize, JsonSchema)]
pub(crate) struct AdHocPrice {
    charger_id: String,
    tariff_id: String,
    tariff_name: String,
    currency: String,
    time_zone: String,
    /// Per kWh now, incl. VAT (absent: energy is free now).
    #[schemars(with = "Option<f64>")]
    #[serde(with = "cpms_ocpp::number::option")]
    per_kwh_incl_vat: Option<Decimal>,
    /// Per hour charging now, incl. VAT.
    #[schemars(with = "Option<f64>")]
    #[serde(with = "cpms_ocpp::number::option")]
    per_hour_charging_incl_vat: Option<Decimal>,
    /// Per hour connected without charging now, incl. VAT.
    #[schemars(with = "Option<f64>")]
    #[serde(with = "cpms_ocpp::number::option")]
    per_hour_parking_incl_vat: Option<Decimal>,
    /// Per session, incl. VAT.
    #[schemars(with = "Option<f64>")]
    #[serde(with = "cpms_ocpp::number::option")]
    session_fee_incl_vat: Option<Decimal>,
    /// The whole tariff (prices change by time of day, energy, power...).
    elements: Vec<TariffElement>,
}

pub(crate) async fn ad_hoc(
    State(st): State<ApiState>,
    p: Principal,
    Id(charger): Id,
) -> Result<Json<AdHocPrice>, Problem> {
    price_now(&st, Some(&p.tenant), charger).await
}

/// `GET /v1/public/chargers/{id}/price`: the same without a key, for drivers' apps and websites (ad-hoc
/// prices are public: they must be shown before charging).
pub(crate) async fn public_price(
    State(st): State<ApiState>,
    Id(charger): Id,
) -> Result<Json<AdHocPrice>, Problem> {
    price_now(&st, None, charger).await
}

async fn price_now(
    st: &ApiState,
    tenant: Option<&TenantId>,
    charger: String,
) -> Result<Json<AdHocPrice>, Problem> {
    let now = st.csms.now();
    let (t, _, tz) = charger_tariff(st, tenant, &charger, None, now).await?;
    let [energy, time, parking, flat] = components_at(&t.terms, tz, now);
    let incl =
        |c: Option<&PriceComponent>| c.map(|c| with_vat(c.price, c.vat).round_dp(4).normalize());
    Ok(Json(AdHocPrice {
        charger_id: charger,
        tariff_id: t.id.clone(),
        tariff_name: t.name.clone(),
        currency: t.terms.currency.clone(),
        time_zone: tz.name().into(),
        per_kwh_incl_vat: incl(energy),
        per_hour_charging_incl_vat: incl(time),
        per_hour_parking_incl_vat: incl(parking),
        session_fee_incl_vat: incl(flat),
        elements: t.terms.elements,
    }))
}
