//! The operator-api Lambda: the operator HTTP API (`cpms_app::api::router`, the router `cpms serve` runs)
//! behind API Gateway's HTTP API, with the OCPI endpoints (`/ocpi/...`) beside it. `CPMS_ADMIN_KEY` holds
//! the bootstrap key; `CPMS_PUBLIC_URL` is where partners reach the OCPI endpoints.

use std::sync::Arc;

use cpms_app::api::{AdminKey, ApiState, router};
use lambda_http::Error;

#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> Result<(), Error> {
    cpms_lambda::init_tracing();
    let csms = cpms_lambda::Backend::from_env()?.csms().await?;
    let key = std::env::var("CPMS_ADMIN_KEY")
        .map_err(|_| cpms_lambda::ConfigError::Missing("CPMS_ADMIN_KEY"))?;
    let roaming = cpms_lambda::roaming(&csms, std::env::var("CPMS_PUBLIC_URL").ok())?;
    let app = router(ApiState {
        csms,
        admin_key: Arc::new(AdminKey::new(&key)),
        roaming,
    });
    lambda_http::run(app).await
}
