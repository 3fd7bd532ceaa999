//! The adapters a function runs on, chosen by configuration read once at start.
//!
//! | variable | meaning |
//! |---|---|
//! | `CPMS_BACKEND` | `embedded` (a store on a local path: tests and single-instance trials) |
//! | `CPMS_DATA_DIR` | directory of the embedded store |
//!
//! The DynamoDB / API Gateway backend is added with the AWS path; until then `embedded` is the only one,
//! and it cannot send frames to chargers (its gateway says so instead of pretending).

use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use cpms_app::{Csms, CsmsConfig, Ports};
use cpms_embedded::{Durability, EmbeddedStore, MemoryRegistry};
use cpms_ports::{ChargerGateway, GatewayError, SystemClock};

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

/// The adapters to run on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Backend {
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
            "embedded" => Ok(Backend::Embedded {
                data_dir: get("CPMS_DATA_DIR")
                    .ok_or(ConfigError::Missing("CPMS_DATA_DIR"))?
                    .into(),
            }),
            other => Err(ConfigError::Invalid {
                name: "CPMS_BACKEND",
                value: other.to_string(),
                why: "supported backends: embedded".into(),
            }),
        }
    }

    /// Builds the application on this backend.
    pub fn csms(&self) -> Result<Arc<Csms>, ConfigError> {
        match self {
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
}

/// The gateway of a backend that has no way to reach chargers.
struct NoGateway;

#[async_trait]
impl ChargerGateway for NoGateway {
    async fn send(&self, _: &str, _: &str) -> Result<(), GatewayError> {
        Err(GatewayError::Unavailable(
            "this backend cannot send frames to chargers".into(),
        ))
    }

    async fn close(&self, _: &str) -> Result<(), GatewayError> {
        Err(GatewayError::Unavailable(
            "this backend cannot close connections".into(),
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
        let e = Backend::from_lookup(lookup(&[("CPMS_BACKEND", "mongodb")])).unwrap_err();
        assert!(e.to_string().contains("supported backends"), "{e}");
        assert_eq!(
            Backend::from_lookup(lookup(&[
                ("CPMS_BACKEND", "embedded"),
                ("CPMS_DATA_DIR", "/tmp/x")
            ]))
            .unwrap(),
            Backend::Embedded {
                data_dir: "/tmp/x".into()
            }
        );
    }
}
