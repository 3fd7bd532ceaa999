//! The ocpp-message Lambda. `$default`: every OCPP frame a charger sends; the answer is the route response.

#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    cpms_lambda::run_websocket(cpms_lambda::websocket::Route::Message).await
}
