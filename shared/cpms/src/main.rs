//! The `cpms` command: `serve` (the CSMS in one process), `simulate` (charger simulator), `ocpp check`
//! (what the CSMS makes of a payload).

use std::io::Read;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand};
use cpms::check;
use cpms::serve::{self, ServeBackend, ServeConfig};
use cpms::simulate::{self, SimulateArgs};
use cpms_app::CsmsConfig;
use cpms_app::api::AdminKey;
use cpms_embedded::Durability;
use rand::Rng;

/// mimalloc: the frame path allocates many small objects; glibc malloc cost a third of the time per frame
/// in profiles (see the `frames` bench).
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// A charge point management system: OCPP 1.6J and 2.0.1 chargers, sessions, an operator API.
#[derive(Parser)]
#[command(name = "cpms", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the CSMS in this process: chargers connect over WebSocket, operators use the HTTP API, all
    /// state is kept in the data directory.
    Serve(ServeArgs),
    /// Simulate chargers running charging sessions against a CSMS and report throughput and latency.
    Simulate(SimulateArgs),
    /// OCPP tools.
    #[command(subcommand)]
    Ocpp(OcppCommand),
    /// Print what one charger costs per month on AWS: DynamoDB units are measured by running a standard
    /// session through the DynamoDB adapter (on a real table, or an emulator with --aws-endpoint).
    CostModel(CostArgs),
}

#[derive(clap::Args)]
struct CostArgs {
    /// The DynamoDB table to measure on (a scratch table: a test charger and session are written).
    #[arg(long, env = "CPMS_TABLE", default_value = "cpms-cost-model")]
    table: String,
    /// Endpoint of an AWS emulator (e.g. http://127.0.0.1:5000 for moto).
    #[arg(long, env = "CPMS_AWS_ENDPOINT")]
    aws_endpoint: Option<String>,
    /// Create the table first if it does not exist.
    #[arg(long)]
    create_table: bool,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

#[derive(clap::Args)]
struct ServeArgs {
    /// Address chargers connect to, at ws://ADDR/ocpp/{chargePointId}. Use 0.0.0.0:PORT to accept
    /// chargers from the network.
    #[arg(long, env = "CPMS_WS_ADDR", default_value = "127.0.0.1:9000")]
    ws_addr: SocketAddr,
    /// Address of the operator HTTP API (http://ADDR/v1/...).
    #[arg(long, env = "CPMS_HTTP_ADDR", default_value = "127.0.0.1:8080")]
    http_addr: SocketAddr,
    /// Address of the API Gateway management API (POST/GET/DELETE /@connections/{id}). It has no
    /// authentication: keep it on loopback.
    #[arg(long, env = "CPMS_MANAGEMENT_ADDR", default_value = "127.0.0.1:9001")]
    management_addr: SocketAddr,
    /// Directory holding the store (created if missing; a restart keeps everything in it).
    #[arg(long, env = "CPMS_DATA_DIR", default_value = "./cpms-data")]
    data_dir: PathBuf,
    /// What the handlers run on: `embedded` (the store in --data-dir) or `aws` (the DynamoDB table --table,
    /// with the Lambda functions' handlers running behind this server; use --aws-endpoint for an emulator).
    #[arg(long, env = "CPMS_BACKEND", default_value = "embedded", value_parser = ["embedded", "aws"])]
    backend: String,
    /// aws backend: the DynamoDB table.
    #[arg(long, env = "CPMS_TABLE", default_value = "cpms")]
    table: String,
    /// aws backend: endpoint of an AWS emulator (e.g. http://127.0.0.1:5000 for moto).
    #[arg(long, env = "CPMS_AWS_ENDPOINT")]
    aws_endpoint: Option<String>,
    /// aws backend: create the table if it does not exist.
    #[arg(long)]
    create_table: bool,
    /// Admin API key (send as "Authorization: Bearer <key>"). Generated and printed when not set.
    #[arg(long, env = "CPMS_ADMIN_KEY", hide_env_values = true)]
    admin_key: Option<String>,
    /// Heartbeat interval given to chargers, in seconds (keep it under 600).
    #[arg(long, default_value_t = 300)]
    heartbeat_interval: u64,
    /// BootNotifications accepted per second before chargers are told Pending (reconnect storms).
    #[arg(long, default_value_t = 500.0)]
    boot_rate: f64,
    /// Close WebSocket connections idle this many seconds (API Gateway closes after 600).
    #[arg(long, default_value_t = 600)]
    idle_timeout: u64,
    /// Charger connections that have not finished their handshake, at most (more drop the oldest of
    /// them). Also bounded by the open-files limit, which is raised to its hard limit at start.
    #[arg(long, default_value_t = 1000)]
    max_unauthenticated: usize,
    /// Seconds a client has to send its request headers (WebSocket handshake, API request).
    #[arg(long, default_value_t = 5)]
    header_timeout: u64,
    /// Seconds an API request may take, body included (answered 408 after that).
    #[arg(long, default_value_t = 30)]
    request_timeout: u64,
    /// SMTP server for e-mail notifications: smtp://HOST:PORT (plain, a local relay),
    /// smtp://USER:PASS@HOST:587?tls=required (STARTTLS) or smtps://USER:PASS@HOST:465.
    #[arg(long, env = "CPMS_SMTP_URL", hide_env_values = true)]
    smtp_url: Option<String>,
    /// Where roaming partners reach this installation's OCPI endpoints (`https://cpms.example.com`;
    /// they are at `{url}/ocpi/{tenant}/versions`). Default: the host a request came to.
    #[arg(long, env = "CPMS_PUBLIC_URL")]
    public_url: Option<String>,
    /// Sender of e-mail notifications ("CPMS Alerts <alerts@example.com>").
    #[arg(
        long,
        env = "CPMS_SMTP_FROM",
        default_value = "CPMS Alerts <alerts@localhost>"
    )]
    smtp_from: String,
    /// Seconds between two sweeps of alert timers (offline checks, escalation, retries).
    #[arg(long, default_value_t = 1)]
    alert_sweep: u64,
    /// Log as JSON lines instead of text.
    #[arg(long)]
    log_json: bool,
    /// Do not fsync before answering chargers. Loses data on a crash: benchmarks only.
    #[arg(long, hide = true)]
    unsafe_no_fsync: bool,
    /// Milliseconds a write that finds the store idle waits for others to share its commit (0: commit
    /// at once). Trades at most this much answer latency for fewer commits at moderate rates.
    #[arg(long, env = "CPMS_COMMIT_WINDOW_MS", default_value_t = cpms::serve::DEFAULT_COMMIT_WINDOW_MS)]
    commit_window_ms: u64,
}

#[derive(Subcommand)]
enum OcppCommand {
    /// Check a payload against the official schema of its version and action.
    Check(CheckArgs),
}

#[derive(clap::Args)]
struct CheckArgs {
    /// OCPP version: 1.6 or 2.0.1.
    #[arg(long = "ocpp", default_value = "1.6")]
    version: String,
    /// Action name (e.g. StartTransaction).
    #[arg(long, required_unless_present = "lines")]
    action: Option<String>,
    /// The payload is a CALLRESULT payload (default: a CALL payload).
    #[arg(long)]
    response: bool,
    /// File holding the payload (default: standard input).
    file: Option<PathBuf>,
    /// Read JSON lines {"version", "action", "response", "payload"} from standard input.
    #[arg(long)]
    lines: bool,
}

fn init_logs(json: bool) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // Colours only for a person at a terminal, not in files or journals.
    use std::io::IsTerminal;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}

async fn serve_cmd(a: ServeArgs) -> anyhow::Result<()> {
    init_logs(a.log_json);
    let (admin_key, announce) = admin_key(a.admin_key.as_deref(), &a.data_dir)?;
    let csms = CsmsConfig {
        heartbeat_interval: Duration::from_secs(a.heartbeat_interval.clamp(10, 3600)),
        boot_rate_per_second: a.boot_rate,
        boot_burst: a.boot_rate.max(1.0) * 2.0,
        ..CsmsConfig::default()
    };
    let running = serve::start(ServeConfig {
        ws_addr: a.ws_addr,
        http_addr: a.http_addr,
        management_addr: Some(a.management_addr),
        backend: match a.backend.as_str() {
            "aws" => ServeBackend::Aws {
                settings: cpms_lambda::AwsSettings {
                    table: a.table.clone(),
                    endpoint: a.aws_endpoint.clone(),
                    ..Default::default()
                },
                create_table: a.create_table,
            },
            _ => ServeBackend::Embedded {
                data_dir: a.data_dir.clone(),
                durability: if a.unsafe_no_fsync {
                    Durability::NoSync
                } else {
                    Durability::Immediate
                },
                commit_window: Duration::from_millis(a.commit_window_ms.min(100)),
            },
        },
        admin_key,
        idle_timeout: Duration::from_secs(a.idle_timeout.max(1)),
        max_unauthenticated: a.max_unauthenticated.max(1),
        header_timeout: Duration::from_secs(a.header_timeout.max(1)),
        request_timeout: Duration::from_secs(a.request_timeout.max(1)),
        csms,
        alert_sweep: Duration::from_secs(a.alert_sweep.clamp(1, 60)),
        clock: None,
        public_url: a.public_url.clone(),
        smtp: a.smtp_url.clone().map(|url| cpms_notify::SmtpConfig {
            url,
            from: a.smtp_from.clone(),
        }),
    })
    .await?;
    println!("cpms serve is running");
    println!(
        "  OCPP endpoint (chargers): ws://{}/ocpp/{{chargePointId}}",
        running.ws_addr
    );
    println!(
        "  Operator API:             http://{}/v1",
        running.http_addr
    );
    println!(
        "  OCPI (roaming partners):  http://{}/ocpi/{{tenant}}/versions",
        running.http_addr
    );
    if let Some(m) = running.management_addr {
        println!("  Management API (local):   http://{m}/@connections/{{connectionId}}");
    }
    match a.backend.as_str() {
        "aws" => println!(
            "  DynamoDB table:           {} (Lambda handlers behind this gateway)",
            a.table
        ),
        _ => println!("  Data directory:           {}", a.data_dir.display()),
    }
    println!("  Admin API key:            {announce}");
    running.until_signal().await;
    Ok(())
}

/// The admin key: the one given (not stored), else the one kept in the data directory (as its hash; the
/// key itself was printed when it was made), else a new one, kept and printed once. Returns the key and
/// what to print about it.
fn admin_key(
    given: Option<&str>,
    data_dir: &std::path::Path,
) -> anyhow::Result<(AdminKey, String)> {
    if let Some(k) = given.filter(|k| !k.trim().is_empty()) {
        return Ok((AdminKey::new(k), "from CPMS_ADMIN_KEY / --admin-key".into()));
    }
    let file = data_dir.join("admin-key.sha256");
    if let Ok(text) = std::fs::read_to_string(&file) {
        let key = AdminKey::from_digest_hex(&text)
            .with_context(|| format!("{} is not a SHA-256 in hex", file.display()))?;
        let said = format!(
            "the one printed at the first start (its hash is in {}; delete that file to make a new one)",
            file.display()
        );
        return Ok((key, said));
    }
    let k: String = rand::rng()
        .sample_iter(&rand::distr::Alphanumeric)
        .take(32)
        .map(char::from)
        .collect();
    let key = AdminKey::new(&k);
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("creating {}", data_dir.display()))?;
    cpms::serve::write_private(&file, &key.digest_hex())
        .with_context(|| format!("writing {}", file.display()))?;
    let said = format!(
        "{k}  (generated now and shown only this once: note it; set CPMS_ADMIN_KEY to choose one)"
    );
    Ok((key, said))
}

/// What to do when the cost model cannot reach DynamoDB.
const COST_MODEL_HOWTO: &str = "The cost model measures a session on a DynamoDB table. Either give AWS \
credentials and a region (AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, with AWS_REGION) and \
a scratch table (--table NAME, --create-table to make it), or run it on the AWS emulator:
  pip install \"moto[server]\" && moto_server -p 5000 &
  cpms cost-model --aws-endpoint http://127.0.0.1:5000 --create-table";

async fn cost_cmd(a: CostArgs) -> anyhow::Result<()> {
    let sdk = cpms_aws::config::sdk_config(a.aws_endpoint.as_deref()).await;
    if a.aws_endpoint.is_none() {
        use aws_sdk_dynamodb::config::ProvideCredentials;
        let found = match sdk.credentials_provider() {
            Some(p) => p
                .provide_credentials()
                .await
                .map(|_| ())
                .map_err(|e| e.to_string()),
            None => Err("no credentials provider".into()),
        };
        if let Err(why) = found {
            anyhow::bail!("no AWS credentials ({why}).\n{COST_MODEL_HOWTO}");
        }
    }
    if a.create_table {
        cpms_aws::dynamodb::table::create(&aws_sdk_dynamodb::Client::new(&sdk), &a.table).await?;
    }
    let settings = cpms_lambda::AwsSettings {
        table: a.table,
        ..Default::default()
    };
    let (csms, meter) = cpms_lambda::aws_csms_metered(&sdk, &settings);
    let model = cpms::cost::run(csms, meter).await.map_err(|e| {
        let reached = if a.aws_endpoint.is_some() {
            "the emulator"
        } else {
            "DynamoDB"
        };
        anyhow::anyhow!("cannot measure on {reached}: {e:#}.\n{COST_MODEL_HOWTO}")
    })?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&model)?);
    } else {
        print!("{}", model.text());
    }
    Ok(())
}

fn check_cmd(a: CheckArgs) -> anyhow::Result<()> {
    if a.lines {
        return check::run_lines();
    }
    let mut text = String::new();
    match &a.file {
        Some(f) => {
            text = std::fs::read_to_string(f).with_context(|| format!("reading {}", f.display()))?
        }
        None => {
            std::io::stdin().read_to_string(&mut text)?;
        }
    }
    let payload: serde_json::Value =
        serde_json::from_str(&text).context("the payload is not JSON")?;
    let verdict = check::check(check::Job {
        version: a.version,
        action: a.action.unwrap_or_default(),
        response: a.response,
        payload,
    });
    println!("{}", serde_json::to_string_pretty(&verdict)?);
    // Non-zero when the CSMS would refuse it (a forgiven quirk is accepted).
    if verdict["accepted"] != true {
        std::process::exit(1);
    }
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    match cli.command {
        Command::Serve(a) => rt.block_on(serve_cmd(a)),
        Command::Simulate(a) => {
            init_logs(false);
            let json = a.json;
            let report = rt.block_on(simulate::run(a))?;
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                print!("{}", report.text());
            }
            if !report.ok() {
                std::process::exit(1);
            }
            Ok(())
        }
        Command::Ocpp(OcppCommand::Check(a)) => check_cmd(a),
        Command::CostModel(a) => rt.block_on(cost_cmd(a)).or_else(|e| {
            // A message for a person, not a debug dump.
            eprintln!("cpms cost-model: {e}");
            std::process::exit(2)
        }),
    }
}
