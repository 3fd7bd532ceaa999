//! The connection registry of `cpms serve`: connections live only as long as the process, so memory is
//! the right place for them.

use std::collections::HashMap;
use std::sync::RwLock;

use async_trait::async_trait;
use cpms_ports::{ConnectionInfo, ConnectionRegistry, StoreError};

/// Live connections by id.
#[derive(Debug, Default)]
pub struct MemoryRegistry {
    conns: RwLock<HashMap<String, ConnectionInfo>>,
}

impl MemoryRegistry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of live connections.
    pub fn len(&self) -> usize {
        self.conns.read().map(|c| c.len()).unwrap_or_default()
    }

    /// Whether no connection is live.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[async_trait]
impl ConnectionRegistry for MemoryRegistry {
    async fn put(&self, info: &ConnectionInfo) -> Result<(), StoreError> {
        let mut c = self.conns.write().unwrap_or_else(|e| e.into_inner());
        c.insert(info.connection_id.clone(), info.clone());
        Ok(())
    }

    async fn get(&self, connection_id: &str) -> Result<Option<ConnectionInfo>, StoreError> {
        let c = self.conns.read().unwrap_or_else(|e| e.into_inner());
        Ok(c.get(connection_id).cloned())
    }

    async fn remove(&self, connection_id: &str) -> Result<Option<ConnectionInfo>, StoreError> {
        let mut c = self.conns.write().unwrap_or_else(|e| e.into_inner());
        Ok(c.remove(connection_id))
    }
}

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn honours_the_registry_contract() {
        let reg = super::MemoryRegistry::new();
        cpms_ports::contract::connection_registry(&reg, "mem").await;
    }
}
