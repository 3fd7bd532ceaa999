//! The ocpp-disconnect Lambda. `$disconnect`: forgets the connection and marks the charger disconnected.
//! Configuration is read once at start; a bad one fails the init, not each invocation.

use aws_lambda_events::apigw::{ApiGatewayProxyResponse, ApiGatewayWebsocketProxyRequest};
use lambda_runtime::{Error, LambdaEvent, run, service_fn};

#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> Result<(), Error> {
    cpms_lambda::init_tracing();
    let csms = cpms_lambda::Backend::from_env()?.csms()?;
    run(service_fn(
        |e: LambdaEvent<ApiGatewayWebsocketProxyRequest>| {
            let csms = csms.clone();
            async move {
                Ok::<ApiGatewayProxyResponse, Error>(
                    cpms_lambda::websocket::on_disconnect(&csms, &e.payload).await,
                )
            }
        },
    ))
    .await
}
