//! The command-sweeper Lambda, run by a one-minute EventBridge schedule: every call in flight past its
//! deadline (of every tenant) becomes `timed_out`, and the next queued command of that charger is sent.
//! `cpms serve` runs the same sweep every second. The same schedule computes again the smart-charging
//! sites whose limits change by now (schedule boundaries, lapsing external limits).

#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    cpms_lambda::run_scheduled(|csms| async move {
        let swept = csms.sweep_all_commands().await.map_err(|e| e.to_string())?;
        let sites = csms
            .recompute_all_due_sites()
            .await
            .map_err(|e| e.to_string())?;
        Ok(swept + sites)
    })
    .await
}
