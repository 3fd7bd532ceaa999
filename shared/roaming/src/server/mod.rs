//! The OCPI endpoints partners call, under `/ocpi/{tenant}/`: the tenant's versions and version
//! details, and the modules. Every answer is an envelope with the HTTP status its OCPI status goes
//! with; `X-Request-ID` and `X-Correlation-ID` are answered with what the request carried. A request
//! is authorized by its token alone: the partner holding it, within the tenant its URL names. A
//! registration token (token A) opens only the versions and credentials endpoints.

mod commands;
mod credentials;
mod senders;
mod tokens;

use std::sync::Arc;

use axum::Router;
use axum::extract::{DefaultBodyLimit, FromRequestParts, RawPathParams, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode as Http, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use cpms_domain::TenantId;
use cpms_domain::roaming::{Partner, TokenUse, token_digest};
use cpms_ocpi::StatusCode;
use cpms_ocpi::headers::{CORRELATION_ID, REQUEST_ID};
use cpms_ports::roaming_records::{BY_REGISTRATION_TOKEN, BY_TOKEN, token_partition};
use cpms_ports::{Documents, PageRequest, Versioned};
use serde::Serialize;
use serde_json::Value;

use crate::{Roaming, RoamingError};

/// The largest request body a partner may send (a location with many EVSEs fits).
pub const MAX_BODY_BYTES: usize = 256 * 1024;

/// The version this server speaks.
pub const VERSION: &str = "2.2.1";

/// The OCPI endpoints of every tenant, to be served under `/ocpi` (`/ocpi/{tenant}/versions`, ...).
pub fn router(roaming: Arc<Roaming>) -> Router {
    Router::new()
        .route("/{tenant}/versions", get(credentials::versions))
        .route("/{tenant}/2.2.1", get(credentials::details))
        .route(
            "/{tenant}/2.2.1/credentials",
            get(credentials::get)
                .post(credentials::post)
                .put(credentials::put)
                .delete(credentials::delete),
        )
        .route("/{tenant}/2.2.1/locations", get(senders::locations))
        .route("/{tenant}/2.2.1/locations/{id}", get(senders::location))
        .route("/{tenant}/2.2.1/locations/{id}/{evse}", get(senders::evse))
        .route(
            "/{tenant}/2.2.1/locations/{id}/{evse}/{connector}",
            get(senders::connector),
        )
        .route("/{tenant}/2.2.1/tariffs", get(senders::tariffs))
        .route("/{tenant}/2.2.1/sessions", get(senders::sessions))
        .route("/{tenant}/2.2.1/cdrs", get(senders::cdrs))
        .route(
            "/{tenant}/2.2.1/commands/{command}",
            axum::routing::post(commands::post),
        )
        .route(
            "/{tenant}/2.2.1/tokens/{cc}/{pid}/{uid}",
            get(tokens::get).put(tokens::put).patch(tokens::patch),
        )
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(axum::middleware::from_fn(trace_ids))
        .with_state(roaming)
}

/// An OCPI answer: the envelope, with the HTTP status of its code (or the one given).
pub(crate) struct Ocpi {
    http: Http,
    body: Value,
    headers: Vec<(&'static str, String)>,
}

impl Ocpi {
    /// A success with `data`.
    pub fn ok(r: &Roaming, data: impl Serialize) -> Self {
        let env = cpms_ocpi::Envelope::ok(serde_json::to_value(data).unwrap_or_default(), r.now());
        Ocpi {
            http: Http::OK,
            body: serde_json::to_value(env).unwrap_or_default(),
            headers: Vec::new(),
        }
    }

    /// A success without data.
    pub fn done(r: &Roaming) -> Self {
        let env: cpms_ocpi::Envelope<Value> = cpms_ocpi::Envelope {
            data: None,
            status_code: StatusCode::Success,
            status_message: None,
            timestamp: r.now(),
        };
        Ocpi {
            http: Http::OK,
            body: serde_json::to_value(env).unwrap_or_default(),
            headers: Vec::new(),
        }
    }

    /// A failure with `code`.
    pub fn fail(code: StatusCode, message: impl Into<String>) -> Self {
        let env: cpms_ocpi::Envelope<Value> =
            cpms_ocpi::Envelope::error(code, message, chrono::Utc::now());
        Ocpi {
            http: Http::from_u16(code.http_status()).unwrap_or(Http::BAD_REQUEST),
            body: serde_json::to_value(env).unwrap_or_default(),
            headers: Vec::new(),
        }
    }

    /// With an HTTP status other than the code's.
    pub fn status(mut self, http: Http) -> Self {
        self.http = http;
        self
    }

    /// With a header.
    pub fn header(mut self, name: &'static str, value: String) -> Self {
        self.headers.push((name, value));
        self
    }
}

impl IntoResponse for Ocpi {
    fn into_response(self) -> Response {
        let mut r = (self.http, axum::Json(self.body)).into_response();
        for (k, v) in self.headers {
            if let Ok(v) = HeaderValue::from_str(&v) {
                r.headers_mut().insert(k, v);
            }
        }
        r
    }
}

impl From<RoamingError> for Ocpi {
    fn from(e: RoamingError) -> Self {
        use cpms_domain::roaming::RegistrationError as R;
        let code = match &e {
            RoamingError::Invalid(_) => StatusCode::InvalidParameters,
            RoamingError::UnsupportedVersion(_) => StatusCode::UnsupportedVersion,
            RoamingError::NoMatchingEndpoints(_) => StatusCode::NoMatchingEndpoints,
            RoamingError::Partner(_) => StatusCode::UnableToUseClientApi,
            RoamingError::Registration(R::OtherParty { .. }) => StatusCode::InvalidParameters,
            RoamingError::Registration(R::AlreadyRegistered | R::NotRegistered) => {
                // The credentials module answers these with 405 (wrong method for where it stands).
                return Ocpi::fail(StatusCode::ClientError, e.to_string())
                    .status(Http::METHOD_NOT_ALLOWED);
            }
            RoamingError::NotConfigured
            | RoamingError::UnknownPartner(_)
            | RoamingError::PartnerExists(_)
            | RoamingError::Store(_) => {
                tracing::error!(error = %e, "OCPI request failed");
                StatusCode::ServerError
            }
        };
        Ocpi::fail(code, e.to_string())
    }
}

/// Answers what no route matches.
async fn not_found() -> Ocpi {
    Ocpi::fail(StatusCode::ClientError, "no such OCPI endpoint").status(Http::NOT_FOUND)
}

/// Answers with the request's `X-Request-ID` and `X-Correlation-ID` (new ones where it had none).
async fn trace_ids(req: Request, next: Next) -> Response {
    let id = |h: &HeaderMap, name: &str| {
        h.get(name)
            .filter(|v| v.len() <= 255)
            .cloned()
            .unwrap_or_else(|| {
                HeaderValue::from_str(&crate::client::new_request_id())
                    .unwrap_or(HeaderValue::from_static("none"))
            })
    };
    let (rid, cid) = (
        id(req.headers(), REQUEST_ID),
        id(req.headers(), CORRELATION_ID),
    );
    let mut r = next.run(req).await;
    r.headers_mut().insert(REQUEST_ID, rid);
    r.headers_mut().insert(CORRELATION_ID, cid);
    r
}

/// The partner a request comes from, found by its token within the tenant of its URL.
pub(crate) struct Caller {
    /// The partner, as read.
    pub partner: Versioned<Partner>,
    /// What its token is to it.
    pub token_use: TokenUse,
    /// The token it presented.
    pub token: String,
}

impl Caller {
    /// The tenant.
    pub fn tenant(&self) -> &TenantId {
        &self.partner.value.tenant
    }
}

/// The tenant of the URL.
pub(crate) async fn tenant_of(parts: &mut Parts, r: &Arc<Roaming>) -> Option<TenantId> {
    let params = RawPathParams::from_request_parts(parts, r).await.ok()?;
    let t = params.iter().find(|(k, _)| *k == "tenant")?.1;
    TenantId::new(t).ok()
}

/// Finds the partner holding `token` in `tenant`.
async fn holder(
    r: &Roaming,
    tenant: &TenantId,
    token: &str,
) -> Result<Option<Caller>, RoamingError> {
    let d = token_digest(token);
    for slot in [BY_TOKEN, BY_REGISTRATION_TOKEN] {
        let q = Documents::<Partner>::by_index(slot, token_partition(&d), PageRequest::first(2));
        for p in r.records::<Partner>().query(tenant, &q).await?.items {
            if let Some(u) = p.value.token_use(token) {
                return Ok(Some(Caller {
                    partner: p,
                    token_use: u,
                    token: token.to_string(),
                }));
            }
        }
    }
    Ok(None)
}

fn unauthorized(message: &str) -> Ocpi {
    Ocpi::fail(StatusCode::ClientError, message).status(Http::UNAUTHORIZED)
}

impl FromRequestParts<Arc<Roaming>> for Caller {
    type Rejection = Ocpi;

    async fn from_request_parts(parts: &mut Parts, r: &Arc<Roaming>) -> Result<Self, Ocpi> {
        let tenant = tenant_of(parts, r).await.ok_or_else(|| {
            Ocpi::fail(StatusCode::ClientError, "no such tenant").status(Http::NOT_FOUND)
        })?;
        let raw = parts
            .headers
            .get(header::AUTHORIZATION)
            .map(|v| v.to_str().unwrap_or(""));
        let raw = cpms_ocpi::auth::parse(raw).map_err(|e| unauthorized(&e.to_string()))?;
        for token in cpms_ocpi::auth::candidates(&raw) {
            if let Some(c) = holder(r, &tenant, &token).await.map_err(Ocpi::from)? {
                return Ok(c);
            }
        }
        Err(unauthorized("the token is not known"))
    }
}

/// A caller that registered (token C): the functional modules take no registration token.
pub(crate) struct Registered(pub Caller);

impl FromRequestParts<Arc<Roaming>> for Registered {
    type Rejection = Ocpi;

    async fn from_request_parts(parts: &mut Parts, r: &Arc<Roaming>) -> Result<Self, Ocpi> {
        let c = Caller::from_request_parts(parts, r).await?;
        if c.token_use != TokenUse::Registered {
            return Err(Ocpi::fail(
                StatusCode::ClientError,
                "register first: a registration token opens the credentials module only",
            )
            .status(Http::FORBIDDEN));
        }
        Ok(Registered(c))
    }
}

impl Roaming {
    /// Where this installation is reached, for URLs handed to partners: the configured public URL,
    /// else the host (and `X-Forwarded-Proto`) of the request at hand.
    pub fn base_url(&self, headers: &HeaderMap) -> String {
        if let Some(u) = self.public_url() {
            return u.trim_end_matches('/').to_string();
        }
        let host = headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("localhost");
        let proto = headers
            .get("x-forwarded-proto")
            .and_then(|h| h.to_str().ok())
            .filter(|p| *p == "https" || *p == "http")
            .unwrap_or("http");
        format!("{proto}://{host}")
    }
}

/// Reads a JSON body as `T`: malformed JSON or a wrong shape is 2001.
pub(crate) fn json<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, Ocpi> {
    serde_json::from_slice(body)
        .map_err(|e| Ocpi::fail(StatusCode::InvalidParameters, format!("the body: {e}")))
}

/// State extractor shorthand.
pub(crate) type St = State<Arc<Roaming>>;
