//! What the Lambda functions share: reading their configuration once at start (failing fast), building
//! the application on the configured adapters, and translating API Gateway WebSocket events to and from
//! the application's connect / message / disconnect handlers.

pub mod backend;
pub mod consumers;
pub mod websocket;

pub use backend::{AwsSettings, Backend, ConfigError, aws_csms, aws_csms_metered};

/// Roaming (OCPI) on the application's ports, calling partners over HTTP. `public_url` is where
/// partners reach the OCPI endpoints (`CPMS_PUBLIC_URL` in the functions); without it, the host a
/// request came to.
pub fn roaming(
    csms: &std::sync::Arc<cpms_app::Csms>,
    public_url: Option<String>,
) -> Result<std::sync::Arc<cpms_roaming::Roaming>, ConfigError> {
    let client =
        cpms_notify::partner::NetPartnerClient::new().map_err(|e| ConfigError::Invalid {
            name: "partner client",
            value: String::new(),
            why: e.to_string(),
        })?;
    Ok(std::sync::Arc::new(
        cpms_roaming::Roaming::new(
            csms.ports().roaming(std::sync::Arc::new(client)),
            cpms_roaming::RoamingConfig {
                public_url,
                currency: Some(csms.config().default_currency.clone()),
            },
        )
        .with_commands(std::sync::Arc::new(cpms_app::consumers::PartnerCommands(
            csms.clone(),
        ))),
    ))
}

use aws_lambda_events::apigw::{ApiGatewayProxyResponse, ApiGatewayWebsocketProxyRequest};
use lambda_runtime::{Error, LambdaEvent, service_fn};

/// The body of a WebSocket route function: logs set up, configuration read and adapters built once
/// (a bad configuration fails the init, not every invocation), then every event handled by `route`.
pub async fn run_websocket(route: websocket::Route) -> Result<(), Error> {
    init_tracing();
    let csms = Backend::from_env()?.csms().await?;
    lambda_runtime::run(service_fn(
        |e: LambdaEvent<ApiGatewayWebsocketProxyRequest>| {
            let csms = csms.clone();
            async move {
                Ok::<ApiGatewayProxyResponse, Error>(
                    websocket::handle(route, &csms, &e.payload).await,
                )
            }
        },
    ))
    .await
}

/// JSON logs to stdout (CloudWatch), level from `RUST_LOG` (default `info`).
pub fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(false)
        .without_time()
        .init();
}

/// The body of the stream relay function: every DynamoDB stream batch to the event bus.
pub async fn run_relay() -> Result<(), Error> {
    init_tracing();
    let publisher = Backend::from_env()?.publisher().await?;
    lambda_runtime::run(service_fn(
        |e: LambdaEvent<aws_lambda_events::dynamodb::Event>| {
            let publisher = publisher.clone();
            async move { Ok::<_, Error>(consumers::relay(&e.payload, &*publisher).await) }
        },
    ))
    .await
}

/// The body of a function run by a schedule: `job` once per invocation (the scheduled event carries
/// nothing it needs). A failed job fails the invocation, so it shows in the function's error alarm; the
/// next tick runs it again.
pub async fn run_scheduled<F, Fut>(job: F) -> Result<(), Error>
where
    F: Fn(std::sync::Arc<cpms_app::Csms>) -> Fut + Clone + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<usize, String>> + Send,
{
    init_tracing();
    let csms = Backend::from_env()?.csms().await?;
    lambda_runtime::run(service_fn(move |_: LambdaEvent<serde_json::Value>| {
        let (csms, job) = (csms.clone(), job.clone());
        async move {
            let done = job(csms).await.map_err(Error::from)?;
            tracing::info!(done, "scheduled job finished");
            Ok::<_, Error>(serde_json::json!({ "done": done }))
        }
    }))
    .await
}

/// The body of the billing function: its queue's batches (see [`consumers::billing`]).
pub async fn run_billing() -> Result<(), Error> {
    init_tracing();
    let csms = Backend::from_env()?.csms().await?;
    lambda_runtime::run(service_fn(
        move |e: LambdaEvent<aws_lambda_events::sqs::SqsEvent>| {
            let csms = csms.clone();
            async move { Ok::<_, Error>(consumers::billing(&e.payload, &csms).await) }
        },
    ))
    .await
}

/// The body of the smart-charging function: each batch's events, each site they touch computed once
/// (see [`consumers::smart_charging`]).
pub async fn run_smart_charging() -> Result<(), Error> {
    init_tracing();
    let csms = Backend::from_env()?.csms().await?;
    lambda_runtime::run(service_fn(
        move |e: LambdaEvent<aws_lambda_events::sqs::SqsEvent>| {
            let csms = csms.clone();
            async move { Ok::<_, Error>(consumers::smart_charging(&e.payload, &csms).await) }
        },
    ))
    .await
}

/// The body of an SQS consumer function: every domain event of a batch to `handler`.
pub async fn run_consumer<F, Fut>(handler: F) -> Result<(), Error>
where
    F: Fn(std::sync::Arc<cpms_app::Csms>, cpms_domain::events::DomainEvent) -> Fut
        + Clone
        + Send
        + Sync
        + 'static,
    Fut: std::future::Future<Output = Result<(), String>> + Send,
{
    init_tracing();
    let csms = Backend::from_env()?.csms().await?;
    lambda_runtime::run(service_fn(
        move |e: LambdaEvent<aws_lambda_events::sqs::SqsEvent>| {
            let (csms, handler) = (csms.clone(), handler.clone());
            async move {
                let r = consumers::consume(&e.payload, |ev| handler(csms.clone(), ev)).await;
                Ok::<_, Error>(r)
            }
        },
    ))
    .await
}

/// The body of the ocpi-push function: each event of its queue updates what is published to roaming
/// partners and sends what that queued (see `cpms_app::consumers::push_to_partners`); a partner that
/// cannot take it keeps it queued for the ocpi-sweeper. `CPMS_PUBLIC_URL` as for the operator API.
pub async fn run_ocpi_push() -> Result<(), Error> {
    init_tracing();
    let csms = Backend::from_env()?.csms().await?;
    let roaming = roaming(&csms, std::env::var("CPMS_PUBLIC_URL").ok())?;
    lambda_runtime::run(service_fn(
        move |e: LambdaEvent<aws_lambda_events::sqs::SqsEvent>| {
            let roaming = roaming.clone();
            async move {
                let r = consumers::consume(&e.payload, |ev| {
                    let roaming = roaming.clone();
                    async move {
                        cpms_app::consumers::push_to_partners(&roaming, &ev)
                            .await
                            .map_err(|e| e.to_string())
                    }
                })
                .await;
                Ok::<_, Error>(r)
            }
        },
    ))
    .await
}

/// The body of the ocpi-sweeper function (a one-minute schedule): what is due to every partner of
/// every tenant is sent (retries, and what a stopped worker left).
pub async fn run_ocpi_sweeper() -> Result<(), Error> {
    init_tracing();
    let csms = Backend::from_env()?.csms().await?;
    let roaming = roaming(&csms, std::env::var("CPMS_PUBLIC_URL").ok())?;
    lambda_runtime::run(service_fn(move |_e: LambdaEvent<serde_json::Value>| {
        let (csms, roaming) = (csms.clone(), roaming.clone());
        async move {
            for t in csms.all_tenants().await? {
                roaming.sweep_pushes(&t).await?;
            }
            Ok::<_, Error>(())
        }
    }))
    .await
}
