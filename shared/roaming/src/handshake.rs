//! Partners and the credentials handshake, both ways. An operator creates a partner and hands it a
//! registration token (token A); the partner registers with it at our credentials endpoint, or the
//! operator gives us the partner's versions URL and its own token A and we register with it. Either
//! way each side ends up holding the token the other calls it with, and the endpoints of the version
//! both speak.

use cpms_domain::TenantId;
use cpms_domain::roaming::{
    Connection, Partner, PartnerEndpoint, PartnerRole, RegistrationError, RoamingSettings,
    partner_id,
};
use cpms_ocpi::credentials::{Credentials, CredentialsRole};
use cpms_ocpi::types::{BusinessDetails, Role};
use cpms_ocpi::versions::{InterfaceRole, ModuleId, Version, VersionDetails, VersionNumber};
use cpms_ports::partner_client::Method;
use cpms_ports::{Expected, Versioned};
use serde_json::Value;

use crate::client::{Target, single};
use crate::{Roaming, RoamingError};

/// What an operator gives to create a partner.
#[derive(Debug, Clone)]
pub struct NewPartner {
    /// Its name.
    pub name: String,
    /// Its country (ISO 3166-1 alpha-2).
    pub country_code: String,
    /// Its party id.
    pub party_id: String,
    /// What it is to us.
    pub roles: Vec<PartnerRole>,
}

fn side(role: Option<InterfaceRole>, module: ModuleId) -> &'static str {
    match role {
        Some(InterfaceRole::Sender) => "SENDER",
        Some(InterfaceRole::Receiver) => "RECEIVER",
        // 2.1.1 names no side: an eMSP's endpoints of the modules a CPO sends are receivers.
        None => match module {
            ModuleId::Tokens | ModuleId::Commands => "SENDER",
            _ => "RECEIVER",
        },
    }
}

impl Roaming {
    /// Our credentials as we hand them to a partner: `token` is the one it is to call us with.
    pub(crate) fn our_credentials(
        settings: &RoamingSettings,
        token: String,
        versions_url: String,
    ) -> Credentials {
        Credentials {
            token,
            url: versions_url,
            roles: vec![CredentialsRole {
                role: Role::Cpo,
                business_details: BusinessDetails {
                    name: settings.name.clone(),
                    website: settings.website.clone(),
                    logo: None,
                },
                party_id: settings.party_id.clone(),
                country_code: settings.country_code.clone(),
            }],
        }
    }

    /// The tenant's settings, which every exchange needs.
    pub(crate) async fn configured(
        &self,
        tenant: &TenantId,
    ) -> Result<RoamingSettings, RoamingError> {
        self.settings(tenant)
            .await?
            .ok_or(RoamingError::NotConfigured)
    }

    /// Creates a partner and its registration token (token A, shown once).
    pub async fn create_partner(
        &self,
        tenant: &TenantId,
        new: NewPartner,
    ) -> Result<(Partner, String), RoamingError> {
        if !cpms_domain::roaming::valid_party(&new.country_code, &new.party_id) {
            return Err(RoamingError::Invalid(
                "country_code must be two letters and party_id three letters or digits".into(),
            ));
        }
        if new.name.trim().is_empty() || new.name.chars().count() > 100 {
            return Err(RoamingError::Invalid("name: 1 to 100 characters".into()));
        }
        if new.roles.is_empty() {
            return Err(RoamingError::Invalid("roles: at least one".into()));
        }
        let (p, token_a) = Partner::invite(
            tenant.clone(),
            new.name,
            &new.country_code,
            &new.party_id,
            new.roles,
            rand::random(),
            self.now(),
        );
        match self.records::<Partner>().put(&p, Expected::Absent).await {
            Ok(_) => Ok((p, token_a)),
            Err(cpms_ports::StoreError::Conflict) => Err(RoamingError::PartnerExists(p.id)),
            Err(e) => Err(e.into()),
        }
    }

    /// A new registration token for a partner that is not registered.
    pub async fn reinvite(
        &self,
        tenant: &TenantId,
        id: &str,
    ) -> Result<(Partner, String), RoamingError> {
        let Versioned { mut value, version } = self.known(tenant, id).await?;
        if value.state == cpms_domain::roaming::PartnerState::Registered {
            return Err(RegistrationError::AlreadyRegistered.into());
        }
        let token = value.reinvite(rand::random(), self.now());
        self.records::<Partner>()
            .put(&value, Expected::Version(version))
            .await?;
        Ok((value, token))
    }

    pub(crate) async fn known(
        &self,
        tenant: &TenantId,
        id: &str,
    ) -> Result<Versioned<Partner>, RoamingError> {
        self.partner(tenant, id)
            .await?
            .ok_or_else(|| RoamingError::UnknownPartner(id.to_string()))
    }

    /// Reads a partner's versions and the details of the best version both speak, with `token`.
    pub(crate) async fn their_connection(
        &self,
        versions_url: &str,
        token: &str,
    ) -> Result<Connection, RoamingError> {
        let target = Target {
            token,
            version: VersionNumber::V2_2_1,
            route: None,
            correlation: None,
        };
        let answer = self.call(Method::Get, versions_url, &target, None).await?;
        let versions: Vec<Version> = match answer.data {
            Some(Value::Array(items)) => serde_json::from_value(Value::Array(items))
                .map_err(|e| RoamingError::Invalid(format!("the partner's versions: {e}")))?,
            other => vec![single(other).map_err(RoamingError::Invalid)?],
        };
        let best = cpms_ocpi::versions::best_common(&versions).ok_or_else(|| {
            RoamingError::UnsupportedVersion(format!(
                "the partner speaks {}; this CPO speaks 2.2.1",
                versions
                    .iter()
                    .map(|v| v.version.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        })?;
        if !matches!(best.version, VersionNumber::V2_2_1 | VersionNumber::V2_2) {
            return Err(RoamingError::UnsupportedVersion(format!(
                "the partner speaks OCPI {} only; this CPO speaks 2.2.1",
                best.version.as_str()
            )));
        }
        let answer = self.call(Method::Get, &best.url, &target, None).await?;
        let details: VersionDetails = single(answer.data)
            .map_err(|e| RoamingError::Invalid(format!("the partner's version details: {e}")))?;
        if details
            .endpoint(ModuleId::Credentials, InterfaceRole::Receiver)
            .or_else(|| details.endpoint(ModuleId::Credentials, InterfaceRole::Sender))
            .is_none()
        {
            return Err(RoamingError::NoMatchingEndpoints(
                "the partner's version details have no credentials endpoint".into(),
            ));
        }
        Ok(Connection {
            versions_url: versions_url.to_string(),
            version: VersionNumber::V2_2_1.as_str().to_string(),
            endpoints: details
                .endpoints
                .iter()
                .map(|e| PartnerEndpoint {
                    module: e.identifier.as_str().to_string(),
                    role: side(e.role, e.identifier).to_string(),
                    url: e.url.clone(),
                })
                .collect(),
        })
    }

    /// Registers with a partner, given its versions URL and the token it issued us (its token A):
    /// reads its endpoints, offers it a token for calling us, and keeps the token it answers with.
    /// `base` is where our OCPI endpoints are reached when no public URL is configured.
    pub async fn register_with(
        &self,
        tenant: &TenantId,
        id: &str,
        base: &str,
        versions_url: &str,
        their_token_a: &str,
    ) -> Result<Partner, RoamingError> {
        if their_token_a.is_empty() || their_token_a.len() > cpms_ocpi::auth::MAX_TOKEN_LEN {
            return Err(RoamingError::Invalid("token: 1 to 64 characters".into()));
        }
        if !(versions_url.starts_with("https://") || versions_url.starts_with("http://")) {
            return Err(RoamingError::Invalid(
                "versions_url must be an http(s) URL".into(),
            ));
        }
        let settings = self.configured(tenant).await?;
        let Versioned { mut value, version } = self.known(tenant, id).await?;
        let connection = self.their_connection(versions_url, their_token_a).await?;
        let token_b = value.offer(rand::random(), self.now())?;
        let version = self
            .records::<Partner>()
            .put(&value, Expected::Version(version))
            .await?;
        let ours = Self::our_credentials(
            &settings,
            token_b,
            format!(
                "{}/versions",
                Self::ocpi_base(self.public_url().unwrap_or(base), tenant)
            ),
        );
        let url = credentials_url(&connection)?;
        let target = Target {
            token: their_token_a,
            version: VersionNumber::V2_2_1,
            route: None,
            correlation: None,
        };
        let body = serde_json::to_value(&ours).unwrap_or_default();
        let answer = self.call(Method::Post, &url, &target, Some(&body)).await?;
        let theirs: Credentials = single(answer.data)
            .map_err(|e| RoamingError::Invalid(format!("the partner's credentials: {e}")))?;
        theirs
            .check()
            .map_err(|e| RoamingError::Invalid(format!("the partner's credentials: {e}")))?;
        let party = their_party(&value, &theirs);
        value.connected(
            (&party.0, &party.1),
            theirs.token,
            Connection {
                versions_url: theirs.url,
                ..connection
            },
            self.now(),
        )?;
        self.records::<Partner>()
            .put(&value, Expected::Version(version))
            .await?;
        tracing::info!(tenant = tenant.as_str(), partner = %value.id, "registered with the partner");
        Ok(value)
    }

    /// A partner registers (`update`: updates its registration) with the credentials it sent; returns
    /// ours, with the token it calls us with from now on.
    pub(crate) async fn accept_credentials(
        &self,
        found: Versioned<Partner>,
        theirs: Credentials,
        update: bool,
        base: &str,
    ) -> Result<Credentials, RoamingError> {
        let Versioned { mut value, version } = found;
        let settings = self.configured(&value.tenant).await?;
        let connection = self.their_connection(&theirs.url, &theirs.token).await?;
        let party = their_party(&value, &theirs);
        let token_c = value.registered(
            update,
            (&party.0, &party.1),
            theirs.token,
            connection,
            rand::random(),
            self.now(),
        )?;
        self.records::<Partner>()
            .put(&value, Expected::Version(version))
            .await?;
        tracing::info!(tenant = value.tenant.as_str(), partner = %value.id, update, "the partner registered");
        let tenant = value.tenant.clone();
        Ok(Self::our_credentials(
            &settings,
            token_c,
            format!(
                "{}/versions",
                Self::ocpi_base(self.public_url().unwrap_or(base), &tenant)
            ),
        ))
    }

    /// The partner unregistered itself (DELETE at our credentials endpoint).
    pub(crate) async fn partner_unregistered(
        &self,
        found: Versioned<Partner>,
    ) -> Result<(), RoamingError> {
        let Versioned { mut value, version } = found;
        value.unregistered(self.now())?;
        self.records::<Partner>()
            .put(&value, Expected::Version(version))
            .await?;
        tracing::info!(tenant = value.tenant.as_str(), partner = %value.id, "the partner unregistered");
        Ok(())
    }

    /// Unregisters from a partner: DELETE at its credentials endpoint, then our side (a partner that
    /// cannot be reached is unregistered here all the same, and told so in the answer's error).
    pub async fn unregister(
        &self,
        tenant: &TenantId,
        id: &str,
    ) -> Result<(Partner, Option<crate::CallError>), RoamingError> {
        let Versioned { mut value, version } = self.known(tenant, id).await?;
        let token = value
            .their_token
            .clone()
            .ok_or(RegistrationError::NotRegistered)?;
        let url = value
            .endpoint("credentials", "RECEIVER")
            .or_else(|| value.endpoint("credentials", "SENDER"))
            .map(str::to_string);
        let mut failure = None;
        if let Some(url) = url {
            let target = Target {
                token: &token,
                version: VersionNumber::V2_2_1,
                route: None,
                correlation: None,
            };
            if let Err(e) = self.call(Method::Delete, &url, &target, None).await {
                tracing::warn!(partner = %value.id, error = %e, "the partner did not take the unregistration");
                failure = Some(e);
            }
        }
        value.unregistered(self.now())?;
        self.records::<Partner>()
            .put(&value, Expected::Version(version))
            .await?;
        Ok((value, failure))
    }
}

fn credentials_url(c: &Connection) -> Result<String, RoamingError> {
    c.endpoints
        .iter()
        .find(|e| e.module == "credentials")
        .map(|e| e.url.clone())
        .ok_or_else(|| {
            RoamingError::NoMatchingEndpoints(
                "the partner's version details have no credentials endpoint".into(),
            )
        })
}

/// The party of `theirs` that is this partner (one of its roles), else the first one (which the
/// registration then refuses as another party).
fn their_party(p: &Partner, theirs: &Credentials) -> (String, String) {
    theirs
        .roles
        .iter()
        .find(|r| partner_id(&r.country_code, &r.party_id) == p.id)
        .or(theirs.roles.first())
        .map(|r| (r.country_code.clone(), r.party_id.clone()))
        .unwrap_or_default()
}
