//! The charger gateway on API Gateway: frames posted to a connection through the management API
//! (`POST /@connections/{id}`), connections closed with `DELETE`. A `GoneException` (HTTP 410) means the
//! charger is no longer connected.

use async_trait::async_trait;
use aws_sdk_apigatewaymanagement::Client;
use aws_sdk_apigatewaymanagement::primitives::Blob;
use cpms_ports::{ChargerGateway, GatewayError};

/// The management API of one WebSocket API stage.
#[derive(Clone)]
pub struct ApiGatewayManagement {
    client: Client,
}

impl ApiGatewayManagement {
    /// A gateway on a client whose endpoint is the stage's management URL
    /// (`https://{api}.execute-api.{region}.amazonaws.com/{stage}`).
    pub fn new(client: Client) -> Self {
        ApiGatewayManagement { client }
    }
}

#[async_trait]
impl ChargerGateway for ApiGatewayManagement {
    async fn send(&self, connection_id: &str, frame: &str) -> Result<(), GatewayError> {
        match self
            .client
            .post_to_connection()
            .connection_id(connection_id)
            .data(Blob::new(frame.as_bytes()))
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_gone_exception()) => {
                Err(GatewayError::Gone)
            }
            Err(e) => Err(GatewayError::Unavailable(crate::describe(&e))),
        }
    }

    async fn close(&self, connection_id: &str) -> Result<(), GatewayError> {
        match self
            .client
            .delete_connection()
            .connection_id(connection_id)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_gone_exception()) => {
                Err(GatewayError::Gone)
            }
            Err(e) => Err(GatewayError::Unavailable(crate::describe(&e))),
        }
    }
}
