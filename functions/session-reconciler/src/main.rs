//! The session-reconciler Lambda: `session.started.v1` events from its queue; older sessions still open
//! on the same EVSE are closed as reconciled. Idempotent, so redelivered events change nothing.

#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    cpms_lambda::run_consumer(|csms, event| async move {
        cpms_app::consumers::reconcile(&csms, &event)
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    })
    .await
}
