//! Tenants, API keys and roles: who may do what through the operator API.
//!
//! An API key reads `cpms.{tenant}.{key id}.{secret}`; only the SHA-256 of the secret is stored. The key
//! names its tenant and id, so checking it is one read, and a key can never act outside its tenant. Keys
//! are random 256-bit secrets, so a fast hash is enough (a slow one protects guessable passwords).

use chrono::{DateTime, Utc};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::{DomainError, TenantId};

/// What a key may do; each role includes the ones below it.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Reads everything of its tenant.
    Viewer,
    /// Also sends commands to chargers and manages tokens.
    Operator,
    /// Also manages chargers, sites, tariffs and API keys.
    Admin,
}

impl Role {
    /// The role's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Operator => "operator",
            Role::Admin => "admin",
        }
    }
}

/// A tenant: one operator's network. Stored under the platform tenant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tenant {
    /// Id.
    pub id: TenantId,
    /// Display name.
    pub name: String,
    /// Created.
    pub created_at: DateTime<Utc>,
}

/// The tenant that holds the records of the installation itself (the list of tenants).
pub fn platform_tenant() -> TenantId {
    TenantId::new("_platform").unwrap_or_else(|_| TenantId::default_tenant())
}

/// A stored API key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKey {
    /// Tenant it acts in.
    pub tenant: TenantId,
    /// Public id (16 hex characters).
    pub id: String,
    /// What it is for.
    pub name: String,
    /// What it may do.
    pub role: Role,
    /// SHA-256 of the secret, hex.
    pub secret_sha256: String,
    /// Who created it (a key id, or `bootstrap`).
    pub created_by: String,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Revoked (it then authenticates nothing).
    #[serde(default)]
    pub revoked_at: Option<DateTime<Utc>>,
}

/// A key as presented: its parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PresentedKey {
    /// Tenant.
    pub tenant: TenantId,
    /// Key id.
    pub id: String,
    /// Secret.
    pub secret: String,
}

impl PresentedKey {
    /// Splits `cpms.{tenant}.{id}.{secret}`; `None` for anything else.
    pub fn parse(text: &str) -> Option<Self> {
        let mut parts = text.trim().split('.');
        let (Some("cpms"), Some(t), Some(id), Some(secret), None) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return None;
        };
        let hex16 = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_hexdigit());
        if !hex16(id, 16) || !hex16(secret, 64) {
            return None;
        }
        Some(PresentedKey {
            tenant: TenantId::new(t).ok()?,
            id: id.to_string(),
            secret: secret.to_string(),
        })
    }
}

impl ApiKey {
    /// A new key; returns it with the full key text, which is shown once and never stored.
    pub fn generate(
        tenant: TenantId,
        name: &str,
        role: Role,
        created_by: &str,
        now: DateTime<Utc>,
    ) -> Result<(ApiKey, String), DomainError> {
        let name = name.trim();
        crate::error::check_text("name", name, 100)?;
        let mut id = [0u8; 8];
        let mut secret = [0u8; 32];
        rand::rng().fill_bytes(&mut id);
        rand::rng().fill_bytes(&mut secret);
        let (id, secret) = (hex::encode(id), hex::encode(secret));
        let text = format!("cpms.{tenant}.{id}.{secret}");
        let key = ApiKey {
            tenant,
            id,
            name: name.to_string(),
            role,
            secret_sha256: sha256_hex(&secret),
            created_by: created_by.to_string(),
            created_at: now,
            revoked_at: None,
        };
        Ok((key, text))
    }

    /// Whether `presented` is this key and it is not revoked (digests compared in constant time).
    pub fn admits(&self, presented: &PresentedKey) -> bool {
        same_digest(&sha256_hex(&presented.secret), &self.secret_sha256)
            && self.revoked_at.is_none()
            && presented.tenant == self.tenant
            && presented.id == self.id
    }
}

pub(crate) fn sha256_hex(s: &str) -> String {
    hex::encode(Sha256::digest(s.as_bytes()))
}

/// Whether two digests are the same, compared in constant time.
pub(crate) fn same_digest(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000, 0).unwrap()
    }

    #[test]
    fn a_generated_key_admits_its_text_and_nothing_else() {
        let t = TenantId::new("acme").unwrap();
        let (key, text) =
            ApiKey::generate(t.clone(), "ci", Role::Operator, "bootstrap", now()).unwrap();
        let p = PresentedKey::parse(&text).unwrap();
        assert!(key.admits(&p));
        assert!(!text.contains(&key.secret_sha256));
        let mut other = p.clone();
        other.secret = "0".repeat(64);
        assert!(!key.admits(&other));
        let mut elsewhere = p.clone();
        elsewhere.tenant = TenantId::new("evil").unwrap();
        assert!(!key.admits(&elsewhere), "a key is bound to its tenant");
        let mut revoked = key.clone();
        revoked.revoked_at = Some(now());
        assert!(!revoked.admits(&p));
    }

    #[test]
    fn malformed_keys_do_not_parse() {
        for bad in [
            "",
            "cpms",
            "cpms.acme.0011223344556677",
            "cpms.acme.0011223344556677.zz",
            "xxxx.acme.0011223344556677.0000000000000000000000000000000000000000000000000000000000000000",
            "cpms.ac me.0011223344556677.0000000000000000000000000000000000000000000000000000000000000000",
            "cpms.acme.0011223344556677.0000000000000000000000000000000000000000000000000000000000000000.x",
        ] {
            assert_eq!(PresentedKey::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn roles_are_ordered() {
        assert!(Role::Admin > Role::Operator && Role::Operator > Role::Viewer);
    }
}
