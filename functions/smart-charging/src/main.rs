//! The smart-charging Lambda: a batch from its queue (sessions that start, meter a changed draw or
//! end; connector status; chargers that connect, boot, disconnect or do not comply) computes each site
//! it touches once and sends the charging profiles whose limits moved; a connecting charger also gets
//! its fail-safe default profile.

#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    cpms_lambda::run_smart_charging().await
}
