//! The ocpi-push Lambda: location, status, session and CDR events from its queue update the objects
//! published to roaming partners (OCPI), and each change is sent to every partner that receives it,
//! in the partner's order. Idempotent: a redelivered event finds nothing new to publish.

#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    cpms_lambda::run_ocpi_push().await
}
