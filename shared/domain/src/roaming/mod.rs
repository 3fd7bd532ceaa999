//! Roaming partners (OCPI): who a tenant exchanges data with, and the credentials both sides hold.
//! A partner is created by the operator with a registration token (token A) to hand over; the partner
//! registers with it and gets its own token (token C) in exchange for the one it gives us (token B);
//! either side may later update or unregister. Tokens we issue are stored as digests only; the token
//! we call the partner with is kept as it must be sent.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::TenantId;
use crate::access::{same_digest as same, sha256_hex};

#[cfg(test)]
mod tests;

/// What a partner is to us.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PartnerRole {
    /// An e-mobility service provider: its drivers charge here.
    Emsp,
    /// A roaming hub: it stands for many.
    Hub,
    /// A navigation service provider: it shows our locations.
    Nsp,
    /// Anyone else.
    Other,
}

/// Where the registration stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PartnerState {
    /// Created; waiting for the partner to register with its token A (or for us to register with it).
    Invited,
    /// Credentials exchanged: both sides can call each other.
    Registered,
    /// Unregistered by either side: no calls either way until registered again.
    Unregistered,
}

/// A module endpoint of the partner.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PartnerEndpoint {
    /// The module (`locations`, `cdrs`, ...).
    pub module: String,
    /// `SENDER` or `RECEIVER` (the partner's side).
    pub role: String,
    /// Where.
    pub url: String,
}

/// Where a partner is reached: what its versions endpoint and the details of the version both speak
/// said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connection {
    /// Its versions endpoint.
    pub versions_url: String,
    /// The version both speak.
    pub version: String,
    /// Its endpoints in that version.
    pub endpoints: Vec<PartnerEndpoint>,
}

/// A tenant's own identity in OCPI: the party its locations, sessions and CDRs are published under,
/// and the name partners see.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoamingSettings {
    /// Owner.
    pub tenant: TenantId,
    /// Our country (ISO 3166-1 alpha-2).
    pub country_code: String,
    /// Our party id (3 letters or digits).
    pub party_id: String,
    /// The operator's name, as partners show it.
    pub name: String,
    /// Its website.
    #[serde(default)]
    pub website: Option<String>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
}

/// Checks a party: two letters and three letters or digits (case is not significant).
pub fn valid_party(country_code: &str, party_id: &str) -> bool {
    country_code.len() == 2
        && country_code.bytes().all(|b| b.is_ascii_alphabetic())
        && party_id.len() == 3
        && party_id.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// A roaming partner of a tenant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Partner {
    /// Owner.
    pub tenant: TenantId,
    /// Id: `{country_code}-{party_id}` of the partner.
    pub id: String,
    /// Name.
    pub name: String,
    /// Its country (ISO 3166-1 alpha-2).
    pub country_code: String,
    /// Its party id.
    pub party_id: String,
    /// Its roles.
    pub roles: Vec<PartnerRole>,
    /// Where the registration stands.
    pub state: PartnerState,
    /// Digest of the registration token (token A) while it is valid.
    pub registration_token_sha256: Option<String>,
    /// Digest of the token it calls us with (token C), once registered.
    pub token_sha256: Option<String>,
    /// The token we call it with (token B, or the one it last gave us).
    pub their_token: Option<String>,
    /// Its versions endpoint.
    pub versions_url: Option<String>,
    /// The version both speak (`2.2.1`, `2.1.1`).
    pub version: Option<String>,
    /// Its endpoints in that version.
    pub endpoints: Vec<PartnerEndpoint>,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
}

/// Why a registration step is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegistrationError {
    /// POST credentials by a partner already registered (it should PUT).
    #[error("the partner is registered already: update the credentials with PUT")]
    AlreadyRegistered,
    /// PUT or DELETE by a partner that is not registered.
    #[error("the partner is not registered")]
    NotRegistered,
    /// The credentials name another party than the partner was created for.
    #[error("the credentials are of {found}, this partner is {expected}")]
    OtherParty {
        /// The partner's party.
        expected: String,
        /// The credentials' party.
        found: String,
    },
}

/// A token to hand over: 32 random bytes as 43 characters of URL-safe Base64 (fits OCPI's 64).
pub fn new_token(random: [u8; 32]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(random)
}

/// The digest a token we issued is stored and looked up under (hex SHA-256).
pub fn token_digest(token: &str) -> String {
    sha256_hex(token)
}

/// The id of a party's partner record.
pub fn partner_id(country_code: &str, party_id: &str) -> String {
    format!(
        "{}-{}",
        country_code.to_ascii_uppercase(),
        party_id.to_ascii_uppercase()
    )
}

/// What a presented token is to a partner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenUse {
    /// Its registration token (token A): only the credentials module takes it.
    Registration,
    /// Its own token (token C): every module.
    Registered,
}

impl Partner {
    /// A new partner and the registration token (token A) to hand it.
    pub fn invite(
        tenant: TenantId,
        name: String,
        country_code: &str,
        party_id: &str,
        roles: Vec<PartnerRole>,
        random: [u8; 32],
        now: DateTime<Utc>,
    ) -> (Self, String) {
        let token_a = new_token(random);
        let p = Partner {
            tenant,
            id: partner_id(country_code, party_id),
            name,
            country_code: country_code.to_ascii_uppercase(),
            party_id: party_id.to_ascii_uppercase(),
            roles,
            state: PartnerState::Invited,
            registration_token_sha256: Some(sha256_hex(&token_a)),
            token_sha256: None,
            their_token: None,
            versions_url: None,
            version: None,
            endpoints: Vec::new(),
            created_at: now,
            updated_at: now,
        };
        (p, token_a)
    }

    /// What `token` is to this partner, if anything (an unregistered partner's tokens are nothing).
    pub fn token_use(&self, token: &str) -> Option<TokenUse> {
        let d = sha256_hex(token);
        if self.state == PartnerState::Registered
            && self.token_sha256.as_deref().is_some_and(|t| same(t, &d))
        {
            return Some(TokenUse::Registered);
        }
        if self.state != PartnerState::Registered
            && self
                .registration_token_sha256
                .as_deref()
                .is_some_and(|t| same(t, &d))
        {
            return Some(TokenUse::Registration);
        }
        None
    }

    /// A new registration token for a partner that is not registered (the old one stops working).
    pub fn reinvite(&mut self, random: [u8; 32], now: DateTime<Utc>) -> String {
        let token_a = new_token(random);
        self.registration_token_sha256 = Some(sha256_hex(&token_a));
        self.updated_at = now;
        token_a
    }

    /// The partner registered, or updated its credentials (`update`), giving us `their_token` and its
    /// versions; returns the token it calls us with from now on (token C; a new one each time). The
    /// registration token no longer works.
    pub fn registered(
        &mut self,
        update: bool,
        their_party: (&str, &str),
        their_token: String,
        connection: Connection,
        random: [u8; 32],
        now: DateTime<Utc>,
    ) -> Result<String, RegistrationError> {
        match (update, self.state) {
            (false, PartnerState::Registered) => return Err(RegistrationError::AlreadyRegistered),
            (true, PartnerState::Invited | PartnerState::Unregistered) => {
                return Err(RegistrationError::NotRegistered);
            }
            _ => {}
        }
        let found = partner_id(their_party.0, their_party.1);
        if found != self.id {
            return Err(RegistrationError::OtherParty {
                expected: self.id.clone(),
                found,
            });
        }
        let token_c = new_token(random);
        self.token_sha256 = Some(sha256_hex(&token_c));
        self.registration_token_sha256 = None;
        self.their_token = Some(their_token);
        self.versions_url = Some(connection.versions_url);
        self.version = Some(connection.version);
        self.endpoints = connection.endpoints;
        self.state = PartnerState::Registered;
        self.updated_at = now;
        Ok(token_c)
    }

    /// We are about to register with the partner (it gave the operator its versions URL and a token
    /// A of its own): returns the token it will call us with (token B), which works on our versions and
    /// credentials endpoints until the exchange completes (the partner reads our versions with it while
    /// it answers). A registration token handed out before stops working.
    pub fn offer(
        &mut self,
        random: [u8; 32],
        now: DateTime<Utc>,
    ) -> Result<String, RegistrationError> {
        if self.state == PartnerState::Registered {
            return Err(RegistrationError::AlreadyRegistered);
        }
        Ok(self.reinvite(random, now))
    }

    /// The partner answered our registration with its credentials: the token we offered
    /// ([`Partner::offer`]) becomes its token C, and `their_token` the one we call it with.
    pub fn connected(
        &mut self,
        their_party: (&str, &str),
        their_token: String,
        connection: Connection,
        now: DateTime<Utc>,
    ) -> Result<(), RegistrationError> {
        if self.state == PartnerState::Registered {
            return Err(RegistrationError::AlreadyRegistered);
        }
        let found = partner_id(their_party.0, their_party.1);
        if found != self.id {
            return Err(RegistrationError::OtherParty {
                expected: self.id.clone(),
                found,
            });
        }
        let offered = self
            .registration_token_sha256
            .take()
            .ok_or(RegistrationError::NotRegistered)?;
        self.token_sha256 = Some(offered);
        self.their_token = Some(their_token);
        self.versions_url = Some(connection.versions_url);
        self.version = Some(connection.version);
        self.endpoints = connection.endpoints;
        self.state = PartnerState::Registered;
        self.updated_at = now;
        Ok(())
    }

    /// Unregistered (by either side): its tokens stop working both ways.
    pub fn unregistered(&mut self, now: DateTime<Utc>) -> Result<(), RegistrationError> {
        if self.state != PartnerState::Registered {
            return Err(RegistrationError::NotRegistered);
        }
        self.state = PartnerState::Unregistered;
        self.token_sha256 = None;
        self.their_token = None;
        self.updated_at = now;
        Ok(())
    }

    /// Its endpoint of `module` on side `role` (the partner's side: `RECEIVER` for what we push).
    pub fn endpoint(&self, module: &str, role: &str) -> Option<&str> {
        self.endpoints
            .iter()
            .find(|e| e.module == module && e.role == role)
            .map(|e| e.url.as_str())
    }
}

/// An object as published to partners (`locations`, `sessions`, `cdrs`): what GET lists serve and
/// pushes send, kept as the OCPI JSON it is, ordered by `last_updated`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Published {
    /// Owner.
    pub tenant: TenantId,
    /// The module.
    pub module: String,
    /// The object's OCPI id (a location id, session id or CDR id).
    pub object_id: String,
    /// Who may see it: every partner (`None`: locations, tariffs), or the partner whose token it is
    /// about (sessions, CDRs).
    pub audience: Option<String>,
    /// The OCPI object.
    pub body: serde_json::Value,
    /// When it last changed.
    pub last_updated: DateTime<Utc>,
    /// The chargers a location is made of.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub members: Vec<crate::ChargerId>,
}

impl Published {
    /// The record id of an object.
    pub fn key(module: &str, object_id: &str) -> String {
        format!("{module}:{object_id}")
    }

    /// The list a partner reads of `module`: `{module}:*` for what every partner sees, else
    /// `{module}:{partner}`.
    pub fn audience_list(module: &str, audience: Option<&str>) -> String {
        format!("{module}:{}", audience.unwrap_or("*"))
    }

    /// Its position in that list: by `last_updated`, then id.
    pub fn order(last_updated: DateTime<Utc>, object_id: &str) -> String {
        format!(
            "{}|{object_id}",
            last_updated.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
        )
    }
}

/// What a push sends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PushAction {
    /// PUT the object as it is when sent (locations, sessions).
    Put,
    /// PATCH an EVSE's status (and `last_updated`).
    PatchEvse {
        /// The EVSE.
        evse_uid: String,
    },
    /// POST the object (CDRs: once, and until the partner has it).
    Post,
    /// DELETE it from the partner (a tariff no longer published). Shares its job with a PUT of the
    /// same object: whichever was queued last is what is sent.
    Delete,
}

/// One object to send to one partner, in the partner's order; it is deleted once the partner has it.
/// A newer change of an object already queued does not queue it again: the object is read when sent,
/// so the partner gets its latest state and never a stale one after a newer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PushJob {
    /// Owner.
    pub tenant: TenantId,
    /// The partner.
    pub partner: String,
    /// The module.
    pub module: String,
    /// The object.
    pub object_id: String,
    /// What is sent.
    pub action: PushAction,
    /// When it was queued (its place in the partner's order).
    pub queued_at: DateTime<Utc>,
    /// Attempts so far.
    pub attempts: u32,
    /// Not before.
    pub next_at: DateTime<Utc>,
    /// Why the last attempt failed.
    #[serde(default)]
    pub last_error: Option<String>,
    /// Given up: the partner refused it as invalid (kept for the operator; a resync queues it again).
    #[serde(default)]
    pub dead: bool,
    /// Moves each time the object changes while queued: a sender that read the object before the
    /// change finds the job changed and sends again.
    #[serde(default)]
    pub revision: u32,
}

impl PushJob {
    /// The record id of a job.
    pub fn key(partner: &str, module: &str, object_id: &str, action: &PushAction) -> String {
        match action {
            PushAction::PatchEvse { evse_uid } => {
                format!("{partner}|{module}|{object_id}|{evse_uid}")
            }
            _ => format!("{partner}|{module}|{object_id}"),
        }
    }

    /// Its record id.
    pub fn id(&self) -> String {
        Self::key(&self.partner, &self.module, &self.object_id, &self.action)
    }
}

/// One attempt to send an object to a partner, kept for 30 days: the delivery log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PushAttempt {
    /// Owner.
    pub tenant: TenantId,
    /// Time-ordered id.
    pub id: String,
    /// The partner.
    pub partner: String,
    /// The module.
    pub module: String,
    /// The object.
    pub object_id: String,
    /// `PUT`, `PATCH`, `POST` or `DELETE`.
    pub method: String,
    /// When.
    pub at: DateTime<Utc>,
    /// Whether the partner took it.
    pub ok: bool,
    /// The HTTP status, when it answered.
    pub http_status: Option<u16>,
    /// The OCPI status, when it answered one.
    pub ocpi_status: Option<u16>,
    /// What went wrong.
    pub error: Option<String>,
    /// How long it took, ms.
    pub took_ms: u64,
}

/// A partner's pushes are sent by one worker at a time: the holder of this lease until it expires.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushLease {
    /// Owner.
    pub tenant: TenantId,
    /// The partner.
    pub partner: String,
    /// Until when it is held.
    pub until: DateTime<Utc>,
}
