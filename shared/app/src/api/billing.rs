//! Billing resources of sessions: CDRs (and their CSV export), pricing a session on demand, and what a
//! session costs (its CDR's price, or the cost so far while it runs).

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use cpms_domain::billing::{Cdr, CdrKind, Party};
use cpms_domain::tariff::usage::Flag;
use cpms_domain::tariff::{Priced, TariffTerms};
use cpms_ports::records::{ALL_CDRS, CDRS_BY_TIME, CDRS_OF_PARTY, cdr_order_at, cdrs_of_party};
use cpms_ports::{Documents, PageRequest};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::auth::Principal;
use super::extract::{Id, Params};
use super::sessions::session_id;
use super::views::List;
use super::{ApiState, Problem, audit};
use crate::Billed;

/// A CDR.
#[derive(Serialize, JsonSchema)]
pub(crate) struct CdrView {
    id: String,
    kind: CdrKind,
    credits: Option<String>,
    session_id: String,
    revision: u32,
    charger_id: String,
    evse_id: Option<u32>,
    connector_id: Option<u32>,
    site_id: Option<String>,
    token: Option<String>,
    token_group: Option<String>,
    partner: Option<String>,
    billed_party: Party,
    tariff_id: Option<String>,
    /// The terms it was priced with.
    tariff: Option<TariffTerms>,
    time_zone: String,
    start_date_time: DateTime<Utc>,
    end_date_time: DateTime<Utc>,
    pricing: Priced,
    flags: Vec<Flag>,
    review: bool,
    created_at: DateTime<Utc>,
}

impl From<Cdr> for CdrView {
    fn from(c: Cdr) -> Self {
        CdrView {
            id: c.id,
            kind: c.kind,
            credits: c.credits,
            session_id: c.session_id.to_string(),
            revision: c.revision,
            charger_id: c.charger_id.to_string(),
            evse_id: c.evse_id,
            connector_id: c.connector_id,
            site_id: c.site_id,
            token: c.token,
            token_group: c.token_group,
            partner: c.partner,
            billed_party: c.billed_party,
            tariff_id: c.tariff_id,
            tariff: c.tariff,
            time_zone: c.time_zone,
            start_date_time: c.start_date_time,
            end_date_time: c.end_date_time,
            pricing: c.pricing,
            flags: c.flags,
            review: c.review,
            created_at: c.created_at,
        }
    }
}

/// Query of `GET /v1/cdrs` and `GET /v1/cdrs.csv`.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CdrQuery {
    /// CDRs made at or after this time.
    from: Option<DateTime<Utc>>,
    /// CDRs made before this time.
    to: Option<DateTime<Utc>>,
    /// Only this party's (`driver:TOKEN`, `fleet:GROUP`, `partner:ID`, `none:-`).
    party: Option<String>,
    /// Only those marked for review (a filtered page may hold fewer items: follow `next_cursor`).
    review: Option<bool>,
    limit: Option<usize>,
    cursor: Option<String>,
}

async fn cdr_page(
    st: &ApiState,
    p: &Principal,
    q: &CdrQuery,
    max: usize,
) -> Result<cpms_ports::Page<Cdr>, Problem> {
    let limit = q.limit.unwrap_or(50);
    if limit == 0 || limit > max {
        return Err(Problem::bad_request(format!("limit: 1 to {max}")));
    }
    let page = PageRequest {
        limit,
        cursor: q.cursor.clone(),
    };
    let query = match &q.party {
        Some(party) => Documents::<Cdr>::by_index(CDRS_OF_PARTY, cdrs_of_party(party), page),
        None => Documents::<Cdr>::by_index(CDRS_BY_TIME, ALL_CDRS, page),
    }
    .range(q.from.map(cdr_order_at), q.to.map(cdr_order_at))
    .descending();
    let found = st.csms.records::<Cdr>().query(&p.tenant, &query).await?;
    let mut items: Vec<Cdr> = found.items.into_iter().map(|c| c.value).collect();
    if let Some(r) = q.review {
        items.retain(|c| c.review == r);
    }
    Ok(cpms_ports::Page {
        items,
        next: found.next,
    })
}

pub(crate) async fn list_cdrs(
    State(st): State<ApiState>,
    p: Principal,
    Params(q): Params<CdrQuery>,
) -> Result<Json<List<CdrView>>, Problem> {
    let page = cdr_page(&st, &p, &q, super::extract::MAX_LIMIT).await?;
    Ok(Json(List::of(page, CdrView::from)))
}

pub(crate) async fn get_cdr(
    State(st): State<ApiState>,
    p: Principal,
    Id(id): Id,
) -> Result<Json<CdrView>, Problem> {
    match st.csms.records::<Cdr>().get(&p.tenant, &id).await? {
        Some(c) => Ok(Json(c.value.into())),
        None => Err(Problem::not_found(format!("no CDR {id:?}"))),
    }
}

/// A CSV body, with the cursor of the next page in `Link` and `X-Next-Cursor` when there is one.
pub(crate) fn csv_response(body: Vec<u8>, path: &str, next: Option<String>) -> Response {
    let mut r = (StatusCode::OK, body).into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    if let Some(n) = next
        && let (Ok(cursor), Ok(link)) = (
            HeaderValue::from_str(&n),
            HeaderValue::from_str(&format!("<{path}?cursor={n}>; rel=\"next\"")),
        )
    {
        h.insert("x-next-cursor", cursor);
        h.insert(header::LINK, link);
    }
    r
}

pub(crate) fn csv_problem(e: impl std::fmt::Display) -> Problem {
    tracing::error!(error = %e, "writing CSV");
    Problem::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "export-failed",
        "the export could not be written",
    )
}

/// `GET /v1/cdrs.csv`: one row per CDR (up to 10,000 per page; follow `Link: rel="next"`).
pub(crate) async fn cdrs_csv(
    State(st): State<ApiState>,
    p: Principal,
    Params(mut q): Params<CdrQuery>,
) -> Result<Response, Problem> {
    q.limit = Some(q.limit.unwrap_or(10_000));
    let page = cdr_page(&st, &p, &q, 10_000).await?;
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record([
        "cdr_id",
        "kind",
        "credits",
        "session_id",
        "charger_id",
        "site_id",
        "token",
        "billed_party",
        "tariff_id",
        "start",
        "end",
        "energy_kwh",
        "time_h",
        "parking_h",
        "currency",
        "total_excl_vat",
        "total_incl_vat",
        "review",
    ])
    .map_err(csv_problem)?;
    for c in &page.items {
        let kind = if c.kind == CdrKind::Credit {
            "credit"
        } else {
            "regular"
        };
        w.write_record([
            c.id.as_str(),
            kind,
            c.credits.as_deref().unwrap_or(""),
            &c.session_id.to_string(),
            c.charger_id.as_str(),
            c.site_id.as_deref().unwrap_or(""),
            c.token.as_deref().unwrap_or(""),
            &c.billed_party.key(),
            c.tariff_id.as_deref().unwrap_or(""),
            &c.start_date_time.to_rfc3339(),
            &c.end_date_time.to_rfc3339(),
            &c.pricing.total_energy.to_string(),
            &c.pricing.total_time.to_string(),
            &c.pricing.total_parking_time.to_string(),
            &c.pricing.currency,
            &c.pricing.total_cost.excl_vat.to_string(),
            &c.pricing.total_cost.incl().to_string(),
            if c.review { "true" } else { "false" },
        ])
        .map_err(csv_problem)?;
    }
    let body = w.into_inner().map_err(csv_problem)?;
    Ok(csv_response(body, "/v1/cdrs.csv", page.next))
}

/// What pricing a session on demand did.
#[derive(Serialize, JsonSchema)]
pub(crate) struct BillOutcome {
    /// `created`, `corrected`, `unchanged` or `skipped`.
    outcome: String,
    /// The session's current CDR.
    cdr_id: Option<String>,
    /// The credit CDR of a correction.
    credit_id: Option<String>,
    /// Why it was skipped.
    reason: Option<String>,
}

/// `POST /v1/sessions/{id}/bill`: prices an ended session now (what the billing consumer does on its
/// end); idempotent.
pub(crate) async fn bill(
    State(st): State<ApiState>,
    p: Principal,
    Id(id): Id,
) -> Result<Json<BillOutcome>, Problem> {
    let sid = session_id(&id)?;
    if st.csms.ports.sessions.get(&p.tenant, &sid).await?.is_none() {
        return Err(Problem::not_found(format!("no session {id:?}")));
    }
    let out = match st.csms.bill_session(&p.tenant, &sid).await? {
        Billed::Created(c) => BillOutcome {
            outcome: "created".into(),
            cdr_id: Some(c),
            credit_id: None,
            reason: None,
        },
        Billed::Corrected { credit, cdr } => BillOutcome {
            outcome: "corrected".into(),
            cdr_id: Some(cdr),
            credit_id: Some(credit),
            reason: None,
        },
        Billed::Unchanged(c) => BillOutcome {
            outcome: "unchanged".into(),
            cdr_id: Some(c),
            credit_id: None,
            reason: None,
        },
        Billed::Skipped(why) => {
            return Err(Problem::new(
                StatusCode::CONFLICT,
                "not-billable",
                format!("session {id} is not billable: {why}"),
            ));
        }
    };
    if out.outcome != "unchanged" {
        audit(
            &st,
            &p,
            &p.tenant,
            "session.bill",
            format!("sessions/{id}"),
            json!({"outcome": out.outcome, "cdr_id": out.cdr_id}),
        )
        .await;
    }
    Ok(Json(out))
}

/// `GET /v1/sessions/{id}/cost`: what the session costs so far (running) or cost (ended), by the tariff
/// that prices it; the same engine as its CDR.
pub(crate) async fn cost(
    State(st): State<ApiState>,
    p: Principal,
    Id(id): Id,
) -> Result<Json<Priced>, Problem> {
    let sid = session_id(&id)?;
    let Some(s) = st.csms.ports.sessions.get(&p.tenant, &sid).await? else {
        return Err(Problem::not_found(format!("no session {id:?}")));
    };
    Ok(Json(st.csms.live_cost(&p.tenant, &s.value).await?))
}
