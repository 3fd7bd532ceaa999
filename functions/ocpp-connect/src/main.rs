//! The ocpp-connect Lambda. `$connect`: authenticates the charger, negotiates the OCPP version, records the connection.

#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    cpms_lambda::run_websocket(cpms_lambda::websocket::Route::Connect).await
}
