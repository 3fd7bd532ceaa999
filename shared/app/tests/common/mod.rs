//! A CSMS on embedded adapters with a manual clock, driven frame by frame as the gateway would.

#![allow(dead_code)]

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use base64::Engine;
use chrono::{DateTime, TimeZone, Utc};
use cpms_app::{ConnectOutcome, ConnectRequest, Csms, CsmsConfig, Ports, hash_password};
use cpms_domain::charger::Charger;
use cpms_domain::token::{Token, TokenStatus};
use cpms_domain::{ChargerId, OcppVersion, SessionId, TenantId};
use cpms_embedded::{Durability, EmbeddedStore, MemoryRegistry};
use cpms_ocpp::schema::validate;
use cpms_ports::clock::ManualClock;
use cpms_ports::{ChargerGateway, ChargerStore, Expected, GatewayError, SessionStore, TokenStore};
use serde_json::{Value, json};

/// A gateway that records what the CSMS asked of it.
#[derive(Default)]
pub struct RecordingGateway {
    pub closed: Mutex<Vec<String>>,
}

#[async_trait]
impl ChargerGateway for RecordingGateway {
    async fn send(&self, _c: &str, _f: &str) -> Result<(), GatewayError> {
        Ok(())
    }
    async fn close(&self, c: &str) -> Result<(), GatewayError> {
        self.closed.lock().unwrap().push(c.to_string());
        Ok(())
    }
}

pub struct Harness {
    pub csms: Arc<Csms>,
    pub store: EmbeddedStore,
    pub clock: Arc<ManualClock>,
    pub gateway: Arc<RecordingGateway>,
    _dir: tempfile::TempDir,
}

pub fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 3, 1, 8, 0, 0).unwrap()
}

pub const PASSWORD: &str = "0123456789abcdef";

pub struct Conn {
    pub id: String,
    pub version: OcppVersion,
    n: std::sync::atomic::AtomicU32,
}

impl Harness {
    pub async fn new() -> Self {
        Self::with_config(CsmsConfig::default()).await
    }

    pub async fn with_config(config: CsmsConfig) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let store = EmbeddedStore::open(dir.path(), Durability::Immediate).unwrap();
        let clock = Arc::new(ManualClock::new(t0()));
        let gateway = Arc::new(RecordingGateway::default());
        let ports = Ports::with_store(
            store.clone(),
            Arc::new(MemoryRegistry::new()),
            gateway.clone(),
            clock.clone(),
        );
        Harness {
            csms: Arc::new(Csms::new(ports, config)),
            store,
            clock,
            gateway,
            _dir: dir,
        }
    }

    pub async fn register(&self, id: &str) {
        let mut c = Charger::register(
            TenantId::default_tenant(),
            ChargerId::new(id).unwrap(),
            t0(),
        );
        c.password_hash = Some(hash_password(PASSWORD));
        ChargerStore::put(&self.store, &c, Expected::Absent, &[])
            .await
            .unwrap();
    }

    pub async fn token(&self, id: &str, status: TokenStatus) {
        let t = Token::new(TenantId::default_tenant(), id, status, t0());
        TokenStore::put(&self.store, &t, Expected::Absent)
            .await
            .unwrap();
    }

    pub fn basic(user: &str, password: &str) -> String {
        let raw = format!("{user}:{password}");
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(raw)
        )
    }

    pub async fn try_connect(
        &self,
        id: &str,
        conn_id: &str,
        protocols: &[&str],
        auth: Option<String>,
    ) -> ConnectOutcome {
        self.csms
            .connect(ConnectRequest {
                connection_id: conn_id.into(),
                identity: id.into(),
                authorization: auth,
                subprotocols: protocols.iter().map(|s| s.to_string()).collect(),
                remote_addr: Some("127.0.0.1:5000".into()),
            })
            .await
    }

    /// Registers (if needed), connects and, when `boot`, boots the charger.
    pub async fn connect(&self, id: &str, version: OcppVersion) -> Conn {
        let conn_id = format!("conn-{id}-{}", rand_suffix());
        let out = self
            .try_connect(
                id,
                &conn_id,
                &[version.subprotocol()],
                Some(Self::basic(id, PASSWORD)),
            )
            .await;
        assert!(
            matches!(out, ConnectOutcome::Accept { version: v, .. } if v == version),
            "{out:?}"
        );
        Conn {
            id: conn_id,
            version,
            n: Default::default(),
        }
    }

    pub async fn boot(&self, c: &Conn) -> Value {
        let payload = match c.version {
            OcppVersion::V16 => json!({"chargePointVendor": "Acme", "chargePointModel": "One"}),
            OcppVersion::V201 => json!({"reason": "PowerUp",
                "chargingStation": {"vendorName": "Acme", "model": "Two"}}),
        };
        let r = self.call(c, "BootNotification", payload).await;
        assert_eq!(r[2]["status"], "Accepted", "{r}");
        r
    }

    /// Sends a raw frame; returns the reply frame parsed.
    pub async fn raw(&self, c: &Conn, frame: &[u8]) -> Option<Value> {
        let out = self.csms.message(&c.id, frame).await;
        out.reply.map(|r| serde_json::from_str(&r).unwrap())
    }

    /// Sends a CALL; returns the reply frame. CALLRESULT payloads are checked against the official
    /// response schema of the version.
    pub async fn call(&self, c: &Conn, action: &str, payload: Value) -> Value {
        let n = c.n.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.call_with_id(c, &format!("m{n}"), action, payload)
            .await
    }

    pub async fn call_with_id(&self, c: &Conn, id: &str, action: &str, payload: Value) -> Value {
        let frame = json!([2, id, action, payload]).to_string();
        let reply = self
            .raw(c, frame.as_bytes())
            .await
            .expect("a CALL is answered");
        assert_eq!(reply[1], id);
        if reply[0] == 3 {
            let schema = cpms_ocpp::schema(c.version, action, true).unwrap();
            validate(&mut reply[2].clone(), schema)
                .unwrap_or_else(|v| panic!("{action} answer {reply}: {v}"));
        }
        reply
    }

    pub async fn session(&self, charger: &str, tx: &str) -> cpms_domain::session::Session {
        let id = SessionId::new(ChargerId::new(charger).unwrap(), tx);
        SessionStore::get(&self.store, &TenantId::default_tenant(), &id)
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("no session {id}"))
            .value
    }

    /// Changes a stored charger.
    pub async fn update_charger(&self, id: &str, f: impl FnOnce(&mut Charger)) {
        let read = ChargerStore::get(&self.store, &ChargerId::new(id).unwrap())
            .await
            .unwrap()
            .unwrap();
        let mut c = read.value;
        f(&mut c);
        ChargerStore::put(&self.store, &c, Expected::Version(read.version), &[])
            .await
            .unwrap();
    }

    pub async fn charger(&self, id: &str) -> Charger {
        ChargerStore::get(&self.store, &ChargerId::new(id).unwrap())
            .await
            .unwrap()
            .unwrap()
            .value
    }
}

fn rand_suffix() -> u32 {
    rand::random::<u32>()
}
