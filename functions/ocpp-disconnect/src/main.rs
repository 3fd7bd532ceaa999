//! The ocpp-disconnect Lambda. `$disconnect`: forgets the connection and marks the charger disconnected.

#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    cpms_lambda::run_websocket(cpms_lambda::websocket::Route::Disconnect).await
}
