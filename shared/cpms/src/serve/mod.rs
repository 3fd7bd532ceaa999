//! `cpms serve`: the CSMS in one process. The OCPP WebSocket endpoint and the operator API on their own
//! addresses, the embedded store under the data directory, the outbox relay feeding the in-process bus,
//! and the event consumers.

mod gateway;
mod management;
mod ws;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use axum::routing::get;
use cpms_app::api::{AdminKey, ApiState};
use cpms_app::{Csms, CsmsConfig, Ports};
use cpms_embedded::{Durability, EmbeddedStore, InProcessBus, MemoryRegistry, OutboxRelay};
use cpms_ports::{EventPublisher, SystemClock};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_util::task::TaskTracker;

pub use gateway::LocalGateway;
pub use ws::MAX_MESSAGE_BYTES;

/// Settings of `cpms serve`.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    /// Where chargers connect (`ws://ADDR/ocpp/{id}`).
    pub ws_addr: SocketAddr,
    /// Where the operator API listens.
    pub http_addr: SocketAddr,
    /// Where the API Gateway management API (`/@connections/{id}`) listens; keep it on loopback.
    pub management_addr: Option<SocketAddr>,
    /// Where the store lives.
    pub data_dir: PathBuf,
    /// The admin API key.
    pub admin_key: String,
    /// Close connections idle this long (API Gateway: 10 minutes).
    pub idle_timeout: Duration,
    /// How chargers are answered.
    pub csms: CsmsConfig,
    /// fsync before answering (only benchmarks turn this off).
    pub durability: Durability,
}

/// A running server.
pub struct Running {
    /// Actual WebSocket address (useful with port 0).
    pub ws_addr: SocketAddr,
    /// Actual API address.
    pub http_addr: SocketAddr,
    /// Actual management API address.
    pub management_addr: Option<SocketAddr>,
    /// The application (for tests and tools in the same process).
    pub csms: Arc<Csms>,
    /// Live connections.
    pub gateway: Arc<LocalGateway>,
    stop: watch::Sender<bool>,
    tasks: TaskTracker,
}

impl Running {
    /// Stops accepting, closes every connection (running their disconnect handlers), stops the workers
    /// and waits until all of it is done; the store is closed once the last handle is dropped.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        self.tasks.close();
        self.tasks.wait().await;
    }

    /// Waits for Ctrl-C or SIGTERM, then shuts down.
    pub async fn until_signal(self) {
        let ctrl_c = tokio::signal::ctrl_c();
        #[cfg(unix)]
        {
            let mut term =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                    .expect("SIGTERM handler");
            tokio::select! {
                _ = ctrl_c => {}
                _ = term.recv() => {}
            }
        }
        #[cfg(not(unix))]
        let _ = ctrl_c.await;
        tracing::info!("shutting down");
        self.shutdown().await;
    }
}

/// Starts the server.
pub async fn start(cfg: ServeConfig) -> anyhow::Result<Running> {
    let store = EmbeddedStore::open(&cfg.data_dir, cfg.durability)
        .with_context(|| format!("opening the store in {}", cfg.data_dir.display()))?;
    let gateway = Arc::new(LocalGateway::default());
    let ports = Ports::with_store(
        store.clone(),
        Arc::new(MemoryRegistry::new()),
        gateway.clone(),
        Arc::new(SystemClock),
    );
    let csms = Arc::new(Csms::new(ports, cfg.csms.clone()));
    let (stop, stop_rx) = watch::channel(false);
    let tasks = TaskTracker::new();

    let bus = Arc::new(InProcessBus::new());
    let reconciler = bus.subscribe("session-reconciler", 1024);
    tasks.spawn(cpms_app::consumers::run_reconciler(
        csms.clone(),
        reconciler,
    ));
    let relay = OutboxRelay::new(store.clone(), bus.clone() as Arc<dyn EventPublisher>);
    tasks.spawn(relay.run(stop_rx.clone()));
    drop(store);

    let ws_state = ws::WsState {
        csms: csms.clone(),
        gateway: gateway.clone(),
        tasks: tasks.clone(),
        stop: stop_rx.clone(),
        idle_timeout: cfg.idle_timeout,
        options: ws::options(),
    };
    let ws_app = Router::new()
        .route("/ocpp/{id}", get(ws::upgrade))
        .with_state(ws_state);
    let ws_listener = TcpListener::bind(cfg.ws_addr)
        .await
        .with_context(|| format!("binding the WebSocket address {}", cfg.ws_addr))?;
    let api = cpms_app::api::router(ApiState {
        csms: csms.clone(),
        admin_key: Arc::new(AdminKey::new(&cfg.admin_key)),
    });
    let http_listener = TcpListener::bind(cfg.http_addr)
        .await
        .with_context(|| format!("binding the API address {}", cfg.http_addr))?;
    let (ws_addr, http_addr) = (ws_listener.local_addr()?, http_listener.local_addr()?);
    let management_addr = match cfg.management_addr {
        Some(addr) => {
            let listener = TcpListener::bind(addr)
                .await
                .with_context(|| format!("binding the management API address {addr}"))?;
            let local = listener.local_addr()?;
            let app = management::router(gateway.clone());
            let mut s = stop_rx.clone();
            tasks.spawn(async move {
                let r = axum::serve(listener, app)
                    .with_graceful_shutdown(async move {
                        let _ = s.changed().await;
                    })
                    .await;
                if let Err(e) = r {
                    tracing::error!(error = %e, "management API failed");
                }
            });
            Some(local)
        }
        None => None,
    };

    let mut s1 = stop_rx.clone();
    tasks.spawn(async move {
        let svc = ws_app.into_make_service_with_connect_info::<SocketAddr>();
        let r = axum::serve(ws_listener, svc)
            .with_graceful_shutdown(async move {
                let _ = s1.changed().await;
            })
            .await;
        if let Err(e) = r {
            tracing::error!(error = %e, "websocket server failed");
        }
    });
    let mut s2 = stop_rx;
    tasks.spawn(async move {
        let r = axum::serve(http_listener, api)
            .with_graceful_shutdown(async move {
                let _ = s2.changed().await;
            })
            .await;
        if let Err(e) = r {
            tracing::error!(error = %e, "api server failed");
        }
    });
    Ok(Running {
        ws_addr,
        http_addr,
        management_addr,
        csms,
        gateway,
        stop,
        tasks,
    })
}
