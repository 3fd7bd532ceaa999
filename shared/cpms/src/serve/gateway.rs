//! The local gateway's side of the charger gateway port: frames for a connection go to that connection's
//! task, which writes them to the socket.

use std::collections::HashMap;
use std::sync::RwLock;

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

/// Live connections of the local WebSocket server.
#[derive(Default)]
pub struct LocalGateway {
    conns: RwLock<HashMap<String, mpsc::Sender<Outbound>>>,
}

impl LocalGateway {
    pub(crate) fn insert(&self, id: &str, tx: mpsc::Sender<Outbound>) {
        self.conns
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id.to_string(), tx);
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
            .cloned()
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
