//! API authentication and roles. `Authorization: Bearer <key>` is either a tenant's API key
//! (`cpms.{tenant}.{id}.{secret}`, checked against its stored hash) or the installation's bootstrap key
//! (`CPMS_ADMIN_KEY`: admin of the default tenant, and the only key that manages tenants).

use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use cpms_domain::TenantId;
use cpms_domain::access::{ApiKey, PresentedKey, Role};
use sha2::{Digest, Sha256};

use super::{ApiState, Problem};

/// The bootstrap key, kept only as its SHA-256.
#[derive(Clone, PartialEq, Eq)]
pub struct AdminKey([u8; 32]);

impl std::fmt::Debug for AdminKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AdminKey(..)")
    }
}

impl AdminKey {
    /// From the key's text.
    pub fn new(key: &str) -> Self {
        AdminKey(Sha256::digest(key.as_bytes()).into())
    }

    /// From the hex SHA-256 of the key (as [`AdminKey::digest_hex`] writes it).
    pub fn from_digest_hex(hex_digest: &str) -> Option<Self> {
        let bytes = hex::decode(hex_digest.trim()).ok()?;
        bytes.try_into().ok().map(AdminKey)
    }

    /// The hex SHA-256 of the key: what may be stored (the key cannot be recovered from it).
    pub fn digest_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// Whether `presented` is the key (digests are compared, so timing tells nothing about the key).
    pub fn matches(&self, presented: &str) -> bool {
        let d: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
        d.iter()
            .zip(self.0.iter())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
    }
}

/// Who is calling.
#[derive(Debug, Clone)]
pub(crate) struct Principal {
    /// The tenant every read and write is scoped to.
    pub tenant: TenantId,
    /// Its role.
    pub role: Role,
    /// Key id (`bootstrap` for the bootstrap key).
    pub key_id: String,
    /// Whether it may manage tenants.
    pub platform: bool,
}

impl Principal {
    /// How it appears in audit entries and on commands.
    pub fn actor(&self) -> String {
        format!("api-key:{}", self.key_id)
    }
}

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Access {
    /// Anyone (the OpenAPI document).
    Public,
    /// A key with at least this role.
    Role(Role),
    /// The bootstrap key only.
    Platform,
}

impl Access {
    pub fn label(self) -> &'static str {
        match self {
            Access::Public => "public",
            Access::Role(r) => r.as_str(),
            Access::Platform => "platform",
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Principal {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Problem> {
        parts
            .extensions
            .get::<Principal>()
            .cloned()
            .ok_or_else(|| Problem::new(StatusCode::UNAUTHORIZED, "unauthorized", "no API key"))
    }
}

/// Resolves the caller's key, if any, into a [`Principal`] in the request's extensions.
pub(crate) async fn authenticate(
    State(state): State<ApiState>,
    mut req: Request,
    next: Next,
) -> Response {
    let presented = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim)
        .map(str::to_string);
    let mut caller = None;
    if let Some(k) = presented {
        match principal(&state, &k).await {
            Ok(Some(p)) => {
                caller = Some(KeyId(format!("{}/{}", p.tenant, p.key_id)));
                req.extensions_mut().insert(p);
            }
            Ok(None) => {
                caller = Some(KeyId("bad key".into()));
                req.extensions_mut().insert(BadKey);
            }
            Err(p) => return p.into_response(),
        }
    }
    let mut r = next.run(req).await;
    if let Some(c) = caller {
        r.extensions_mut().insert(c);
    }
    r
}

/// Who made a request (tenant and key id, never the secret), for the request log.
#[derive(Clone)]
pub(crate) struct KeyId(pub String);

#[derive(Clone)]
struct BadKey;

async fn principal(state: &ApiState, key: &str) -> Result<Option<Principal>, Problem> {
    if state.admin_key.matches(key) {
        return Ok(Some(Principal {
            tenant: state.csms.config.default_tenant.clone(),
            role: Role::Admin,
            key_id: "bootstrap".into(),
            platform: true,
        }));
    }
    let Some(presented) = PresentedKey::parse(key) else {
        return Ok(None);
    };
    let stored = state
        .csms
        .records::<ApiKey>()
        .get(&presented.tenant, &presented.id)
        .await?;
    Ok(stored
        .filter(|k| k.value.admits(&presented))
        .map(|k| Principal {
            tenant: k.value.tenant,
            role: k.value.role,
            key_id: k.value.id,
            platform: false,
        }))
}

/// Refuses a request whose caller may not use the route.
pub(crate) async fn require(State(access): State<Access>, req: Request, next: Next) -> Response {
    if access == Access::Public {
        return next.run(req).await;
    }
    let Some(p) = req.extensions().get::<Principal>() else {
        return if req.extensions().get::<BadKey>().is_some() {
            unauthorized("the API key is not valid (or was revoked)")
        } else {
            unauthorized("send an API key as 'Authorization: Bearer <key>'")
        };
    };
    let allowed = match access {
        Access::Public => true,
        Access::Role(r) => p.role >= r,
        Access::Platform => p.platform,
    };
    if allowed {
        next.run(req).await
    } else {
        let need = match access {
            Access::Platform => "the installation's bootstrap key".to_string(),
            other => format!("the {} role", other.label()),
        };
        Problem::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            format!(
                "this needs {need}; the key has the {} role",
                p.role.as_str()
            ),
        )
        .into_response()
    }
}

fn unauthorized(detail: &str) -> Response {
    let mut r = Problem::new(StatusCode::UNAUTHORIZED, "unauthorized", detail).into_response();
    r.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        header::HeaderValue::from_static("Bearer"),
    );
    r
}
