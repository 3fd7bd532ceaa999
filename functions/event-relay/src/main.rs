//! The event-relay Lambda: the table's stream in, domain events out to EventBridge (no dual writes: an
//! event exists only because its change was committed). Failed records are reported for retry in order.

#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    cpms_lambda::run_relay().await
}
