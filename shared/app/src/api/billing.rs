//! Billing resources: CDRs (and their CSV export), pricing a session on demand and the live cost of a
//! running one, billing runs, invoices (with their CDRs and a CSV export), revenue-split statements and
//! the splits of each site.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use cpms_domain::SessionId;
use cpms_domain::billing::run::InvoiceLine;
use cpms_domain::billing::{
    BillingRun, Cdr, CdrKind, CurrencyTotal, Invoice, Party, Period, RevenueSplit, Share,
    Statement, StatementLine, Subscription,
};
use cpms_domain::tariff::usage::Flag;
use cpms_domain::tariff::{Priced, TariffTerms, VatLine};
use cpms_ports::records::{
    ALL_CDRS, CDRS_BY_TIME, CDRS_OF_PARTY, OF_RUN, cdr_order_at, cdrs_of_party,
};
use cpms_ports::{Documents, Expected, PageRequest};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::auth::Principal;
use super::extract::{Body, Id, PageQuery, Params};
use super::views::List;
use super::{ApiState, Problem, audit};
use crate::{Billed, RunError};

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
    .range(q.from.map(cdr_order_at), q.to.map(cdr_order_at));
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
fn csv_response(body: Vec<u8>, path: &str, next: Option<String>) -> Response {
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

fn csv_problem(e: impl std::fmt::Display) -> Problem {
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

fn session_id(id: &str) -> Result<SessionId, Problem> {
    SessionId::parse(id).map_err(|_| Problem::not_found(format!("no session {id:?}")))
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

/// `POST /v1/billing-runs`.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RunRequest {
    /// The month, `YYYY-MM` (UTC); it must be over.
    period: String,
}

/// A billing run.
#[derive(Serialize, JsonSchema)]
pub(crate) struct RunView {
    id: String,
    period_from: DateTime<Utc>,
    period_to: DateTime<Utc>,
    cdr_count: u32,
    review_count: u32,
    invoice_count: u32,
    statement_count: u32,
    totals: Vec<CurrencyTotal>,
    /// Sessions of the period that had no CDR yet, priced by the run (invoiced with the next period).
    late_cdrs: u32,
    trigger: String,
    created_at: DateTime<Utc>,
}

impl From<BillingRun> for RunView {
    fn from(r: BillingRun) -> Self {
        RunView {
            id: r.id,
            period_from: r.period_from,
            period_to: r.period_to,
            cdr_count: r.cdr_count,
            review_count: r.review_count,
            invoice_count: r.invoice_count,
            statement_count: r.statement_count,
            totals: r.totals,
            late_cdrs: r.late_cdrs,
            trigger: r.trigger,
            created_at: r.created_at,
        }
    }
}

/// 201 with a new run; 200 with the existing one (a period is run once).
pub(crate) async fn run(
    State(st): State<ApiState>,
    p: Principal,
    Body(r): Body<RunRequest>,
) -> Result<(StatusCode, Json<RunView>), Problem> {
    let period = Period::month(&r.period)?;
    match st.csms.run_billing(&p.tenant, &period, "api").await {
        Ok((run, true)) => {
            audit(
                &st,
                &p,
                &p.tenant,
                "billing.run",
                format!("billing-runs/{}", run.id),
                json!({"invoices": run.invoice_count}),
            )
            .await;
            Ok((StatusCode::CREATED, Json(run.into())))
        }
        Ok((run, false)) => Ok((StatusCode::OK, Json(run.into()))),
        Err(RunError::NotOver(p)) => Err(Problem::new(
            StatusCode::CONFLICT,
            "period-not-over",
            format!("the period {p} has not ended; CDRs can still be made in it"),
        )),
        Err(RunError::Store(e)) => Err(e.into()),
    }
}

pub(crate) async fn list_runs(
    State(st): State<ApiState>,
    p: Principal,
    Params(q): Params<PageQuery>,
) -> Result<Json<List<RunView>>, Problem> {
    let page = st
        .csms
        .records::<BillingRun>()
        .query(
            &p.tenant,
            &Documents::<BillingRun>::by_id(q.page()?).descending(),
        )
        .await?;
    Ok(Json(List::of(page, |r| r.value.into())))
}

pub(crate) async fn get_run(
    State(st): State<ApiState>,
    p: Principal,
    Id(id): Id,
) -> Result<Json<RunView>, Problem> {
    match st.csms.records::<BillingRun>().get(&p.tenant, &id).await? {
        Some(r) => Ok(Json(r.value.into())),
        None => Err(Problem::not_found(format!("no billing run {id:?}"))),
    }
}

/// An invoice.
#[derive(Serialize, JsonSchema)]
pub(crate) struct InvoiceView {
    id: String,
    run_id: String,
    period_from: DateTime<Utc>,
    period_to: DateTime<Utc>,
    party: Party,
    currency: String,
    cdr_count: u32,
    credit_count: u32,
    #[schemars(with = "f64")]
    #[serde(with = "cpms_ocpp::number")]
    energy_kwh: rust_decimal::Decimal,
    /// What the CDRs add up to.
    sessions_total: cpms_domain::tariff::Price,
    /// Sessions per VAT rate, then a subscription's fee, included energy and discount.
    lines: Vec<InvoiceLine>,
    /// The sum of the lines.
    total: cpms_domain::tariff::Price,
    vat_summary: Vec<VatLine>,
    created_at: DateTime<Utc>,
}

impl From<Invoice> for InvoiceView {
    fn from(i: Invoice) -> Self {
        InvoiceView {
            id: i.id,
            run_id: i.run_id,
            period_from: i.period_from,
            period_to: i.period_to,
            party: i.party,
            currency: i.currency,
            cdr_count: i.cdr_count,
            credit_count: i.credit_count,
            energy_kwh: i.energy_kwh,
            sessions_total: i.sessions_total,
            lines: i.lines,
            total: i.total,
            vat_summary: i.vat_summary,
            created_at: i.created_at,
        }
    }
}

/// Query of run-scoped lists.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RunQuery {
    /// The run (period `YYYY-MM`).
    run: String,
    limit: Option<usize>,
    cursor: Option<String>,
}

impl RunQuery {
    fn page(&self) -> Result<PageRequest, Problem> {
        PageQuery {
            limit: self.limit,
            cursor: self.cursor.clone(),
        }
        .page()
    }
}

pub(crate) async fn list_invoices(
    State(st): State<ApiState>,
    p: Principal,
    Params(q): Params<RunQuery>,
) -> Result<Json<List<InvoiceView>>, Problem> {
    let query = Documents::<Invoice>::by_index(OF_RUN, q.run.clone(), q.page()?);
    let page = st
        .csms
        .records::<Invoice>()
        .query(&p.tenant, &query)
        .await?;
    Ok(Json(List::of(page, |i| i.value.into())))
}

pub(crate) async fn get_invoice(
    State(st): State<ApiState>,
    p: Principal,
    Id(id): Id,
) -> Result<Json<InvoiceView>, Problem> {
    match st.csms.records::<Invoice>().get(&p.tenant, &id).await? {
        Some(i) => Ok(Json(i.value.into())),
        None => Err(Problem::not_found(format!("no invoice {id:?}"))),
    }
}

/// `GET /v1/invoices/{id}/cdrs`: the invoice's lines.
pub(crate) async fn invoice_cdrs(
    State(st): State<ApiState>,
    p: Principal,
    Id(id): Id,
    Params(q): Params<PageQuery>,
) -> Result<Json<List<CdrView>>, Problem> {
    let Some(inv) = st.csms.records::<Invoice>().get(&p.tenant, &id).await? else {
        return Err(Problem::not_found(format!("no invoice {id:?}")));
    };
    let inv = inv.value;
    let query =
        Documents::<Cdr>::by_index(CDRS_OF_PARTY, cdrs_of_party(&inv.party.key()), q.page()?)
            .range(
                Some(cdr_order_at(inv.period_from)),
                Some(cdr_order_at(inv.period_to)),
            );
    let mut page = st.csms.records::<Cdr>().query(&p.tenant, &query).await?;
    page.items
        .retain(|c| c.value.pricing.currency == inv.currency);
    Ok(Json(List::of(page, |c| c.value.into())))
}

/// `GET /v1/invoices.csv?run=`: one row per invoice and VAT rate.
pub(crate) async fn invoices_csv(
    State(st): State<ApiState>,
    p: Principal,
    Params(q): Params<RunQuery>,
) -> Result<Response, Problem> {
    let page = PageRequest {
        limit: q.limit.unwrap_or(500).clamp(1, 500),
        cursor: q.cursor.clone(),
    };
    let query = Documents::<Invoice>::by_index(OF_RUN, q.run.clone(), page);
    let found = st
        .csms
        .records::<Invoice>()
        .query(&p.tenant, &query)
        .await?;
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record([
        "invoice_id",
        "run",
        "party_kind",
        "party_id",
        "currency",
        "cdr_count",
        "credit_count",
        "vat_rate",
        "line_excl_vat",
        "line_vat",
        "total_excl_vat",
        "total_incl_vat",
    ])
    .map_err(csv_problem)?;
    for i in found.items.iter().map(|i| &i.value) {
        for l in &i.vat_summary {
            w.write_record([
                i.id.as_str(),
                &i.run_id,
                &i.party.kind,
                &i.party.id,
                &i.currency,
                &i.cdr_count.to_string(),
                &i.credit_count.to_string(),
                &l.rate.map(|r| r.to_string()).unwrap_or_default(),
                &l.excl_vat.to_string(),
                &l.vat.to_string(),
                &i.total.excl_vat.to_string(),
                &i.total.incl().to_string(),
            ])
            .map_err(csv_problem)?;
        }
    }
    let body = w.into_inner().map_err(csv_problem)?;
    Ok(csv_response(body, "/v1/invoices.csv", found.next))
}

/// A statement.
#[derive(Serialize, JsonSchema)]
pub(crate) struct StatementView {
    id: String,
    run_id: String,
    /// The partner, or `operator`.
    partner: String,
    currency: String,
    lines: Vec<StatementLine>,
    #[schemars(with = "f64")]
    #[serde(with = "cpms_ocpp::number")]
    total: rust_decimal::Decimal,
    created_at: DateTime<Utc>,
}

impl From<Statement> for StatementView {
    fn from(s: Statement) -> Self {
        StatementView {
            id: s.id,
            run_id: s.run_id,
            partner: s.partner,
            currency: s.currency,
            lines: s.lines,
            total: s.total,
            created_at: s.created_at,
        }
    }
}

pub(crate) async fn list_statements(
    State(st): State<ApiState>,
    p: Principal,
    Params(q): Params<RunQuery>,
) -> Result<Json<List<StatementView>>, Problem> {
    let query = Documents::<Statement>::by_index(OF_RUN, q.run.clone(), q.page()?);
    let page = st
        .csms
        .records::<Statement>()
        .query(&p.tenant, &query)
        .await?;
    Ok(Json(List::of(page, |s| s.value.into())))
}

pub(crate) async fn get_statement(
    State(st): State<ApiState>,
    p: Principal,
    Id(id): Id,
) -> Result<Json<StatementView>, Problem> {
    match st.csms.records::<Statement>().get(&p.tenant, &id).await? {
        Some(s) => Ok(Json(s.value.into())),
        None => Err(Problem::not_found(format!("no statement {id:?}"))),
    }
}

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
    let docs = st.csms.records::<RevenueSplit>();
    let expected = match docs.get(&p.tenant, &site).await? {
        Some(old) => Expected::Version(old.version),
        None => Expected::Absent,
    };
    docs.put(&split, expected).await?;
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

/// `DELETE /v1/subscriptions/{id}`: ends it now (months already invoiced keep it).
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
