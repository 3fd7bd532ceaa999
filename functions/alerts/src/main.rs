//! The alerts Lambda: events from its queue (connector status, connections, device events, session
//! starts and ends, CDRs to review, non-compliant chargers) become findings of the detection rules;
//! conditions open and resolve incidents, which send their first remedies and notifications. Idempotent:
//! redelivered or stale events change nothing.

#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    cpms_lambda::run_consumer(|csms, event| async move {
        cpms_app::consumers::alert(&csms, &event)
            .await
            .map_err(|e| e.to_string())
    })
    .await
}
