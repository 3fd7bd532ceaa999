//! `cpms simulate`: N chargers running full sessions against a CSMS, then a report of what happened
//! (throughput, latency percentiles, errors). Given the operator API and an admin key it registers its
//! chargers and its token first; against any other CSMS it only speaks OCPP.

mod charger;
mod client;
mod device;
mod stats;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Args;
use cpms_ocpp::OcppVersion;
use serde_json::json;
use tokio::task::JoinSet;

pub use stats::Report;

/// Options of `cpms simulate`.
#[derive(Debug, Clone, Args)]
pub struct SimulateArgs {
    /// WebSocket URL chargers connect to; each appends `/{charger id}`.
    /// (Derived from --api when that is on the default port 8080: the same host on 9000.)
    #[arg(long, default_value = DEFAULT_URL)]
    pub url: String,
    /// Operator API URL; with --admin-key the chargers and the token are registered there first.
    #[arg(long)]
    pub api: Option<String>,
    /// Admin API key for --api.
    #[arg(long, env = "CPMS_ADMIN_KEY", hide_env_values = true)]
    pub admin_key: Option<String>,
    /// OCPP version the chargers speak: 1.6 or 2.0.1.
    #[arg(long = "ocpp", default_value = "1.6", value_parser = parse_version)]
    pub version: OcppVersion,
    /// Number of chargers.
    #[arg(long, default_value_t = 1)]
    pub chargers: usize,
    /// Sessions each charger runs, one after the other.
    #[arg(long, default_value_t = 1)]
    pub sessions: usize,
    /// Meter value messages per session.
    #[arg(long, default_value_t = 3)]
    pub meter_values: u64,
    /// Minutes of charging each meter value stands for (the session's timestamps are simulated time
    /// ending now, so its energy and CDR are those of a real session).
    #[arg(long, default_value_t = 5)]
    pub sample_minutes: u64,
    /// Seconds a charger keeps trying to connect again when the CSMS goes away (backoff 1 s to 30 s).
    #[arg(long, default_value_t = 300)]
    pub reconnect_secs: u64,
    /// Seconds between progress lines on stderr (0: none).
    #[arg(long, default_value_t = 5)]
    pub progress_secs: u64,
    /// Pause between the messages of a session, in milliseconds.
    #[arg(long, default_value_t = 1000)]
    pub interval_ms: u64,
    /// Charger ids are PREFIX-00001, PREFIX-00002, ...
    #[arg(long, default_value = "SIM")]
    pub prefix: String,
    /// Basic-auth password of every charger (and the one registered with --api).
    #[arg(long, default_value = "simulator-password-01")]
    pub password: String,
    /// Connect without Basic auth.
    #[arg(long)]
    pub no_auth: bool,
    /// Id tag / id token used for sessions (registered with --api).
    #[arg(long, default_value = "SIMTAG01")]
    pub id_tag: String,
    /// New connections per second while ramping up.
    #[arg(long, default_value_t = 250.0)]
    pub connect_rate: f64,
    /// Keep chargers connected this many seconds after their sessions, answering the CSMS (a remote
    /// start runs a session, a reset reboots), with a Heartbeat at the interval the CSMS gave.
    #[arg(long, default_value_t = 0)]
    pub hold_secs: u64,
    /// Seconds to wait for each answer.
    #[arg(long, default_value_t = 30)]
    pub timeout_secs: u64,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
    /// Every Nth charger's car ignores the charging profiles it gets (0: none do).
    #[arg(long, default_value_t = 0)]
    pub ignore_profiles_every: usize,
    /// Every Nth charger is a DC charger (0: none).
    #[arg(long, default_value_t = 4)]
    pub dc_every: usize,
}

fn parse_version(s: &str) -> Result<OcppVersion, String> {
    OcppVersion::parse(s).ok_or_else(|| format!("{s:?} is not 1.6 or 2.0.1"))
}

/// What every simulated charger does.
pub struct Plan {
    pub url: String,
    pub version: OcppVersion,
    pub prefix: String,
    pub password: Option<String>,
    pub id_tag: String,
    pub sessions: usize,
    pub meter_values: u64,
    pub interval: Duration,
    pub timeout: Duration,
    pub hold: Duration,
    pub heartbeat: Duration,
    pub sample_minutes: u64,
    pub reconnect_for: Duration,
    pub ignore_profiles_every: usize,
    pub dc_every: usize,
}

/// Live counters of a run, for the progress lines.
#[derive(Default)]
pub struct Progress {
    pub connected: AtomicU64,
    pub sessions: AtomicU64,
    pub calls: AtomicU64,
    pub errors: AtomicU64,
    pub failures: AtomicU64,
    pub reconnects: AtomicU64,
    pub answered: AtomicU64,
}

/// The default of `--url`.
const DEFAULT_URL: &str = "ws://127.0.0.1:9000/ocpp";

/// `--url`, or the OCPP endpoint beside `--api` when only that was given and it is on the default API port
/// (8080: chargers on 9000).
fn charger_url(args: &SimulateArgs) -> String {
    if args.url != DEFAULT_URL {
        return args.url.clone();
    }
    let Some(api) = &args.api else {
        return args.url.clone();
    };
    let rest = api.trim_end_matches('/');
    let (scheme, hostport) = match rest.split_once("://") {
        Some(("https", h)) => ("wss", h),
        Some((_, h)) => ("ws", h),
        None => ("ws", rest),
    };
    let hostport = hostport.split('/').next().unwrap_or(hostport);
    match hostport.rsplit_once(':') {
        Some((host, "8080")) => format!("{scheme}://{host}:9000/ocpp"),
        _ => args.url.clone(),
    }
}

impl Plan {
    /// The id of the `i`-th charger.
    pub fn charger_id(&self, i: usize) -> String {
        format!("{}-{:05}", self.prefix, i + 1)
    }
}

/// Registers the chargers and the token through the operator API (existing ones are kept).
async fn register(args: &SimulateArgs, plan: &Plan) -> anyhow::Result<()> {
    let (Some(api), Some(key)) = (&args.api, &args.admin_key) else {
        return Ok(());
    };
    let http = reqwest::Client::new();
    let api = api.trim_end_matches('/').to_string();
    let post = |path: &str, body: serde_json::Value| {
        http.post(format!("{api}{path}"))
            .bearer_auth(key)
            .json(&body)
            .send()
    };
    let r = post(
        "/v1/tokens",
        json!({"id": plan.id_tag, "status": "accepted"}),
    )
    .await
    .context("registering the token")?;
    if !(r.status().is_success() || r.status() == 409) {
        bail!(
            "registering the token: {} {}",
            r.status(),
            r.text().await.unwrap_or_default()
        );
    }
    let mut set = JoinSet::new();
    let ids: Vec<String> = (0..args.chargers).map(|i| plan.charger_id(i)).collect();
    for chunk in ids.chunks(ids.len().div_ceil(8).max(1)) {
        let (chunk, http, api, key) = (chunk.to_vec(), http.clone(), api.clone(), key.clone());
        let password = plan.password.clone();
        set.spawn(async move {
            for id in chunk {
                let r = http
                    .post(format!("{api}/v1/chargers"))
                    .bearer_auth(&key)
                    .json(&json!({"id": id, "password": password}))
                    .send()
                    .await?;
                if !(r.status().is_success() || r.status() == 409) {
                    bail!(
                        "registering {id}: {} {}",
                        r.status(),
                        r.text().await.unwrap_or_default()
                    );
                }
            }
            Ok(())
        });
    }
    while let Some(r) = set.join_next().await {
        r??;
    }
    Ok(())
}

/// Runs a simulation and returns its report.
pub async fn run(args: SimulateArgs) -> anyhow::Result<Report> {
    let plan = Arc::new(Plan {
        url: charger_url(&args),
        version: args.version,
        prefix: args.prefix.clone(),
        password: (!args.no_auth).then(|| args.password.clone()),
        id_tag: args.id_tag.clone(),
        sessions: args.sessions,
        meter_values: args.meter_values,
        interval: Duration::from_millis(args.interval_ms),
        timeout: Duration::from_secs(args.timeout_secs.max(1)),
        hold: Duration::from_secs(args.hold_secs),
        heartbeat: Duration::from_secs(60),
        sample_minutes: args.sample_minutes.clamp(1, 60),
        reconnect_for: Duration::from_secs(args.reconnect_secs),
        ignore_profiles_every: args.ignore_profiles_every,
        dc_every: args.dc_every,
    });
    register(&args, &plan).await?;
    let started = Instant::now();
    let progress = Arc::new(Progress::default());
    let printer = (args.progress_secs > 0).then(|| {
        let (p, every, n) = (progress.clone(), Duration::from_secs(args.progress_secs), args.chargers);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.tick().await;
            loop {
                tick.tick().await;
                let g = |a: &AtomicU64| a.load(Ordering::Relaxed);
                eprintln!(
                    "[{:>4} s] {}/{n} connected, {} sessions done, {} calls ({} CallErrors, {} failed), {} reconnects",
                    started.elapsed().as_secs(),
                    g(&p.connected),
                    g(&p.sessions),
                    g(&p.calls),
                    g(&p.errors),
                    g(&p.failures),
                    g(&p.reconnects),
                );
            }
        })
    });
    eprintln!(
        "simulating {} OCPP {} charger(s) at {} ({} session(s) each; Ctrl-C to stop)",
        args.chargers, plan.version, plan.url, plan.sessions
    );
    let gap = Duration::from_secs_f64(1.0 / args.connect_rate.max(0.1));
    let mut set = JoinSet::new();
    for i in 0..args.chargers {
        let (plan, progress) = (plan.clone(), progress.clone());
        set.spawn(async move { charger::run(&plan, i, started, progress).await });
        if i + 1 < args.chargers {
            tokio::time::sleep(gap).await;
        }
    }
    let mut total = stats::Stats::default();
    while let Some(r) = set.join_next().await {
        match r {
            Ok(s) => total.merge(s),
            Err(e) => {
                total.connect_failures += 1;
                total.note(format!("simulated charger crashed: {e}"));
            }
        }
    }
    if let Some(p) = printer {
        p.abort();
    }
    Ok(Report::of(total, started.elapsed()))
}
