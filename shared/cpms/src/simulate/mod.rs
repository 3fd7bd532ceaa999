//! `cpms simulate`: N chargers running full sessions against a CSMS, then a report of what happened
//! (throughput, latency percentiles, errors). Given the operator API and an admin key it registers its
//! chargers and its token first; against any other CSMS it only speaks OCPP.

mod charger;
mod client;
mod stats;

use std::sync::Arc;
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
    #[arg(long, default_value = "ws://127.0.0.1:9000/ocpp")]
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
    /// Keep chargers connected this many seconds after their sessions (Heartbeat every 60 s).
    #[arg(long, default_value_t = 0)]
    pub hold_secs: u64,
    /// Seconds to wait for each answer.
    #[arg(long, default_value_t = 30)]
    pub timeout_secs: u64,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
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
        url: args.url.clone(),
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
    });
    register(&args, &plan).await?;
    let started = Instant::now();
    let gap = Duration::from_secs_f64(1.0 / args.connect_rate.max(0.1));
    let mut set = JoinSet::new();
    for i in 0..args.chargers {
        let plan = plan.clone();
        set.spawn(async move { charger::run(&plan, i, started).await });
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
    Ok(Report::of(total, started.elapsed()))
}
