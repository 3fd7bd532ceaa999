//! `cpms serve`: the CSMS in one process. The OCPP WebSocket endpoint and the operator API on their own
//! addresses, the embedded store under the data directory, the outbox relay feeding the in-process bus,
//! and the event consumers.

mod gateway;
mod lambda;
pub mod listener;
mod management;
mod stream;
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
use cpms_ports::SystemClock;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_util::task::TaskTracker;

pub use gateway::LocalGateway;
pub use ws::MAX_MESSAGE_BYTES;

/// The default commit window of the embedded store, ms (see `EmbeddedStore::open_with_window`).
pub const DEFAULT_COMMIT_WINDOW_MS: u64 = 5;

/// Settings of `cpms serve`.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    /// Where chargers connect (`ws://ADDR/ocpp/{id}`).
    pub ws_addr: SocketAddr,
    /// Where the operator API listens.
    pub http_addr: SocketAddr,
    /// Where the API Gateway management API (`/@connections/{id}`) listens; keep it on loopback.
    pub management_addr: Option<SocketAddr>,
    /// What the handlers run on.
    pub backend: ServeBackend,
    /// The admin API key.
    pub admin_key: AdminKey,
    /// Close connections idle this long (API Gateway: 10 minutes).
    pub idle_timeout: Duration,
    /// OCPP connections that have not authenticated at most (more drop the oldest of them).
    pub max_unauthenticated: usize,
    /// Time a client has to send its request headers (WebSocket handshake, API request).
    pub header_timeout: Duration,
    /// Time an API request may take, body included (longer than the longest `wait`, 25 s).
    pub request_timeout: Duration,
    /// How chargers are answered.
    pub csms: CsmsConfig,
    /// How often alert timers are swept (offline checks, hysteresis, escalation, retries).
    pub alert_sweep: Duration,
    /// The SMTP server for e-mail notifications (none: e-mail channels fail and are dead-lettered).
    pub smtp: Option<cpms_notify::SmtpConfig>,
    /// The clock of the embedded backend (tests inject one; default the system clock).
    pub clock: Option<Arc<dyn cpms_ports::Clock>>,
    /// Where partners reach the OCPI endpoints (`https://cpms.example.com`); default: the host a
    /// request came to.
    pub public_url: Option<String>,
}

/// What `cpms serve` runs the handlers on.
#[derive(Debug, Clone)]
pub enum ServeBackend {
    /// The embedded store in `data_dir`, handlers called directly, events through the outbox to the
    /// in-process bus and its consumers.
    Embedded {
        /// Where the store lives.
        data_dir: PathBuf,
        /// fsync before answering (only benchmarks turn this off).
        durability: Durability,
        /// How long a write arriving at an idle store waits for others to share its commit.
        commit_window: Duration,
    },
    /// DynamoDB (on AWS or an emulator), with the Lambda functions' handlers behind this gateway; frames to
    /// chargers go through the management API of this server. The table's stream is read and its events
    /// handed to the consumers the stack runs (billing, the session reconciler), as the event-relay
    /// function and the queues do on AWS.
    Aws {
        /// The table and endpoint (the management URL is this server's).
        settings: cpms_lambda::AwsSettings,
        /// Create the table first if it does not exist (emulators).
        create_table: bool,
    },
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
    /// The aws backend: the capacity units its table requests consumed so far.
    pub meter: Option<Arc<cpms_aws::dynamodb::Meter>>,
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

/// The notifier of webhooks and e-mail.
fn notifier(cfg: &ServeConfig) -> anyhow::Result<Arc<dyn cpms_ports::Notifier>> {
    Ok(Arc::new(
        cpms_notify::NetNotifier::new(cfg.smtp.clone()).context("the notifier")?,
    ))
}

/// Starts the server.
pub async fn start(cfg: ServeConfig) -> anyhow::Result<Running> {
    let gateway = Arc::new(LocalGateway::default());
    let (stop, stop_rx) = watch::channel(false);
    let tasks = TaskTracker::new();
    let ws_listener = TcpListener::bind(cfg.ws_addr)
        .await
        .with_context(|| format!("binding the WebSocket address {}", cfg.ws_addr))?;
    let http_listener = TcpListener::bind(cfg.http_addr)
        .await
        .with_context(|| format!("binding the API address {}", cfg.http_addr))?;
    let management = match cfg.management_addr {
        Some(addr) => Some(
            TcpListener::bind(addr)
                .await
                .with_context(|| format!("binding the management API address {addr}"))?,
        ),
        None => None,
    };
    let (ws_addr, http_addr) = (ws_listener.local_addr()?, http_listener.local_addr()?);
    let management_addr = management.as_ref().map(|l| l.local_addr()).transpose()?;

    let mut meter = None;
    let (csms, roaming, mode) = match &cfg.backend {
        ServeBackend::Embedded {
            data_dir,
            durability,
            commit_window,
        } => {
            let store = EmbeddedStore::open_with_window(data_dir, *durability, *commit_window)
                .with_context(|| format!("opening the store in {}", data_dir.display()))?;
            let ports = Ports::with_store(
                store.clone(),
                Arc::new(MemoryRegistry::new()),
                gateway.clone(),
                cfg.clock.clone().unwrap_or_else(|| Arc::new(SystemClock)),
            );
            let key = credential_key(data_dir)?;
            let csms = Arc::new(
                Csms::new(ports, cfg.csms.clone())
                    .with_credential_key(key)
                    .with_notifier(notifier(&cfg)?)
                    .with_live_feed(),
            );
            let bus = Arc::new(InProcessBus::new());
            let reconciler = bus.subscribe_routed("session-reconciler", 1024);
            tasks.spawn(cpms_app::consumers::run_reconciler(
                csms.clone(),
                reconciler,
            ));
            let billing = bus.subscribe_routed("billing", 4096);
            tasks.spawn(cpms_app::consumers::run_billing(csms.clone(), billing));
            let smart = bus.subscribe_routed("smart-charging", 4096);
            tasks.spawn(cpms_app::consumers::run_smart_charging(csms.clone(), smart));
            let alerts = bus.subscribe_routed("alerts", 4096);
            tasks.spawn(cpms_app::consumers::run_alerts(csms.clone(), alerts));
            let ocpi = bus.subscribe_routed("ocpi-push", 4096);
            let roaming = cpms_lambda::roaming(&csms, cfg.public_url.clone())?;
            tasks.spawn(cpms_app::consumers::run_ocpi_push(roaming.clone(), ocpi));
            // Every event, for the live stream (`/v1/stream`).
            let mut live = bus.subscribe("live", 4096);
            let feed = csms.clone();
            tasks.spawn(async move {
                while let Some(d) = live.recv().await {
                    feed.publish_live(std::slice::from_ref(&d.event));
                    d.done();
                }
            });
            // Expired documents (ended commands after 90 days, running-cost records): what DynamoDB's
            // TTL does on AWS, every hour here.
            let (purger, mut s4) = (store.clone(), stop_rx.clone());
            tasks.spawn(async move {
                let mut tick = tokio::time::interval(std::time::Duration::from_secs(3600));
                loop {
                    tokio::select! {
                        _ = tick.tick() => loop {
                            match purger.purge_expired(chrono::Utc::now(), 1000).await {
                                Ok(1000) => continue,
                                Ok(_) => break,
                                Err(e) => {
                                    tracing::warn!(error = %e, "purging expired documents failed");
                                    break;
                                }
                            }
                        },
                        _ = s4.changed() => return,
                    }
                }
            });
            let relay = OutboxRelay::new(store, bus);
            tasks.spawn(relay.run(stop_rx.clone()));
            (csms, roaming, ws::Mode::Direct)
        }
        ServeBackend::Aws {
            settings,
            create_table,
        } => {
            let addr = management_addr
                .context("the aws backend needs the management API (--management-addr)")?;
            let mut settings = settings.clone();
            settings.management_url = Some(format!("http://{addr}"));
            settings.notifications = true;
            settings.live_feed = true;
            settings.smtp.clone_from(&cfg.smtp);
            let sdk = cpms_aws::config::sdk_config(settings.endpoint.as_deref()).await;
            if *create_table {
                cpms_aws::dynamodb::table::create(
                    &aws_sdk_dynamodb::Client::new(&sdk),
                    &settings.table,
                )
                .await
                .with_context(|| format!("creating table {}", settings.table))?;
            }
            let (csms, m) = cpms_lambda::aws_csms_metered(&sdk, &settings);
            meter = Some(m);
            let roaming = cpms_lambda::roaming(&csms, cfg.public_url.clone())?;
            // The stream relay and the consumers the stack runs (billing, the reconciler, ...).
            tasks.spawn(stream::run(
                sdk.clone(),
                settings.table.clone(),
                csms.clone(),
                roaming.clone(),
                stop_rx.clone(),
            ));
            (csms, roaming, ws::Mode::Lambda)
        }
    };

    let ws_state = ws::WsState {
        csms: csms.clone(),
        mode,
        gateway: gateway.clone(),
        tasks: tasks.clone(),
        stop: stop_rx.clone(),
        idle_timeout: cfg.idle_timeout,
        options: ws::options(),
    };
    let ws_app = Router::new()
        .route("/ocpp/{id}", get(ws::upgrade))
        .with_state(ws_state);
    let api = cpms_app::api::router(ApiState {
        csms: csms.clone(),
        admin_key: Arc::new(cfg.admin_key.clone()),
        roaming: roaming.clone(),
    });
    let api = match metrics_handle() {
        Some(h) => api.route(
            "/metrics",
            get(move || {
                let h = h.clone();
                async move {
                    (
                        [(http::header::CONTENT_TYPE, "text/plain; version=0.0.4")],
                        h.render(),
                    )
                }
            }),
        ),
        None => api,
    };
    let api = cpms_app::api::with_deadline(api, cfg.request_timeout);
    let fds = listener::open_files_limit();
    let (ws_limits, api_limits) = listener::split(fds, cfg.max_unauthenticated, cfg.header_timeout);
    tracing::info!(
        open_files = fds,
        chargers = ws_limits.max_connections,
        unauthenticated = ws_limits.max_unauthenticated,
        api = api_limits.max_connections,
        "connection limits"
    );
    if let Some(l) = management {
        let router = management::router(gateway.clone());
        listener::spawn(
            &tasks,
            &stop_rx,
            l,
            router,
            api_limits.clone(),
            "management API",
        );
    }
    listener::spawn(&tasks, &stop_rx, ws_listener, ws_app, ws_limits, "OCPP");
    listener::spawn(
        &tasks,
        &stop_rx,
        http_listener,
        api,
        api_limits.clone(),
        "operator API",
    );
    // Commands whose charger never answered time out here (on AWS a scheduled function does this).
    let (sweeper, mut s2) = (csms.clone(), stop_rx.clone());
    tasks.spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
        loop {
            tokio::select! {
                _ = tick.tick() => {
                    if let Err(e) = sweeper.sweep_all_commands().await {
                        tracing::warn!(error = %e, "command timeout sweep failed");
                    }
                }
                _ = s2.changed() => return,
            }
        }
    });
    // Sites whose limits change (a schedule boundary, a lapsing external limit) are computed again; on
    // AWS the command-sweeper's one-minute schedule does this.
    let (allocator, mut s5) = (csms.clone(), stop_rx.clone());
    tasks.spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(5));
        loop {
            tokio::select! {
                _ = tick.tick() => {
                    if let Err(e) = allocator.recompute_all_due_sites().await {
                        tracing::warn!(error = %e, "recomputing sites at their schedule boundaries failed");
                    }
                }
                _ = s5.changed() => return,
            }
        }
    });
    // Alert timers (offline watches, hysteresis, remedy checks, escalation, notification retries); on
    // AWS the alert-sweeper function runs the same sweep every minute.
    let (alerter, mut s6) = (csms.clone(), stop_rx.clone());
    let every = cfg.alert_sweep;
    tasks.spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => {
                    if let Err(e) = alerter.sweep_all_alerts().await {
                        tracing::warn!(error = %e, "the alert sweep failed");
                    }
                }
                _ = s6.changed() => return,
            }
        }
    });
    // Pushes to roaming partners that are due again (retries, and what a stopped worker left); on AWS
    // the ocpi-sweeper function runs the same sweep every minute.
    let (pusher, tenants, mut s7) = (roaming.clone(), csms.clone(), stop_rx.clone());
    tasks.spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => {
                    if let Err(e) = sweep_pushes(&pusher, &tenants).await {
                        tracing::warn!(error = %e, "the OCPI push sweep failed");
                    }
                }
                _ = s7.changed() => return,
            }
        }
    });
    // Monthly billing: the previous month is run once it is over (hourly check; a run that exists is
    // not made again). On AWS a monthly schedule does this.
    let (biller, mut s3) = (csms.clone(), stop_rx.clone());
    tasks.spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(3600));
        loop {
            tokio::select! {
                _ = tick.tick() => {
                    match biller.run_due_billing("timer").await {
                        Ok(made) => for r in made {
                            tracing::info!(period = %r.id, tenant = %r.tenant, invoices = r.invoice_count, "billing run made");
                        },
                        Err(e) => tracing::warn!(error = %e, "billing run failed; retried within the hour"),
                    }
                }
                _ = s3.changed() => return,
            }
        }
    });
    Ok(Running {
        ws_addr,
        http_addr,
        management_addr,
        csms,
        gateway,
        meter,
        stop,
        tasks,
    })
}

/// Sends the pushes due to every partner of every tenant.
async fn sweep_pushes(
    roaming: &cpms_roaming::Roaming,
    csms: &Csms,
) -> Result<(), cpms_roaming::RoamingError> {
    for t in csms.all_tenants().await? {
        roaming.sweep_pushes(&t).await?;
    }
    Ok(())
}

/// The Prometheus recorder of the process (installed once; every server of the process shares it).
fn metrics_handle() -> Option<metrics_exporter_prometheus::PrometheusHandle> {
    static HANDLE: std::sync::OnceLock<Option<metrics_exporter_prometheus::PrometheusHandle>> =
        std::sync::OnceLock::new();
    HANDLE
        .get_or_init(|| {
            use metrics_exporter_prometheus::{Matcher, PrometheusBuilder};
            let latency = [
                0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                1.0, 2.5, 5.0,
            ];
            let writes = [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0];
            let built = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), &latency)
                .and_then(|b| b.set_buckets_for_metric(Matcher::Suffix("_writes".into()), &writes))
                .and_then(|b| b.install_recorder());
            match built {
                Ok(h) => Some(h),
                Err(e) => {
                    tracing::warn!(error = %e, "no Prometheus metrics");
                    None
                }
            }
        })
        .clone()
}

/// The installation's credential key, kept in `DATA/credential.key` (made at the first start; only its
/// owner may read it). It keys the password checks kept with chargers (see `cpms_app::PasswordHasher`):
/// deleting it only makes every charger's next connect verify with Argon2 again.
fn credential_key(data_dir: &std::path::Path) -> anyhow::Result<cpms_app::CredentialKey> {
    let file = data_dir.join("credential.key");
    match std::fs::read_to_string(&file) {
        Ok(text) => cpms_app::CredentialKey::from_hex(&text)
            .with_context(|| format!("{} is not 64 hex digits", file.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let key = cpms_app::CredentialKey::generate();
            std::fs::create_dir_all(data_dir)?;
            write_private(&file, &key.to_hex())
                .with_context(|| format!("writing {}", file.display()))?;
            Ok(key)
        }
        Err(e) => Err(e).with_context(|| format!("reading {}", file.display())),
    }
}

/// Writes a new file only its owner may read.
pub fn write_private(path: &std::path::Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    opts.open(path)?.write_all(text.as_bytes())
}
