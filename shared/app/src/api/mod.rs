//! The operator HTTP API (`/v1/...`): JSON in and out, `Authorization: Bearer <key>`, RFC 9457 problem
//! responses for every error, cursor pagination on lists, every query scoped to the key's tenant. The
//! same router serves `cpms serve` and (with `lambda_http`) the operator-api Lambda. The OpenAPI
//! document at `/v1/openapi.json` is generated from the route table ([`registry`]).

mod alerting;
mod audit;
mod auth;
mod billing;
mod chargers;
mod commands;
mod docs;
mod extract;
mod incidents;
mod invoices;
mod keys;
mod openapi_fix;
mod partners;
mod prices;
mod problem;
mod registry;
mod sessions;
mod settings;
mod shape;
mod sites;
mod smart_charging;
mod subscriptions;
mod tariffs;
mod timeline;
mod tokens;
mod views;

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::http::{Method, StatusCode};
use axum::response::IntoResponse;
use axum::{Json, Router};
use cpms_domain::TenantId;
use cpms_domain::access::Role;
use cpms_domain::ids::time_ordered_id;
use serde_json::Value;

pub use auth::AdminKey;
pub use problem::Problem;

use auth::{Access, Principal};
use registry::{Api, OpDoc};
use views::List;

use crate::Csms;

/// Largest request body accepted.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// What the handlers share.
#[derive(Clone)]
pub struct ApiState {
    /// The application.
    pub csms: Arc<Csms>,
    /// The bootstrap key: admin of the default tenant, and manager of tenants.
    pub admin_key: Arc<AdminKey>,
    /// Roaming (OCPI): partners and the tenant's party.
    pub roaming: Arc<cpms_roaming::Roaming>,
}

/// Records an audit entry (a failure is logged: the change itself has been made).
pub(crate) async fn audit(
    st: &ApiState,
    p: &Principal,
    tenant: &TenantId,
    action: &str,
    target: String,
    detail: Value,
) {
    let now = st.csms.now();
    let entry = cpms_domain::audit::AuditEntry {
        tenant: tenant.clone(),
        id: time_ordered_id(now, rand::random()),
        at: now,
        actor: p.actor(),
        action: action.to_string(),
        target,
        detail,
    };
    let audit = st.csms.records::<cpms_domain::audit::AuditEntry>();
    if let Err(e) = audit.put(&entry, cpms_ports::Expected::Absent).await {
        tracing::error!(error = %e, action, "cannot write an audit entry");
    }
}

fn table() -> Api {
    use Access::{Platform, Public};
    const VIEWER: Access = Access::Role(Role::Viewer);
    const OPERATOR: Access = Access::Role(Role::Operator);
    const ADMIN: Access = Access::Role(Role::Admin);
    let (get, post, patch, delete) = (Method::GET, Method::POST, Method::PATCH, Method::DELETE);
    let put = Method::PUT;
    Api::new()
        .op(
            get.clone(),
            "/openapi.json",
            Public,
            "This document",
            |g| OpDoc::returns::<Value>(g, 200),
            openapi,
        )
        .op(
            post.clone(),
            "/tenants",
            Platform,
            "Create a tenant and its first admin key",
            |g| OpDoc::returns::<keys::CreatedTenant>(g, 201).body::<keys::NewTenant>(g),
            keys::create_tenant,
        )
        .op(
            get.clone(),
            "/tenants",
            Platform,
            "List tenants",
            |g| OpDoc::returns::<List<keys::TenantView>>(g, 200).query::<extract::PageQuery>(g),
            keys::list_tenants,
        )
        .op(
            post.clone(),
            "/api-keys",
            ADMIN,
            "Create an API key of the caller's tenant",
            |g| OpDoc::returns::<keys::CreatedKey>(g, 201).body::<keys::NewKey>(g),
            keys::create_key,
        )
        .op(
            get.clone(),
            "/api-keys",
            ADMIN,
            "List the tenant's API keys",
            |g| OpDoc::returns::<List<keys::KeyView>>(g, 200).query::<extract::PageQuery>(g),
            keys::list_keys,
        )
        .op(
            delete.clone(),
            "/api-keys/{id}",
            ADMIN,
            "Revoke an API key",
            |g| OpDoc::returns::<keys::KeyView>(g, 200),
            keys::revoke_key,
        )
        .op(
            post.clone(),
            "/sites",
            ADMIN,
            "Create a site",
            |g| OpDoc::returns::<sites::SiteView>(g, 201).body::<sites::NewSite>(g),
            sites::create,
        )
        .op(
            get.clone(),
            "/sites",
            VIEWER,
            "List sites",
            |g| OpDoc::returns::<List<sites::SiteView>>(g, 200).query::<extract::PageQuery>(g),
            sites::list,
        )
        .op(
            get.clone(),
            "/sites/{id}",
            VIEWER,
            "Read a site",
            |g| OpDoc::returns::<sites::SiteView>(g, 200),
            sites::get,
        )
        .op(
            patch.clone(),
            "/sites/{id}",
            ADMIN,
            "Change a site",
            |g| OpDoc::returns::<sites::SiteView>(g, 200).body::<sites::SitePatch>(g),
            sites::update,
        )
        .op(
            get.clone(),
            "/ocpi/settings",
            VIEWER,
            "The tenant's own OCPI party and the versions URL partners register at",
            |g| OpDoc::returns::<partners::SettingsView>(g, 200),
            partners::get_settings,
        )
        .op(
            put.clone(),
            "/ocpi/settings",
            ADMIN,
            "Set the tenant's own OCPI party (country code, party id, name)",
            |g| OpDoc::returns::<partners::SettingsView>(g, 200).body::<partners::SettingsBody>(g),
            partners::put_settings,
        )
        .op(
            post.clone(),
            "/ocpi/partners",
            ADMIN,
            "Create a roaming partner and the registration token (token A) to hand it",
            |g| OpDoc::returns::<partners::InvitedPartner>(g, 201).body::<partners::NewPartnerBody>(g),
            partners::create_partner,
        )
        .op(
            get.clone(),
            "/ocpi/partners",
            VIEWER,
            "List roaming partners",
            |g| OpDoc::returns::<List<partners::PartnerView>>(g, 200).query::<extract::PageQuery>(g),
            partners::list_partners,
        )
        .op(
            get.clone(),
            "/ocpi/partners/{id}",
            VIEWER,
            "A roaming partner: where its registration stands and its endpoints",
            |g| OpDoc::returns::<partners::PartnerView>(g, 200),
            partners::get_partner,
        )
        .op(
            post.clone(),
            "/ocpi/partners/{id}/register",
            ADMIN,
            "Register with the partner, given its versions URL and the token it issued us",
            |g| OpDoc::returns::<partners::PartnerView>(g, 200).body::<partners::RegisterBody>(g),
            partners::register,
        )
        .op(
            post.clone(),
            "/ocpi/partners/{id}/registration-token",
            ADMIN,
            "A new registration token for a partner that is not registered (the old one stops working)",
            |g| OpDoc::returns::<partners::InvitedPartner>(g, 200),
            partners::reinvite,
        )
        .op(
            delete.clone(),
            "/ocpi/partners/{id}/registration",
            ADMIN,
            "Unregister from the partner (its credentials endpoint is told; ours stop working for it)",
            |g| OpDoc::returns::<partners::Unregistered>(g, 200),
            partners::unregister,
        )
        .op(
            post.clone(),
            "/ocpi/partners/{id}/resync",
            ADMIN,
            "Publish every location again and queue it for the partner (and what it refused before)",
            |g| OpDoc::returns::<partners::Resynced>(g, 200),
            partners::resync,
        )
        .op(
            get.clone(),
            "/ocpi/partners/{id}/deliveries",
            VIEWER,
            "The partner's delivery log, newest first (of one object with module and object)",
            |g| OpDoc::returns::<List<partners::AttemptView>>(g, 200).query::<partners::LogQuery>(g),
            partners::deliveries,
        )
        .op(
            get.clone(),
            "/ocpi/partners/{id}/queue",
            VIEWER,
            "What waits to be sent to the partner, in its order (dead letters included)",
            |g| OpDoc::returns::<List<partners::QueuedView>>(g, 200).query::<extract::PageQuery>(g),
            partners::queue,
        )
        .op(
            get.clone(),
            "/alert-rules",
            VIEWER,
            "The detection rules with the tenant's thresholds, overrides, site outage rule, remedy budget and targets",
            |g| OpDoc::returns::<alerting::RulesView>(g, 200),
            alerting::get_rules,
        )
        .op(
            patch.clone(),
            "/alert-rules",
            ADMIN,
            "Change the rules' thresholds, overrides per site, model or charger, and alerting settings",
            |g| OpDoc::returns::<alerting::RulesView>(g, 200).body::<alerting::RulesPatch>(g),
            alerting::update_rules,
        )
        .op(
            get.clone(),
            "/vendor-codes",
            VIEWER,
            "The vendor error code table",
            |g| OpDoc::returns::<List<cpms_domain::incidents::rules::VendorCode>>(g, 200).query::<extract::PageQuery>(g),
            alerting::list_vendor_codes,
        )
        .op(
            put.clone(),
            "/vendor-codes",
            ADMIN,
            "Map a vendor's error code to a severity and a responsible party",
            |g| OpDoc::returns::<cpms_domain::incidents::rules::VendorCode>(g, 200).body::<alerting::VendorCodeBody>(g),
            alerting::put_vendor_code,
        )
        .op(
            delete.clone(),
            "/vendor-codes/{id}",
            ADMIN,
            "Remove a vendor code (id: vendor|code, vendor in lower case)",
            |_| OpDoc::empty(),
            alerting::delete_vendor_code,
        )
        .op(
            post.clone(),
            "/alert-channels",
            ADMIN,
            "Create a notification channel (webhook: native, PagerDuty or Alertmanager shape; e-mail)",
            |g| OpDoc::returns::<alerting::ChannelView>(g, 201).body::<alerting::NewChannel>(g),
            alerting::create_channel,
        )
        .op(
            get.clone(),
            "/alert-channels",
            VIEWER,
            "List notification channels",
            |g| OpDoc::returns::<List<alerting::ChannelView>>(g, 200).query::<extract::PageQuery>(g),
            alerting::list_channels,
        )
        .op(
            delete.clone(),
            "/alert-channels/{id}",
            ADMIN,
            "Remove a notification channel",
            |_| OpDoc::empty(),
            alerting::delete_channel,
        )
        .op(
            post.clone(),
            "/alert-channels/{id}/test",
            OPERATOR,
            "Send a test notification now; the delivery with its attempt",
            |g| OpDoc::returns::<cpms_domain::incidents::delivery::Delivery>(g, 200),
            alerting::test_channel,
        )
        .op(
            post.clone(),
            "/escalation-policies",
            ADMIN,
            "Create an escalation policy (tiers of channels, delays, repeats, business hours)",
            |g| OpDoc::returns::<cpms_domain::incidents::escalation::EscalationPolicy>(g, 201).body::<alerting::PolicyBody>(g),
            alerting::create_policy,
        )
        .op(
            get.clone(),
            "/escalation-policies",
            VIEWER,
            "List escalation policies",
            |g| OpDoc::returns::<List<cpms_domain::incidents::escalation::EscalationPolicy>>(g, 200).query::<extract::PageQuery>(g),
            alerting::list_policies,
        )
        .op(
            put.clone(),
            "/escalation-policies/{id}",
            ADMIN,
            "Replace an escalation policy",
            |g| OpDoc::returns::<cpms_domain::incidents::escalation::EscalationPolicy>(g, 200).body::<alerting::PolicyBody>(g),
            alerting::replace_policy,
        )
        .op(
            delete.clone(),
            "/escalation-policies/{id}",
            ADMIN,
            "Remove an escalation policy",
            |_| OpDoc::empty(),
            alerting::delete_policy,
        )
        .op(
            post.clone(),
            "/maintenance-windows",
            OPERATOR,
            "Plan a maintenance window on a site or charger (once, or weekly): alerts are silenced and the time is planned downtime",
            |g| OpDoc::returns::<cpms_domain::incidents::maintenance::MaintenanceWindow>(g, 201).body::<alerting::NewWindow>(g),
            alerting::create_window,
        )
        .op(
            get.clone(),
            "/maintenance-windows",
            VIEWER,
            "List maintenance windows",
            |g| OpDoc::returns::<List<cpms_domain::incidents::maintenance::MaintenanceWindow>>(g, 200).query::<extract::PageQuery>(g),
            alerting::list_windows,
        )
        .op(
            delete.clone(),
            "/maintenance-windows/{id}",
            OPERATOR,
            "Remove a maintenance window",
            |_| OpDoc::empty(),
            alerting::delete_window,
        )
        .op(
            get.clone(),
            "/incidents",
            VIEWER,
            "List incidents, newest first, by state, severity, site, charger or rule",
            |g| OpDoc::returns::<List<cpms_domain::incidents::incident::Incident>>(g, 200).query::<incidents::IncidentQuery>(g),
            incidents::list,
        )
        .op(
            get.clone(),
            "/incidents/{id}",
            VIEWER,
            "One incident with its timeline",
            |g| OpDoc::returns::<cpms_domain::incidents::incident::Incident>(g, 200),
            incidents::get,
        )
        .op(
            post.clone(),
            "/incidents/{id}/acknowledge",
            OPERATOR,
            "Acknowledge an open incident (stops its escalation)",
            |g| OpDoc::returns::<cpms_domain::incidents::incident::Incident>(g, 200),
            incidents::acknowledge,
        )
        .op(
            post.clone(),
            "/incidents/{id}/resolve",
            OPERATOR,
            "Resolve an incident by hand",
            |g| OpDoc::returns::<cpms_domain::incidents::incident::Incident>(g, 200).body::<incidents::ResolveBody>(g),
            incidents::resolve,
        )
        .op(
            post.clone(),
            "/incidents/{id}/assign",
            OPERATOR,
            "Assign an incident",
            |g| OpDoc::returns::<cpms_domain::incidents::incident::Incident>(g, 200).body::<incidents::AssignBody>(g),
            incidents::assign,
        )
        .op(
            post.clone(),
            "/incidents/{id}/notes",
            OPERATOR,
            "Add a note to an incident's timeline",
            |g| OpDoc::returns::<cpms_domain::incidents::incident::Incident>(g, 200).body::<incidents::NoteBody>(g),
            incidents::note,
        )
        .op(
            get.clone(),
            "/incidents/{id}/deliveries",
            VIEWER,
            "The notifications of an incident and every attempt (the delivery log)",
            |g| OpDoc::returns::<List<cpms_domain::incidents::delivery::Delivery>>(g, 200).query::<extract::PageQuery>(g),
            incidents::deliveries,
        )
        .op(
            get.clone(),
            "/alert-deliveries/dead",
            VIEWER,
            "Notifications given up after every attempt failed (the dead letters)",
            |g| OpDoc::returns::<List<cpms_domain::incidents::delivery::Delivery>>(g, 200).query::<extract::PageQuery>(g),
            incidents::dead_deliveries,
        )
        .op(
            get.clone(),
            "/stream",
            VIEWER,
            "Incident and charger status changes as Server-Sent Events (text/event-stream)",
            |g| OpDoc::event_stream().query::<incidents::StreamQuery>(g),
            incidents::stream,
        )
        .op(
            get.clone(),
            "/settings",
            VIEWER,
            "The tenant's settings",
            |g| OpDoc::returns::<cpms_domain::settings::TenantSettings>(g, 200),
            settings::get,
        )
        .op(
            patch.clone(),
            "/settings",
            ADMIN,
            "Change the tenant's settings",
            |g| {
                OpDoc::returns::<cpms_domain::settings::TenantSettings>(g, 200)
                    .body::<settings::SettingsPatch>(g)
            },
            settings::update,
        )
        .op(
            post.clone(),
            "/chargers",
            ADMIN,
            "Register a charger",
            |g| OpDoc::returns::<chargers::Created>(g, 201).body::<chargers::NewCharger>(g),
            chargers::create,
        )
        .op(
            get.clone(),
            "/chargers",
            VIEWER,
            "List chargers",
            |g| {
                OpDoc::returns::<List<views::ChargerView>>(g, 200)
                    .query::<chargers::ChargerQuery>(g)
            },
            chargers::list,
        )
        .op(
            get.clone(),
            "/chargers/{id}",
            VIEWER,
            "Read a charger with its live state",
            |g| OpDoc::returns::<views::ChargerView>(g, 200),
            chargers::get,
        )
        .op(
            patch.clone(),
            "/chargers/{id}",
            ADMIN,
            "Change a charger (name, site, topology, enabled, authentication settings)",
            |g| OpDoc::returns::<views::ChargerView>(g, 200).body::<chargers::ChargerPatch>(g),
            chargers::update,
        )
        .op(
            put.clone(),
            "/chargers/{id}/password",
            ADMIN,
            "Set a charger's Basic-auth password in the CSMS (others stop working at once)",
            |g| OpDoc::returns::<chargers::PasswordSet>(g, 200).body::<chargers::SetPassword>(g),
            chargers::set_password,
        )
        .op(
            get.clone(),
            "/chargers/{id}/events",
            VIEWER,
            "A charger's log, newest first",
            |g| {
                OpDoc::returns::<List<cpms_domain::log::LogEntry>>(g, 200)
                    .query::<extract::PageQuery>(g)
            },
            chargers::events,
        )
        .op(
            post.clone(),
            "/chargers/{id}/commands",
            OPERATOR,
            "Send a command to a charger (202 with the command)",
            |g| {
                OpDoc::returns::<commands::CommandView>(g, 202)
                    .body::<cpms_domain::command::CommandRequest>(g)
                    .query::<commands::SendParams>(g)
            },
            commands::send,
        )
        .op(
            get.clone(),
            "/commands",
            VIEWER,
            "List commands, newest first",
            |g| {
                OpDoc::returns::<List<commands::CommandView>>(g, 200)
                    .query::<commands::CommandQuery>(g)
            },
            commands::list,
        )
        .op(
            get.clone(),
            "/commands/{id}",
            VIEWER,
            "Read a command, optionally waiting for its result",
            |g| OpDoc::returns::<commands::CommandView>(g, 200).query::<commands::WaitParams>(g),
            commands::get,
        )
        .op(
            get.clone(),
            "/connection-attempts",
            Platform,
            "Refused connections of unknown chargers",
            |g| {
                OpDoc::returns::<List<cpms_domain::log::ConnectionAttempt>>(g, 200)
                    .query::<extract::PageQuery>(g)
            },
            chargers::attempts,
        )
        .op(
            post.clone(),
            "/tokens",
            OPERATOR,
            "Register a token",
            |g| OpDoc::returns::<views::TokenView>(g, 201).body::<tokens::NewToken>(g),
            tokens::create,
        )
        .op(
            get.clone(),
            "/tokens",
            VIEWER,
            "List tokens",
            |g| OpDoc::returns::<List<views::TokenView>>(g, 200).query::<extract::PageQuery>(g),
            tokens::list,
        )
        .op(
            get.clone(),
            "/tokens/{id}",
            VIEWER,
            "Read a token",
            |g| OpDoc::returns::<views::TokenView>(g, 200),
            tokens::get,
        )
        .op(
            patch.clone(),
            "/tokens/{id}",
            OPERATOR,
            "Change a token (status, expiry, group)",
            |g| OpDoc::returns::<views::TokenView>(g, 200).body::<tokens::TokenPatch>(g),
            tokens::update,
        )
        .op(
            get.clone(),
            "/sessions",
            VIEWER,
            "List sessions, newest first",
            |g| {
                OpDoc::returns::<List<views::SessionView>>(g, 200)
                    .query::<sessions::SessionQuery>(g)
            },
            sessions::list,
        )
        .op(
            get.clone(),
            "/sessions/{id}",
            VIEWER,
            "Read a session",
            |g| OpDoc::returns::<views::SessionView>(g, 200),
            sessions::get,
        )
        .op(
            get.clone(),
            "/sessions/{id}/samples",
            VIEWER,
            "A session's meter samples",
            |g| {
                OpDoc::returns::<List<cpms_domain::meter::MeterSample>>(g, 200)
                    .query::<extract::PageQuery>(g)
            },
            sessions::samples,
        )
        .op(
            post.clone(),
            "/sessions/{id}/bill",
            OPERATOR,
            "Price an ended session into its CDR now (or correct its CDR); idempotent",
            |g| OpDoc::returns::<billing::BillOutcome>(g, 200),
            billing::bill,
        )
        .op(
            get.clone(),
            "/sessions/{id}/cost",
            VIEWER,
            "What a session costs (so far, while it runs)",
            |g| OpDoc::returns::<cpms_domain::tariff::Priced>(g, 200),
            billing::cost,
        )
        .op(
            post.clone(),
            "/tariffs",
            ADMIN,
            "Create a tariff (checked; warnings explain gaps and overlaps)",
            |g| OpDoc::returns::<tariffs::TariffView>(g, 201).body::<tariffs::NewTariff>(g),
            tariffs::create,
        )
        .op(
            get.clone(),
            "/tariffs",
            VIEWER,
            "List tariffs",
            |g| OpDoc::returns::<List<tariffs::TariffView>>(g, 200).query::<extract::PageQuery>(g),
            tariffs::list,
        )
        .op(
            get.clone(),
            "/tariffs/{id}",
            VIEWER,
            "Read a tariff",
            |g| OpDoc::returns::<tariffs::TariffView>(g, 200),
            tariffs::get,
        )
        .op(
            put.clone(),
            "/tariffs/{id}",
            ADMIN,
            "Replace a tariff (CDRs already made keep their terms)",
            |g| OpDoc::returns::<tariffs::TariffView>(g, 200).body::<tariffs::TariffBody>(g),
            tariffs::replace,
        )
        .op(
            delete.clone(),
            "/tariffs/{id}",
            ADMIN,
            "Delete a tariff that no scope is assigned to",
            |_| OpDoc::empty(),
            tariffs::remove,
        )
        .op(
            get.clone(),
            "/tariff-assignments",
            VIEWER,
            "Which tariff each scope has",
            |g| {
                OpDoc::returns::<List<tariffs::AssignmentView>>(g, 200)
                    .query::<extract::PageQuery>(g)
            },
            tariffs::assignments,
        )
        .op(
            put.clone(),
            "/tariff-assignments/{scope}",
            ADMIN,
            "Assign a tariff to default, site:ID, charger:ID, group:ID or partner:ID",
            |g| {
                OpDoc::returns::<tariffs::AssignmentView>(g, 200).body::<tariffs::AssignmentBody>(g)
            },
            tariffs::assign,
        )
        .op(
            delete.clone(),
            "/tariff-assignments/{scope}",
            ADMIN,
            "Remove a scope's tariff",
            |_| OpDoc::empty(),
            tariffs::unassign,
        )
        .op(
            post.clone(),
            "/price-preview",
            VIEWER,
            "Price a hypothetical session by a tariff, or by what applies at a charger",
            |g| OpDoc::returns::<prices::PreviewView>(g, 200).body::<prices::PreviewRequest>(g),
            prices::preview,
        )
        .op(
            get.clone(),
            "/chargers/{id}/price",
            VIEWER,
            "The ad-hoc price at a charger now (price transparency)",
            |g| OpDoc::returns::<prices::AdHocPrice>(g, 200),
            prices::ad_hoc,
        )
        .op(
            get.clone(),
            "/public/chargers/{id}/price",
            Public,
            "The ad-hoc price at a charger now, without a key (for drivers)",
            |g| OpDoc::returns::<prices::AdHocPrice>(g, 200),
            prices::public_price,
        )
        .op(
            get.clone(),
            "/cdrs",
            VIEWER,
            "List CDRs, newest first (by the time they were made)",
            |g| OpDoc::returns::<List<billing::CdrView>>(g, 200).query::<billing::CdrQuery>(g),
            billing::list_cdrs,
        )
        .op(
            get.clone(),
            "/cdrs.csv",
            VIEWER,
            "CDRs as CSV (text/csv; next page in the Link header)",
            |g| OpDoc::csv().query::<billing::CdrQuery>(g),
            billing::cdrs_csv,
        )
        .op(
            get.clone(),
            "/cdrs/{id}",
            VIEWER,
            "Read a CDR",
            |g| OpDoc::returns::<billing::CdrView>(g, 200),
            billing::get_cdr,
        )
        .op(
            post.clone(),
            "/billing-runs",
            ADMIN,
            "Run billing for a month that is over (201; 200 with the run when it exists)",
            |g| {
                OpDoc::returns::<invoices::RunView>(g, 201)
                    .or(200)
                    .body::<invoices::RunRequest>(g)
            },
            invoices::run,
        )
        .op(
            get.clone(),
            "/billing-runs",
            VIEWER,
            "List billing runs, newest first",
            |g| OpDoc::returns::<List<invoices::RunView>>(g, 200).query::<extract::PageQuery>(g),
            invoices::list_runs,
        )
        .op(
            get.clone(),
            "/billing-runs/{id}",
            VIEWER,
            "Read a billing run",
            |g| OpDoc::returns::<invoices::RunView>(g, 200),
            invoices::get_run,
        )
        .op(
            get.clone(),
            "/invoices",
            VIEWER,
            "A run's invoices",
            |g| {
                OpDoc::returns::<List<invoices::InvoiceView>>(g, 200).query::<invoices::RunQuery>(g)
            },
            invoices::list_invoices,
        )
        .op(
            get.clone(),
            "/invoices.csv",
            VIEWER,
            "A run's invoices as CSV, one row per VAT rate (text/csv)",
            |g| OpDoc::csv().query::<invoices::RunQuery>(g),
            invoices::invoices_csv,
        )
        .op(
            get.clone(),
            "/invoices/{id}",
            VIEWER,
            "Read an invoice",
            |g| OpDoc::returns::<invoices::InvoiceView>(g, 200),
            invoices::get_invoice,
        )
        .op(
            get.clone(),
            "/invoices/{id}/cdrs",
            VIEWER,
            "An invoice's CDRs",
            |g| OpDoc::returns::<List<billing::CdrView>>(g, 200).query::<extract::PageQuery>(g),
            invoices::invoice_cdrs,
        )
        .op(
            get.clone(),
            "/statements",
            VIEWER,
            "A run's revenue-split statements",
            |g| {
                OpDoc::returns::<List<invoices::StatementView>>(g, 200)
                    .query::<invoices::RunQuery>(g)
            },
            invoices::list_statements,
        )
        .op(
            get.clone(),
            "/statements/{id}",
            VIEWER,
            "Read a statement",
            |g| OpDoc::returns::<invoices::StatementView>(g, 200),
            invoices::get_statement,
        )
        .op(
            post.clone(),
            "/subscriptions",
            ADMIN,
            "Subscribe a driver or fleet (monthly fee, included kWh, discount)",
            |g| {
                OpDoc::returns::<subscriptions::SubscriptionView>(g, 201)
                    .body::<subscriptions::NewSubscription>(g)
            },
            subscriptions::create_subscription,
        )
        .op(
            get.clone(),
            "/subscriptions",
            VIEWER,
            "List subscriptions",
            |g| {
                OpDoc::returns::<List<subscriptions::SubscriptionView>>(g, 200)
                    .query::<extract::PageQuery>(g)
            },
            subscriptions::list_subscriptions,
        )
        .op(
            get.clone(),
            "/subscriptions/{id}",
            VIEWER,
            "Read a subscription",
            |g| OpDoc::returns::<subscriptions::SubscriptionView>(g, 200),
            subscriptions::get_subscription,
        )
        .op(
            post.clone(),
            "/subscriptions/{id}/end",
            ADMIN,
            "End a subscription now (it stays readable: invoices refer to it)",
            |g| OpDoc::returns::<subscriptions::SubscriptionView>(g, 200),
            subscriptions::end_subscription,
        )
        .op(
            put.clone(),
            "/sites/{id}/electrical",
            ADMIN,
            "Set a site's electrical tree and smart-charging rules (the site is computed again)",
            |g| {
                OpDoc::returns::<smart_charging::GridView>(g, 200)
                    .body::<smart_charging::GridBody>(g)
            },
            smart_charging::put_grid,
        )
        .op(
            get.clone(),
            "/sites/{id}/electrical",
            VIEWER,
            "A site's electrical tree and smart-charging rules, with warnings",
            |g| OpDoc::returns::<smart_charging::GridView>(g, 200),
            smart_charging::get_grid,
        )
        .op(
            put.clone(),
            "/sites/{id}/price-curve",
            OPERATOR,
            "Post energy prices by interval (they replace the curve from the first one's start)",
            |g| {
                OpDoc::returns::<smart_charging::ConditionsView>(g, 200)
                    .body::<smart_charging::PriceCurveBody>(g)
            },
            smart_charging::put_price_curve,
        )
        .op(
            post.clone(),
            "/sites/{id}/external-limits",
            OPERATOR,
            "Post a limit set from outside (a grid operator's signal) until it lapses; the same id replaces it",
            |g| {
                OpDoc::returns::<smart_charging::ConditionsView>(g, 200)
                    .body::<cpms_domain::allocation::ExternalLimit>(g)
            },
            smart_charging::post_external_limit,
        )
        .op(
            post.clone(),
            "/sites/{id}/readings",
            OPERATOR,
            "Post a reading of a node's other loads (a building meter)",
            |g| {
                OpDoc::returns::<smart_charging::ConditionsView>(g, 200)
                    .body::<cpms_domain::allocation::LoadReading>(g)
            },
            smart_charging::post_reading,
        )
        .op(
            get.clone(),
            "/sites/{id}/conditions",
            VIEWER,
            "A site's price curve, external limits and readings",
            |g| OpDoc::returns::<smart_charging::ConditionsView>(g, 200),
            smart_charging::get_conditions,
        )
        .op(
            get.clone(),
            "/sites/{id}/allocation",
            VIEWER,
            "A site's live allocation: per connector its limit, what bound it, and what it draws",
            |g| OpDoc::returns::<smart_charging::AllocationView>(g, 200),
            smart_charging::get_allocation,
        )
        .op(
            post.clone(),
            "/sites/{id}/allocation/preview",
            VIEWER,
            "Allocate a site for hypothetical connectors (nothing is sent)",
            |g| {
                OpDoc::returns::<cpms_domain::allocation::Allocation>(g, 200)
                    .body::<smart_charging::PreviewBody>(g)
            },
            smart_charging::preview,
        )
        .op(
            get.clone(),
            "/sites/{id}/load",
            VIEWER,
            "A site's load: power per minute or per 15 minutes and the period's peak 15-minute average",
            |g| {
                OpDoc::returns::<smart_charging::LoadView>(g, 200)
                    .query::<smart_charging::LoadQuery>(g)
            },
            smart_charging::load,
        )
        .op(
            get.clone(),
            "/sites/{id}/energy-cost",
            VIEWER,
            "What a site's charging cost under its price curve, beside the cost at the curve's average price",
            |g| {
                OpDoc::returns::<smart_charging::EnergyCostView>(g, 200)
                    .query::<smart_charging::CostQuery>(g)
            },
            smart_charging::energy_cost,
        )
        .op(
            get.clone(),
            "/chargers/{id}/timeline",
            VIEWER,
            "A charger's status timeline over a period (at most 31 days), or one EVSE's or connector's: status reports, device events, connections",
            |g| {
                OpDoc::returns::<timeline::TimelineView>(g, 200)
                    .query::<timeline::TimelineQuery>(g)
            },
            timeline::get,
        )
        .op(
            get.clone(),
            "/chargers/{id}/charging-profiles",
            VIEWER,
            "A charger's charging profiles as the CSMS believes them installed and as it last reported them",
            |g| OpDoc::returns::<smart_charging::ChargerProfilesView>(g, 200),
            smart_charging::charger_profiles,
        )
        .op(
            get.clone(),
            "/sites/{id}/revenue-split",
            VIEWER,
            "A site's revenue split",
            |g| OpDoc::returns::<subscriptions::SplitView>(g, 200),
            subscriptions::get_split,
        )
        .op(
            put,
            "/sites/{id}/revenue-split",
            ADMIN,
            "Set the partners' shares of a site's revenue (the operator keeps the rest)",
            |g| {
                OpDoc::returns::<subscriptions::SplitView>(g, 200)
                    .body::<subscriptions::SplitBody>(g)
            },
            subscriptions::put_split,
        )
        .op(
            get,
            "/audit",
            ADMIN,
            "The audit log, newest first",
            |g| {
                OpDoc::returns::<List<cpms_domain::audit::AuditEntry>>(g, 200)
                    .query::<audit::AuditQuery>(g)
            },
            audit::list,
        )
}

/// The generated OpenAPI document.
static OPENAPI: std::sync::LazyLock<Value> = std::sync::LazyLock::new(|| table().document("/v1"));

async fn openapi() -> Json<Value> {
    Json(OPENAPI.clone())
}

/// Requests that take longer than `limit` (a client that sends its body slowly, or not at all) are
/// answered `408` and their connection freed. For servers that have no deadline of their own (Lambda's
/// is the function timeout).
pub fn with_deadline(router: Router, limit: std::time::Duration) -> Router {
    router.layer(axum::middleware::from_fn(
        move |req: axum::extract::Request, next: axum::middleware::Next| async move {
            match tokio::time::timeout(limit, next.run(req)).await {
                Ok(r) => r,
                Err(_) => Problem::new(
                    StatusCode::REQUEST_TIMEOUT,
                    "request-timeout",
                    format!("the request was not complete within {} s", limit.as_secs()),
                )
                .into_response(),
            }
        },
    ))
}

/// Logs every request at info (method, path without its query, status, duration, key id; never a
/// secret) and counts it.
async fn log_request(
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let method = req.method().clone();
    let path = req.uri().path().chars().take(200).collect::<String>();
    let started = std::time::Instant::now();
    let r = next.run(req).await;
    let status = r.status().as_u16();
    let key = r
        .extensions()
        .get::<auth::KeyId>()
        .map_or("none", |k| k.0.as_str());
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    metrics::counter!("cpms_api_requests_total", "method" => method.to_string(), "status" => status.to_string())
        .increment(1);
    metrics::histogram!("cpms_api_request_seconds").record(ms / 1000.0);
    if matches!(path.as_str(), "/health" | "/metrics") {
        // Polled by load balancers and scrapers: not worth a line each.
        tracing::debug!(method = %method, path, status, "api request");
    } else {
        tracing::info!(method = %method, path, status, ms = format!("{ms:.1}"), key, "api request");
    }
    r
}

/// The operator API.
pub fn router(state: ApiState) -> Router {
    let v1 = table().into_router();
    let v1 = v1.layer(axum::middleware::from_fn_with_state(
        state.clone(),
        auth::authenticate,
    ));
    Router::new()
        .route(
            "/health",
            axum::routing::get(|| async { axum::Json(serde_json::json!({"status": "ok"})) }),
        )
        .route("/", axum::routing::get(docs::root))
        .route("/docs", axum::routing::get(docs::page))
        .route("/docs/init.js", axum::routing::get(docs::init))
        .route(
            "/docs/swagger-ui-bundle.js",
            axum::routing::get(docs::bundle),
        )
        .route("/docs/swagger-ui.css", axum::routing::get(docs::css))
        .nest("/v1", v1)
        .nest_service("/ocpi", cpms_roaming::server::router(state.roaming.clone()))
        .fallback(problem::not_found_route)
        .method_not_allowed_fallback(problem::method_not_allowed)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(axum::middleware::from_fn(log_request))
        .with_state(state)
}
