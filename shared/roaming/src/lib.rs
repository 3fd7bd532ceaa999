//! The CPMS as an OCPI 2.2.1 CPO (charge point operator): the partners a tenant roams with and the
//! credentials handshake in both directions ([`handshake`]), the calls to a partner ([`client`]), and
//! the OCPI endpoints partners call, under `/ocpi/{tenant}/...` ([`server`]).
//!
//! It is a crate of its own, beside the application crate, because roaming is a capability with its own
//! protocol and its own callers (partners, not chargers or operators): it runs on the same ports and
//! the application crate stays the size one person can hold. The application's operator API drives
//! partner management through [`Roaming`]; what roaming needs of the charger side (commands, for one)
//! comes in through traits it defines.
//!
//! Versions: 2.2.1 only. A partner that speaks 2.1.1 alone is told so (status 3002) at registration
//! rather than served a second, older set of modules whose objects differ in most fields.

pub mod client;
pub mod commands;
pub mod handshake;
pub mod objects;
pub mod publish;
pub mod push;
pub mod server;
pub mod tariffs;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use cpms_domain::TenantId;
use cpms_domain::roaming::{Partner, RegistrationError, RoamingSettings};
use cpms_ports::{
    ChargerStore, Clock, DocumentStore, Documents, PartnerClient, SessionStore, StoreError,
    TokenStore,
};

pub use client::CallError;

/// Where the OCPI endpoints are published.
#[derive(Debug, Clone, Default)]
pub struct RoamingConfig {
    /// The public base URL partners reach this installation at (`https://cpms.example.com`); without
    /// it, the host a request came to is used (right for `cpms serve` on one address).
    pub public_url: Option<String>,
    /// The currency of a running session's cost (`EUR` when not set).
    pub currency: Option<String>,
}

impl RoamingConfig {
    /// The currency running sessions are reported in.
    pub fn currency(&self) -> String {
        self.currency.clone().unwrap_or_else(|| "EUR".into())
    }
}

/// What roaming runs on.
#[derive(Clone)]
pub struct RoamingPorts {
    /// Partners, settings, and the records roaming keeps.
    pub docs: Arc<dyn DocumentStore>,
    /// Chargers (locations are built from them).
    pub chargers: Arc<dyn ChargerStore>,
    /// Sessions.
    pub sessions: Arc<dyn SessionStore>,
    /// Tokens (partners push theirs).
    pub tokens: Arc<dyn TokenStore>,
    /// Time.
    pub clock: Arc<dyn Clock>,
    /// Calls to partners.
    pub client: Arc<dyn PartnerClient>,
}

/// The CPO side of OCPI for every tenant of the installation.
pub struct Roaming {
    pub(crate) ports: RoamingPorts,
    pub(crate) config: RoamingConfig,
    pub(crate) commands: Option<Arc<dyn commands::ChargerCommands>>,
}

/// Why a roaming operation failed.
#[derive(Debug, thiserror::Error)]
pub enum RoamingError {
    /// The tenant has not set its own party (`PUT /v1/ocpi/settings`).
    #[error("the tenant has no OCPI party yet: set its country code and party id first")]
    NotConfigured,
    /// No such partner in the tenant.
    #[error("no partner {0}")]
    UnknownPartner(String),
    /// A partner of that party exists already.
    #[error("partner {0} exists already")]
    PartnerExists(String),
    /// The request is not valid.
    #[error("{0}")]
    Invalid(String),
    /// The partner speaks no version we do (this CPO speaks 2.2.1).
    #[error("{0}")]
    UnsupportedVersion(String),
    /// The partner's version details lack an endpoint the exchange needs.
    #[error("{0}")]
    NoMatchingEndpoints(String),
    /// The registration step does not fit where the partner stands.
    #[error(transparent)]
    Registration(#[from] RegistrationError),
    /// The partner's side failed or refused.
    #[error("the partner: {0}")]
    Partner(#[from] CallError),
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Roaming {
    /// Roaming on these ports.
    pub fn new(ports: RoamingPorts, config: RoamingConfig) -> Self {
        Roaming {
            ports,
            config,
            commands: None,
        }
    }

    /// With the charger command path, for the commands partners send (without it they are answered
    /// NOT_SUPPORTED).
    pub fn with_commands(mut self, commands: Arc<dyn commands::ChargerCommands>) -> Self {
        self.commands = Some(commands);
        self
    }

    /// Now, by the injected clock.
    pub fn now(&self) -> DateTime<Utc> {
        self.ports.clock.now()
    }

    /// The configured public base URL, if any.
    pub fn public_url(&self) -> Option<&str> {
        self.config
            .public_url
            .as_deref()
            .map(str::trim)
            .filter(|u| !u.is_empty())
    }

    pub(crate) fn records<T: cpms_ports::Record>(&self) -> Documents<T> {
        Documents::new(self.ports.docs.clone())
    }

    /// The tenant's own party, if set.
    pub async fn settings(&self, tenant: &TenantId) -> Result<Option<RoamingSettings>, StoreError> {
        Ok(self
            .records::<RoamingSettings>()
            .get(tenant, cpms_ports::roaming_records::SETTINGS_ID)
            .await?
            .map(|v| v.value))
    }

    /// Sets the tenant's own party.
    pub async fn set_settings(
        &self,
        tenant: &TenantId,
        country_code: &str,
        party_id: &str,
        name: String,
        website: Option<String>,
    ) -> Result<RoamingSettings, RoamingError> {
        if !cpms_domain::roaming::valid_party(country_code, party_id) {
            return Err(RoamingError::Invalid(
                "country_code must be two letters and party_id three letters or digits".into(),
            ));
        }
        if name.trim().is_empty() || name.chars().count() > 100 {
            return Err(RoamingError::Invalid("name: 1 to 100 characters".into()));
        }
        if website.as_ref().is_some_and(|w| w.len() > 255) {
            return Err(RoamingError::Invalid(
                "website: at most 255 characters".into(),
            ));
        }
        let s = RoamingSettings {
            tenant: tenant.clone(),
            country_code: country_code.to_ascii_uppercase(),
            party_id: party_id.to_ascii_uppercase(),
            name,
            website,
            updated_at: self.now(),
        };
        self.records::<RoamingSettings>().replace(&s).await?;
        Ok(s)
    }

    /// A partner of the tenant.
    pub async fn partner(
        &self,
        tenant: &TenantId,
        id: &str,
    ) -> Result<Option<cpms_ports::Versioned<Partner>>, StoreError> {
        self.records::<Partner>().get(tenant, id).await
    }

    /// One page of the tenant's partners, by id.
    pub async fn partners(
        &self,
        tenant: &TenantId,
        page: cpms_ports::PageRequest,
    ) -> Result<cpms_ports::Page<Partner>, StoreError> {
        let found = self
            .records::<Partner>()
            .query(tenant, &Documents::<Partner>::by_id(page))
            .await?;
        Ok(cpms_ports::Page {
            items: found.items.into_iter().map(|v| v.value).collect(),
            next: found.next,
        })
    }

    /// The base of a tenant's OCPI endpoints (`{base}/ocpi/{tenant}`).
    pub fn ocpi_base(base: &str, tenant: &TenantId) -> String {
        format!("{}/ocpi/{}", base.trim_end_matches('/'), tenant.as_str())
    }
}
