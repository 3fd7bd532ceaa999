//! The API Gateway management adapter (aws-sdk-apigatewaymanagement, unchanged) against the management
//! API of the local WebSocket server, with a real charger on the other end of the socket.

use cpms_aws::ApiGatewayManagement;
use cpms_domain::ChargerId;
use cpms_ports::{ChargerGateway, GatewayError};
use cpms_tests::moto::sdk_config;
use cpms_tests::{Charger, Stack};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frames_reach_the_charger_and_a_gone_connection_is_reported() {
    let stack = Stack::start().await;
    stack.register("CP1").await;
    let mut cp = Charger::connect(&stack, "CP1", "ocpp1.6").await.unwrap();
    cp.boot(false).await;
    let conn = stack
        .csms()
        .ports()
        .chargers
        .get(&ChargerId::new("CP1").unwrap())
        .await
        .unwrap()
        .unwrap()
        .value
        .connection
        .unwrap()
        .id;
    let config = sdk_config(&stack.management).await;
    let client = aws_sdk_apigatewaymanagement::Client::new(&config);
    let gw = ApiGatewayManagement::new(client.clone());

    let frame =
        json!([2, "csms-1", "TriggerMessage", {"requestedMessage": "Heartbeat"}]).to_string();
    gw.send(&conn, &frame).await.unwrap();
    let got = cp.recv().await.unwrap();
    assert_eq!(got.to_string(), frame);

    let info = client
        .get_connection()
        .connection_id(&conn)
        .send()
        .await
        .unwrap();
    assert!(info.connected_at().is_some());
    assert!(info.identity().and_then(|i| i.source_ip()).is_some());

    gw.close(&conn).await.unwrap();
    assert!(
        cp.recv().await.is_none(),
        "the charger's connection was closed"
    );
    assert_eq!(gw.send(&conn, "[]").await, Err(GatewayError::Gone));
    assert_eq!(gw.close("never-existed").await, Err(GatewayError::Gone));
    stack.stop().await;
}
