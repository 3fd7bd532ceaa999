//! What the benches of this crate share: a gateway that delivers nowhere, a CSMS on an embedded store
//! with it, an accepted token, and the Basic-auth header of a charger.

use chrono::Utc;
use cpms_domain::TenantId;
use cpms_domain::token::{Token, TokenStatus};
use cpms_ports::{ChargerGateway, Expected, GatewayError, TokenStore};

/// A gateway that takes every frame and delivers it nowhere.
pub struct Silent;

#[async_trait::async_trait]
impl ChargerGateway for Silent {
    async fn send(&self, _: &str, _: &str) -> Result<(), GatewayError> {
        Ok(())
    }
    async fn close(&self, _: &str) -> Result<(), GatewayError> {
        Ok(())
    }
}

/// Stores an accepted token `id` of the default tenant.
pub async fn accepted_token(store: &dyn TokenStore, id: &str) {
    let now = Utc::now();
    let t = Token::new(TenantId::default_tenant(), id, TokenStatus::Accepted, now);
    store.put(&t, Expected::Absent).await.unwrap();
}

/// `Basic base64(id:password)`.
pub fn basic(id: &str, password: &str) -> String {
    use base64::Engine;
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{id}:{password}"))
    )
}

/// A CSMS on a new embedded store in `dir` (frames go nowhere), and the store.
pub fn embedded_csms(
    dir: &std::path::Path,
    durability: cpms_embedded::Durability,
) -> (std::sync::Arc<cpms_app::Csms>, cpms_embedded::EmbeddedStore) {
    use std::sync::Arc;
    let store = cpms_embedded::EmbeddedStore::open(dir, durability).unwrap();
    let ports = cpms_app::Ports::with_store(
        store.clone(),
        Arc::new(cpms_embedded::MemoryRegistry::new()),
        Arc::new(Silent),
        Arc::new(cpms_ports::SystemClock),
    );
    let csms = Arc::new(cpms_app::Csms::new(ports, cpms_app::CsmsConfig::default()));
    (csms, store)
}
