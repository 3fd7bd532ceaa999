//! The billing Lambda: `session.ended.v1` and `session.amended.v1` from its queue are priced into CDRs
//! (idempotent per session; a changed session gets a credit CDR and a new CDR), and the monthly
//! schedule's `billing.run_due.v1` message runs billing for the previous month of every tenant.

#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    cpms_lambda::run_billing().await
}
