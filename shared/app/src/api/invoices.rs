//! Billing runs and what they make: invoices (with their CDRs and a CSV export) and revenue-split
//! statements.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use chrono::{DateTime, Utc};
use cpms_domain::billing::run::InvoiceLine;
use cpms_domain::billing::{
    BillingRun, Cdr, CurrencyTotal, Invoice, Party, Period, Statement, StatementLine,
};
use cpms_domain::tariff::VatLine;
use cpms_ports::records::{CDRS_OF_PARTY, OF_RUN, cdr_order_at, cdrs_of_party};
use cpms_ports::{Documents, PageRequest};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::auth::Principal;
use super::extract::{Body, Id, PageQuery, Params};
use super::views::List;
use super::{ApiState, Problem, audit};
use crate::RunError;

use super::billing::{CdrView, csv_problem, csv_response};

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
            )
            .descending();
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
