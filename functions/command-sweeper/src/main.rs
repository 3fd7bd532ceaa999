//! The command-sweeper Lambda, run by a one-minute EventBridge schedule: every call in flight past its
//! deadline (of every tenant) becomes `timed_out`, and the next queued command of that charger is sent.
//! `cpms serve` runs the same sweep every second.

#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    cpms_lambda::run_scheduled(|csms| async move {
        csms.sweep_all_commands().await.map_err(|e| e.to_string())
    })
    .await
}
