//! Tokens (RFID cards, id tags, 2.0.1 id tokens) and the authorization decision they give.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{DomainError, TenantId};

/// The status an operator gives a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum TokenStatus {
    /// May charge.
    Accepted,
    /// Blocked by the operator (stolen card, unpaid bills).
    Blocked,
    /// No longer valid.
    Expired,
    /// Not valid for charging.
    Invalid,
}

/// A token of a tenant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Token {
    /// Owner.
    pub tenant: TenantId,
    /// The id tag / id token value as registered (compared ignoring case, as OCPP requires).
    pub id: String,
    /// 2.0.1 IdTokenEnumType (`ISO14443`, `eMAID`, ...) when the token is bound to one; `None` matches any.
    #[serde(default)]
    pub kind: Option<String>,
    /// Status.
    pub status: TokenStatus,
    /// When it stops being valid.
    #[serde(default)]
    pub expires_at: Option<DateTime<Utc>>,
    /// Group (1.6 parentIdTag, 2.0.1 groupIdToken): tokens of one fleet or household.
    #[serde(default)]
    pub group_id: Option<String>,
    /// The roaming partner (eMSP, e.g. `NL-TNM`) that issued the token; it is billed for its sessions.
    #[serde(default)]
    pub partner: Option<String>,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
}

impl Token {
    /// A token of `status` with nothing else set (no type, expiry, group or partner), created `now`.
    pub fn new(
        tenant: TenantId,
        id: impl Into<String>,
        status: TokenStatus,
        now: DateTime<Utc>,
    ) -> Self {
        Token {
            tenant,
            id: id.into(),
            kind: None,
            status,
            expires_at: None,
            group_id: None,
            partner: None,
            created_at: now,
            updated_at: now,
        }
    }
}

/// The longest token OCPP can carry (2.0.1 idToken; 1.6 idTag allows 20).
pub const MAX_TOKEN_CHARS: usize = 36;

/// The key tokens are stored and looked up under: OCPP id tokens are case-insensitive.
pub fn token_key(id: &str) -> String {
    id.trim().to_uppercase()
}

/// Checks a token id an operator registers.
pub fn validate_token_id(id: &str) -> Result<(), DomainError> {
    let n = id.trim().chars().count();
    if n == 0 || n > MAX_TOKEN_CHARS || id.chars().any(char::is_control) {
        return Err(DomainError::InvalidId {
            what: "token id",
            reason: format!("must be 1 to {MAX_TOKEN_CHARS} printable characters"),
        });
    }
    Ok(())
}

/// The outcome of authorizing a token, in terms both OCPP versions can express.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AuthStatus {
    /// May charge.
    Accepted,
    /// Blocked.
    Blocked,
    /// Expired.
    Expired,
    /// Known but not valid.
    Invalid,
    /// Not known at all (1.6 has no such status and says `Invalid`).
    Unknown,
}

/// An authorization decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthDecision {
    /// The status.
    pub status: AuthStatus,
    /// Until when the charger may cache an `Accepted`.
    #[serde(default)]
    pub expires_at: Option<DateTime<Utc>>,
    /// The token's group.
    #[serde(default)]
    pub group_id: Option<String>,
}

impl AuthDecision {
    /// Whether charging is allowed.
    pub fn accepted(&self) -> bool {
        self.status == AuthStatus::Accepted
    }

    /// The decision for a 2.0.1 `NoAuthorization` token at a charger where the operator allows free
    /// charging.
    pub fn free() -> Self {
        AuthDecision {
            status: AuthStatus::Accepted,
            expires_at: None,
            group_id: None,
        }
    }
}

/// A session the operator started remotely for a token at a charger (1.6 RemoteStartTransaction, 2.0.1
/// RequestStartTransaction): the charger's transaction messages for that token are accepted for a while
/// even when the token is not registered (the operator vouched for it). A registered token's own status
/// still decides.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemoteStartGrant {
    /// Owner.
    pub tenant: TenantId,
    /// The charger.
    pub charger: String,
    /// The token, as a [`token_key`].
    pub token: String,
    /// The command that started it.
    pub command_id: String,
    /// Until when it counts.
    pub expires_at: DateTime<Utc>,
}

impl RemoteStartGrant {
    /// How long a remote start vouches for its token.
    pub fn lifetime() -> chrono::Duration {
        chrono::Duration::minutes(15)
    }

    /// The record id of the grant for `token` at `charger`.
    pub fn key(charger: &str, token: &str) -> String {
        format!("{charger}~{}", token_key(token))
    }
}

/// The decision for a token the operator started a session for, when it is not registered.
pub fn granted_remotely(
    grant: Option<&RemoteStartGrant>,
    now: DateTime<Utc>,
) -> Option<AuthDecision> {
    grant.filter(|g| g.expires_at > now).map(|_| AuthDecision {
        status: AuthStatus::Accepted,
        expires_at: None,
        group_id: None,
    })
}

/// Decides whether `token` may charge at `now`. `presented_kind` is the 2.0.1 IdTokenEnumType, if any.
pub fn authorize(
    token: Option<&Token>,
    presented_kind: Option<&str>,
    now: DateTime<Utc>,
) -> AuthDecision {
    let Some(t) = token else {
        return AuthDecision {
            status: AuthStatus::Unknown,
            expires_at: None,
            group_id: None,
        };
    };
    if let (Some(bound), Some(shown)) = (&t.kind, presented_kind)
        && bound != shown
    {
        return AuthDecision {
            status: AuthStatus::Unknown,
            expires_at: None,
            group_id: None,
        };
    }
    let expired = t.expires_at.is_some_and(|e| e <= now);
    let status = match t.status {
        TokenStatus::Accepted if expired => AuthStatus::Expired,
        TokenStatus::Accepted => AuthStatus::Accepted,
        TokenStatus::Blocked => AuthStatus::Blocked,
        TokenStatus::Expired => AuthStatus::Expired,
        TokenStatus::Invalid => AuthStatus::Invalid,
    };
    AuthDecision {
        status,
        expires_at: t.expires_at,
        group_id: t.group_id.clone(),
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn token(status: TokenStatus, expires_at: Option<DateTime<Utc>>) -> Token {
        let t0 = Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap();
        Token {
            tenant: TenantId::default_tenant(),
            id: "04A2B3".into(),
            kind: Some("ISO14443".into()),
            status,
            expires_at,
            group_id: Some("FLEET".into()),
            partner: None,
            created_at: t0,
            updated_at: t0,
        }
    }

    #[test]
    fn status_and_expiry_decide() {
        let now = Utc.with_ymd_and_hms(2024, 6, 1, 0, 0, 0).unwrap();
        let past = Some(now - chrono::Duration::days(1));
        let future = Some(now + chrono::Duration::days(1));
        let cases = [
            (token(TokenStatus::Accepted, None), AuthStatus::Accepted),
            (token(TokenStatus::Accepted, future), AuthStatus::Accepted),
            (token(TokenStatus::Accepted, past), AuthStatus::Expired),
            (token(TokenStatus::Blocked, future), AuthStatus::Blocked),
            (token(TokenStatus::Expired, None), AuthStatus::Expired),
            (token(TokenStatus::Invalid, None), AuthStatus::Invalid),
        ];
        for (t, expect) in cases {
            assert_eq!(authorize(Some(&t), None, now).status, expect, "{t:?}");
        }
        assert_eq!(authorize(None, None, now).status, AuthStatus::Unknown);
    }

    #[test]
    fn a_token_bound_to_a_kind_is_unknown_under_another() {
        let now = Utc::now();
        let t = token(TokenStatus::Accepted, None);
        assert_eq!(
            authorize(Some(&t), Some("eMAID"), now).status,
            AuthStatus::Unknown
        );
        assert!(authorize(Some(&t), Some("ISO14443"), now).accepted());
    }

    #[test]
    fn keys_ignore_case() {
        assert_eq!(token_key(" 04a2b3 "), token_key("04A2B3"));
        assert!(validate_token_id(&"x".repeat(37)).is_err());
        assert!(validate_token_id("").is_err());
        assert!(validate_token_id("a\u{0}").is_err());
    }
}
