//! The CPMS application layer: what happens when a charger connects, sends a frame or disconnects, and the
//! operator HTTP API. It speaks to the world only through the ports, so the same code runs in the Lambda
//! functions and in `cpms serve`.

pub mod alerts;
pub mod api;
mod auth;
mod config;
mod connect;
pub mod consumers;
mod message;
mod ocpp;
mod service;

use std::sync::Arc;

pub use auth::{CredentialKey, PasswordHasher, hash_password};
pub use config::CsmsConfig;
pub use connect::{ConnectOutcome, ConnectRequest};
pub use message::MessageOutcome;
pub use service::billing::{Billed, Resolved};
pub use service::billing_runs::RunError;
pub use service::commands::{DEFAULT_TIMEOUT_S, MAX_QUEUE, SubmitError};
pub use service::smart_charging::ChargerReport;

use cpms_ports::{
    AttemptStore, ChargerGateway, ChargerStore, Clock, ConnectionRegistry, DocumentStore, LogStore,
    SessionStore, TokenStore,
};

/// The ports the application runs on.
#[derive(Clone)]
pub struct Ports {
    /// Chargers.
    pub chargers: Arc<dyn ChargerStore>,
    /// Sessions.
    pub sessions: Arc<dyn SessionStore>,
    /// Tokens.
    pub tokens: Arc<dyn TokenStore>,
    /// Charger log.
    pub log: Arc<dyn LogStore>,
    /// Refused connection attempts.
    pub attempts: Arc<dyn AttemptStore>,
    /// Operator records: sites, API keys, tenants, commands, lanes, audit.
    pub docs: Arc<dyn DocumentStore>,
    /// Live connections.
    pub registry: Arc<dyn ConnectionRegistry>,
    /// Frames to chargers.
    pub gateway: Arc<dyn ChargerGateway>,
    /// Time.
    pub clock: Arc<dyn Clock>,
}

impl Ports {
    /// Ports where one store serves every storage port (the embedded store; on AWS, the table).
    pub fn with_store<S>(
        store: S,
        registry: Arc<dyn ConnectionRegistry>,
        gateway: Arc<dyn ChargerGateway>,
        clock: Arc<dyn Clock>,
    ) -> Self
    where
        S: ChargerStore
            + SessionStore
            + TokenStore
            + LogStore
            + AttemptStore
            + DocumentStore
            + Clone
            + 'static,
    {
        Ports {
            chargers: Arc::new(store.clone()),
            sessions: Arc::new(store.clone()),
            tokens: Arc::new(store.clone()),
            log: Arc::new(store.clone()),
            attempts: Arc::new(store.clone()),
            docs: Arc::new(store),
            registry,
            gateway,
            clock,
        }
    }
}

impl Ports {
    /// The ports roaming (OCPI) runs on: the same stores and clock, and `client` for calls to
    /// partners.
    pub fn roaming(
        &self,
        client: Arc<dyn cpms_ports::PartnerClient>,
    ) -> cpms_roaming::RoamingPorts {
        cpms_roaming::RoamingPorts {
            docs: self.docs.clone(),
            chargers: self.chargers.clone(),
            sessions: self.sessions.clone(),
            tokens: self.tokens.clone(),
            clock: self.clock.clone(),
            client,
        }
    }
}

/// The charging station management system: handlers for chargers and operators.
pub struct Csms {
    pub(crate) ports: Ports,
    pub(crate) config: CsmsConfig,
    pub(crate) passwords: PasswordHasher,
    pub(crate) admission: service::Admission,
    pub(crate) notifier: Arc<dyn cpms_ports::Notifier>,
    /// The live feed of domain events for `/v1/stream`, where the process sees them.
    live: Option<tokio::sync::broadcast::Sender<cpms_domain::events::DomainEvent>>,
}

impl Csms {
    /// A CSMS on these ports.
    pub fn new(ports: Ports, config: CsmsConfig) -> Self {
        let admission = service::Admission::new(config.boot_rate_per_second, config.boot_burst);
        Csms {
            ports,
            config,
            passwords: PasswordHasher::default(),
            admission,
            notifier: Arc::new(cpms_ports::NoNotifier),
            live: None,
        }
    }

    /// With a live feed of domain events (`cpms serve` feeds it from its bus or the table's stream):
    /// `/v1/stream` is served from it.
    pub fn with_live_feed(mut self) -> Self {
        self.live = Some(tokio::sync::broadcast::channel(4096).0);
        self
    }

    /// Hands events to the live feed's listeners (none listening: dropped).
    pub fn publish_live(&self, events: &[cpms_domain::events::DomainEvent]) {
        if let Some(tx) = &self.live {
            for e in events {
                let _ = tx.send(e.clone());
            }
        }
    }

    /// A listener of the live feed, if there is one.
    pub(crate) fn live_events(
        &self,
    ) -> Option<tokio::sync::broadcast::Receiver<cpms_domain::events::DomainEvent>> {
        self.live.as_ref().map(|tx| tx.subscribe())
    }

    /// With a notifier for webhooks and e-mail (without one, every notification fails and is
    /// dead-lettered after its retries).
    pub fn with_notifier(mut self, notifier: Arc<dyn cpms_ports::Notifier>) -> Self {
        self.notifier = notifier;
        self
    }

    /// With a credential key: verified passwords are kept with the chargers as a keyed check, so
    /// reconnects (after a restart too) skip Argon2 (see [`PasswordHasher`]).
    pub fn with_credential_key(mut self, key: CredentialKey) -> Self {
        self.passwords = PasswordHasher::new(Some(key));
        self
    }

    /// Hashes a charger password (Argon2id) on the bounded blocking pool.
    pub async fn hash_password(&self, password: String) -> String {
        self.passwords.hash(password).await
    }

    /// The ports (for the runners that host it).
    pub fn ports(&self) -> &Ports {
        &self.ports
    }

    /// The configuration.
    pub fn config(&self) -> &CsmsConfig {
        &self.config
    }

    /// Typed access to the records of type `T` in the document store.
    pub(crate) fn records<T: cpms_ports::Record>(&self) -> cpms_ports::Documents<T> {
        cpms_ports::Documents::new(self.ports.docs.clone())
    }
}
