//! The local gateway's side of the charger gateway port: frames for a connection go to that connection's
//! task, which writes them to the socket.

use std::collections::HashMap;
use std::sync::RwLock;
use std::sync::atomic::{AtomicI64, Ordering};

use chrono::{DateTime, Utc};

use async_trait::async_trait;
use cpms_ports::{ChargerGateway, GatewayError};
use tokio::sync::mpsc;

/// What a connection task is asked to do.
#[derive(Debug)]
pub(crate) enum Outbound {
    /// Send this text frame.
    Frame(String),
    /// Close the connection.
    Close,
}

/// One open connection.
struct Conn {
    tx: mpsc::Sender<Outbound>,
    connected_at: DateTime<Utc>,
    source_ip: String,
    last_active_ms: AtomicI64,
}

/// What the management API tells about a connection.
#[derive(Debug, Clone)]
pub struct ConnectionMeta {
    /// When it opened.
    pub connected_at: DateTime<Utc>,
    /// Peer address.
    pub source_ip: String,
    /// Last frame either way.
    pub last_active_at: DateTime<Utc>,
}

/// Live connections of the local WebSocket server.
#[derive(Default)]
pub struct LocalGateway {
    conns: RwLock<HashMap<String, Conn>>,
}

impl LocalGateway {
    pub(crate) fn insert(&self, id: &str, tx: mpsc::Sender<Outbound>, source_ip: String) {
        let now = Utc::now();
        let conn = Conn {
            tx,
            connected_at: now,
            source_ip,
            last_active_ms: AtomicI64::new(now.timestamp_millis()),
        };
        self.conns
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id.to_string(), conn);
    }

    /// Notes activity on a connection.
    pub(crate) fn touch(&self, id: &str) {
        if let Some(c) = self.conns.read().unwrap_or_else(|e| e.into_inner()).get(id) {
            c.last_active_ms
                .store(Utc::now().timestamp_millis(), Ordering::Relaxed);
        }
    }

    /// What is known about a connection, if it is open.
    pub fn meta(&self, id: &str) -> Option<ConnectionMeta> {
        let conns = self.conns.read().unwrap_or_else(|e| e.into_inner());
        conns.get(id).map(|c| ConnectionMeta {
            connected_at: c.connected_at,
            source_ip: c.source_ip.clone(),
            last_active_at: DateTime::from_timestamp_millis(
                c.last_active_ms.load(Ordering::Relaxed),
            )
            .unwrap_or(c.connected_at),
        })
    }

    pub(crate) fn remove(&self, id: &str) {
        self.conns
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(id);
    }

    /// Number of open connections.
    pub fn len(&self) -> usize {
        self.conns.read().map(|c| c.len()).unwrap_or_default()
    }

    /// Whether no connection is open.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn sender(&self, id: &str) -> Option<mpsc::Sender<Outbound>> {
        self.conns
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(id)
            .map(|c| c.tx.clone())
    }
}

#[async_trait]
impl ChargerGateway for LocalGateway {
    async fn send(&self, connection_id: &str, frame: &str) -> Result<(), GatewayError> {
        let tx = self.sender(connection_id).ok_or(GatewayError::Gone)?;
        tx.send(Outbound::Frame(frame.to_string()))
            .await
            .map_err(|_| GatewayError::Gone)
    }

    async fn close(&self, connection_id: &str) -> Result<(), GatewayError> {
        let tx = self.sender(connection_id).ok_or(GatewayError::Gone)?;
        tx.send(Outbound::Close)
            .await
            .map_err(|_| GatewayError::Gone)
    }
}
