//! The operator HTTP API (`/v1/...`): JSON in and out, `Authorization: Bearer <key>`, RFC 9457 problem
//! responses for every error, cursor pagination on lists, every query scoped to the key's tenant. The
//! same router serves `cpms serve` and (with `lambda_http`) the operator-api Lambda. The OpenAPI
//! document at `/v1/openapi.json` is generated from the route table ([`registry`]).

mod audit;
mod auth;
mod chargers;
mod commands;
mod extract;
mod keys;
mod problem;
mod registry;
mod sessions;
mod sites;
mod tokens;
mod views;

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::http::Method;
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
            "Change a charger (name, site, topology, enabled)",
            |g| OpDoc::returns::<views::ChargerView>(g, 200).body::<chargers::ChargerPatch>(g),
            chargers::update,
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
        .nest("/v1", v1)
        .fallback(problem::not_found_route)
        .method_not_allowed_fallback(problem::method_not_allowed)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state)
}

#[cfg(test)]
mod tests;
