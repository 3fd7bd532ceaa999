//! The credentials module: the token, versions URL and roles a party hands the other, in 2.2.1 and in
//! 2.1.1 (one role, no list).

use serde::{Deserialize, Serialize};

use crate::check::Check;
use crate::types::{BusinessDetails, Role};

/// One role of a party (2.2.1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CredentialsRole {
    /// The role.
    pub role: Role,
    /// Who.
    pub business_details: BusinessDetails,
    /// Party id (3 characters).
    pub party_id: String,
    /// Country (ISO 3166-1 alpha-2).
    pub country_code: String,
}

/// 2.2.1 credentials.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Credentials {
    /// The token the other side uses to call this one (at most 64 characters).
    pub token: String,
    /// This side's versions endpoint.
    pub url: String,
    /// Its roles (at least one).
    pub roles: Vec<CredentialsRole>,
}

/// 2.1.1 credentials: one party, no roles.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CredentialsV211 {
    /// The token.
    pub token: String,
    /// The versions endpoint.
    pub url: String,
    /// Who.
    pub business_details: BusinessDetails,
    /// Party id.
    pub party_id: String,
    /// Country.
    pub country_code: String,
}

impl Credentials {
    /// Checks what a partner sent: the token and URL, and each role's party.
    pub fn check(&self) -> Result<(), String> {
        let mut c = Check::new();
        c.ci("token", &self.token, 64).len("url", &self.url, 255);
        if self.roles.is_empty() {
            c.fail("roles: at least one");
        }
        for r in &self.roles {
            c.party(&r.country_code, &r.party_id).len(
                "business_details.name",
                &r.business_details.name,
                100,
            );
        }
        c.done()
    }

    /// As 2.1.1 sends them: the first role's party (2.1.1 has one).
    pub fn to_v211(&self) -> Option<CredentialsV211> {
        let r = self.roles.first()?;
        Some(CredentialsV211 {
            token: self.token.clone(),
            url: self.url.clone(),
            business_details: r.business_details.clone(),
            party_id: r.party_id.clone(),
            country_code: r.country_code.clone(),
        })
    }
}

impl From<CredentialsV211> for Credentials {
    /// 2.1.1 credentials as 2.2.1 models them: the party as an eMSP (the role a 2.1.1 partner of a
    /// CPO has).
    fn from(c: CredentialsV211) -> Self {
        Credentials {
            token: c.token,
            url: c.url,
            roles: vec![CredentialsRole {
                role: Role::Emsp,
                business_details: c.business_details,
                party_id: c.party_id,
                country_code: c.country_code,
            }],
        }
    }
}
