//! The alert-sweeper Lambda, run by a one-minute EventBridge schedule: every alert timer that is due
//! (chargers whose next expected contact passed, conditions waiting out a minimum duration or a clear
//! hysteresis, remedy checks, escalation tiers, notification retries), read from sparse `due` indexes,
//! so the cost follows what is due and not the size of the network. `cpms serve` runs the same sweep
//! every second.

#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    cpms_lambda::run_scheduled(|csms| async move {
        csms.sweep_all_alerts().await.map_err(|e| e.to_string())
    })
    .await
}
