//! The storage and registry port contracts against the DynamoDB adapter on the AWS emulator: the same
//! suite the embedded adapters pass.

use cpms_aws::DynamoStore;
use cpms_aws::dynamodb::table;
use cpms_ports::contract;
use cpms_tests::moto::{moto, sdk_config, unique};

async fn store() -> (cpms_tests::moto::Moto, DynamoStore) {
    let m = moto();
    let client = aws_sdk_dynamodb::Client::new(&sdk_config(&m.endpoint).await);
    let name = unique("cpms");
    table::create(&client, &name).await.unwrap();
    (m, DynamoStore::new(client, &name))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamodb_honours_the_store_contracts() {
    let (_m, s) = store().await;
    contract::charger_store(&s, "ddb").await;
    contract::session_store(&s, "ddb", contract::FailedWriteSamples::MayRemain).await;
    contract::token_store(&s, "ddb").await;
    contract::log_store(&s, &s, "ddb").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamodb_honours_the_document_store_contract() {
    let (_m, s) = store().await;
    contract::document_store(&s, "ddb").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamodb_honours_the_registry_contract() {
    let (_m, s) = store().await;
    contract::connection_registry(&s, "ddb").await;
}
