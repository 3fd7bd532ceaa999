//! The adapters a function runs on, chosen by configuration read once at start.
//!
//! | variable | meaning |
//! |---|---|
//! | `CPMS_BACKEND` | `aws` (DynamoDB, API Gateway, EventBridge) or `embedded` (a store on a local path: tests and single-instance trials) |
//! | `CPMS_TABLE` | aws: the DynamoDB table |
//! | `CPMS_WS_MANAGEMENT_URL` | aws: the WebSocket API's management endpoint, `https://{api}.execute-api.{region}.amazonaws.com/{stage}` (functions that talk to chargers) |
//! | `CPMS_EVENT_BUS` | aws: the EventBridge bus (the stream relay) |
//! | `CPMS_AWS_ENDPOINT` | aws: endpoint override for an emulator |
//! | `CPMS_DATA_DIR` | embedded: directory of the store |

use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use aws_config::SdkConfig;
use cpms_app::{CredentialKey, Csms, CsmsConfig, Ports};
use cpms_aws::{ApiGatewayManagement, DynamoStore, EventBridgePublisher};
use cpms_embedded::{Durability, EmbeddedStore, MemoryRegistry};
use cpms_ports::{ChargerGateway, EventPublisher, GatewayError, SystemClock};

/// A configuration that cannot work.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A required variable is missing.
    #[error("{0} is not set")]
    Missing(&'static str),
    /// A variable has a value the function cannot use.
    #[error("{name}={value:?} is not valid: {why}")]
    Invalid {
        /// Variable.
        name: &'static str,
        /// Its value.
        value: String,
        /// Why.
        why: String,
    },
}

/// The AWS resources a function uses.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AwsSettings {
    /// The table.
    pub table: String,
    /// The WebSocket API management endpoint, if the function talks to chargers.
    pub management_url: Option<String>,
    /// The event bus, if the function publishes events.
    pub event_bus: Option<String>,
    /// An emulator's endpoint.
    pub endpoint: Option<String>,
    /// The credential key (`CPMS_CREDENTIAL_KEY`, 64 hex digits) that keys the password checks kept
    /// with chargers.
    pub credential_key: Option<CredentialKey>,
    /// The heartbeat interval given to chargers, s (default 300).
    pub heartbeat_interval_s: Option<u64>,
    /// The function sends notifications (webhooks; e-mail when `smtp` is set): `CPMS_NOTIFICATIONS=on`.
    pub notifications: bool,
    /// The SMTP server for e-mail notifications (`CPMS_SMTP_URL`, `CPMS_SMTP_FROM`).
    pub smtp: Option<cpms_notify::SmtpConfig>,
    /// How often a charger's `last_seen` is written at most, s (default 300; tests shorten it).
    pub last_seen_every_s: Option<u64>,
    /// The process keeps a live feed of events (`cpms serve --backend aws`, which reads the stream).
    pub live_feed: bool,
}

/// The adapters to run on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Backend {
    /// DynamoDB, API Gateway, EventBridge.
    Aws(AwsSettings),
    /// The embedded store in a directory.
    Embedded {
        /// Where.
        data_dir: PathBuf,
    },
}

impl Backend {
    /// Reads the configuration from the environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    /// Reads the configuration through `get` (the environment, or a map in tests).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let kind = get("CPMS_BACKEND").ok_or(ConfigError::Missing("CPMS_BACKEND"))?;
        match kind.as_str() {
            "aws" => Ok(Backend::Aws(AwsSettings {
                table: get("CPMS_TABLE").ok_or(ConfigError::Missing("CPMS_TABLE"))?,
                management_url: get("CPMS_WS_MANAGEMENT_URL"),
                event_bus: get("CPMS_EVENT_BUS"),
                endpoint: get("CPMS_AWS_ENDPOINT"),
                credential_key: match get("CPMS_CREDENTIAL_KEY").filter(|k| !k.trim().is_empty()) {
                    None => None,
                    Some(k) => Some(CredentialKey::from_hex(&k).ok_or(ConfigError::Invalid {
                        name: "CPMS_CREDENTIAL_KEY",
                        value: "(secret)".into(),
                        why: "must be 64 hex digits".into(),
                    })?),
                },
                heartbeat_interval_s: match get("CPMS_HEARTBEAT_INTERVAL_S") {
                    None => None,
                    Some(v) => match v.trim().parse::<u64>() {
                        Ok(s) if (10..=570).contains(&s) => Some(s),
                        _ => {
                            return Err(ConfigError::Invalid {
                                name: "CPMS_HEARTBEAT_INTERVAL_S",
                                value: v,
                                why: "seconds from 10 to 570 (API Gateway closes connections idle for 600 s)".into(),
                            });
                        }
                    },
                },
                notifications: get("CPMS_NOTIFICATIONS").is_some_and(|v| v == "on"),
                live_feed: false,
                last_seen_every_s: None,
                smtp: match (
                    get("CPMS_SMTP_URL").filter(|v| !v.is_empty()),
                    get("CPMS_SMTP_FROM"),
                ) {
                    (None, _) => None,
                    (Some(url), Some(from)) if !from.is_empty() => {
                        Some(cpms_notify::SmtpConfig { url, from })
                    }
                    (Some(_), _) => return Err(ConfigError::Missing("CPMS_SMTP_FROM")),
                },
            })),
            "embedded" => Ok(Backend::Embedded {
                data_dir: get("CPMS_DATA_DIR")
                    .ok_or(ConfigError::Missing("CPMS_DATA_DIR"))?
                    .into(),
            }),
            other => Err(ConfigError::Invalid {
                name: "CPMS_BACKEND",
                value: other.to_string(),
                why: "supported backends: aws, embedded".into(),
            }),
        }
    }

    /// Builds the application on this backend.
    pub async fn csms(&self) -> Result<Arc<Csms>, ConfigError> {
        match self {
            Backend::Aws(s) => {
                let sdk = cpms_aws::config::sdk_config(s.endpoint.as_deref()).await;
                Ok(aws_csms(&sdk, s))
            }
            Backend::Embedded { data_dir } => {
                let store = EmbeddedStore::open(data_dir, Durability::Immediate).map_err(|e| {
                    ConfigError::Invalid {
                        name: "CPMS_DATA_DIR",
                        value: data_dir.display().to_string(),
                        why: e.to_string(),
                    }
                })?;
                let ports = Ports::with_store(
                    store,
                    Arc::new(MemoryRegistry::new()),
                    Arc::new(NoGateway),
                    Arc::new(SystemClock),
                );
                Ok(Arc::new(Csms::new(ports, CsmsConfig::default())))
            }
        }
    }

    /// The publisher of domain events (the stream relay).
    pub async fn publisher(&self) -> Result<Arc<dyn EventPublisher>, ConfigError> {
        match self {
            Backend::Aws(s) => {
                let sdk = cpms_aws::config::sdk_config(s.endpoint.as_deref()).await;
                let bus = s
                    .event_bus
                    .as_deref()
                    .ok_or(ConfigError::Missing("CPMS_EVENT_BUS"))?;
                Ok(Arc::new(EventBridgePublisher::new(
                    aws_sdk_eventbridge::Client::new(&sdk),
                    bus,
                )))
            }
            Backend::Embedded { .. } => Err(ConfigError::Invalid {
                name: "CPMS_BACKEND",
                value: "embedded".into(),
                why: "the embedded store publishes through its own outbox, not a stream".into(),
            }),
        }
    }
}

/// The application on AWS adapters built from `sdk` (tests pass an emulator's configuration).
pub fn aws_csms(sdk: &SdkConfig, s: &AwsSettings) -> Arc<Csms> {
    aws_csms_metered(sdk, s).0
}

/// The same, with the meter of the capacity units its table requests consume.
pub fn aws_csms_metered(
    sdk: &SdkConfig,
    s: &AwsSettings,
) -> (Arc<Csms>, Arc<cpms_aws::dynamodb::Meter>) {
    let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(sdk), &s.table);
    let meter = store.meter();
    let gateway: Arc<dyn ChargerGateway> = match &s.management_url {
        Some(url) => {
            let conf = aws_sdk_apigatewaymanagement::config::Builder::from(sdk)
                .endpoint_url(url)
                .build();
            Arc::new(ApiGatewayManagement::new(
                aws_sdk_apigatewaymanagement::Client::from_conf(conf),
            ))
        }
        None => Arc::new(NoGateway),
    };
    let ports = Ports::with_store(
        store.clone(),
        Arc::new(store),
        gateway,
        Arc::new(SystemClock),
    );
    let mut config = CsmsConfig::default();
    if let Some(secs) = s.heartbeat_interval_s {
        config.heartbeat_interval = std::time::Duration::from_secs(secs);
    }
    if let Some(secs) = s.last_seen_every_s {
        config.last_seen_every = std::time::Duration::from_secs(secs);
    }
    let mut csms = Csms::new(ports, config);
    if let Some(key) = &s.credential_key {
        csms = csms.with_credential_key(key.clone());
    }
    if s.live_feed {
        csms = csms.with_live_feed();
    }
    if s.notifications {
        match cpms_notify::NetNotifier::new(s.smtp.clone()) {
            Ok(n) => csms = csms.with_notifier(Arc::new(n)),
            Err(e) => {
                tracing::error!(error = %e, "notifications are off: the notifier cannot be built")
            }
        }
    }
    (Arc::new(csms), meter)
}

/// The gateway of a function configured without a way to reach chargers.
struct NoGateway;

#[async_trait]
impl ChargerGateway for NoGateway {
    async fn send(&self, _: &str, _: &str) -> Result<(), GatewayError> {
        Err(GatewayError::Unavailable(
            "no CPMS_WS_MANAGEMENT_URL: this function cannot reach chargers".into(),
        ))
    }

    async fn close(&self, _: &str) -> Result<(), GatewayError> {
        Err(GatewayError::Unavailable(
            "no CPMS_WS_MANAGEMENT_URL: this function cannot close connections".into(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn lookup(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let m: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| m.get(k).cloned()
    }

    #[test]
    fn configuration_fails_fast_with_a_clear_reason() {
        assert!(matches!(
            Backend::from_lookup(lookup(&[])),
            Err(ConfigError::Missing("CPMS_BACKEND"))
        ));
        assert!(matches!(
            Backend::from_lookup(lookup(&[("CPMS_BACKEND", "embedded")])),
            Err(ConfigError::Missing("CPMS_DATA_DIR"))
        ));
        assert!(matches!(
            Backend::from_lookup(lookup(&[("CPMS_BACKEND", "aws")])),
            Err(ConfigError::Missing("CPMS_TABLE"))
        ));
        let e = Backend::from_lookup(lookup(&[("CPMS_BACKEND", "mongodb")])).unwrap_err();
        assert!(e.to_string().contains("supported backends"), "{e}");
        let aws = Backend::from_lookup(lookup(&[
            ("CPMS_BACKEND", "aws"),
            ("CPMS_TABLE", "cpms"),
            ("CPMS_EVENT_BUS", "bus"),
        ]))
        .unwrap();
        assert_eq!(
            aws,
            Backend::Aws(AwsSettings {
                table: "cpms".into(),
                event_bus: Some("bus".into()),
                ..Default::default()
            })
        );
    }
}
