//! The ocpi-sweeper Lambda, run by a one-minute schedule: pushes to roaming partners that are due
//! again (a partner that was down, backing off from 2 s to 30 min) or that a stopped worker left, read
//! from the sparse `due` index. `cpms serve` runs the same sweep every second.

#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    cpms_lambda::run_ocpi_sweeper().await
}
