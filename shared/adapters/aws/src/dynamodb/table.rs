//! The table definition, for emulators and tests (on AWS the stack in `infra/` creates it, with the same
//! keys, indexes, stream and TTL).

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, StreamSpecification, StreamViewType,
    TimeToLiveSpecification,
};
use cpms_ports::StoreError;

fn key(name: &str, t: KeyType) -> Result<KeySchemaElement, StoreError> {
    KeySchemaElement::builder()
        .attribute_name(name)
        .key_type(t)
        .build()
        .map_err(|e| StoreError::Unavailable(e.to_string()))
}

/// Creates the table (nothing happens if it exists) and turns on its TTL attribute.
pub async fn create(client: &Client, name: &str) -> Result<(), StoreError> {
    let err = |e: String| StoreError::Unavailable(format!("creating table {name}: {e}"));
    let mut req = client
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
        .key_schema(key("pk", KeyType::Hash)?)
        .key_schema(key("sk", KeyType::Range)?)
        .stream_specification(
            StreamSpecification::builder()
                .stream_enabled(true)
                .stream_view_type(StreamViewType::NewAndOldImages)
                .build()
                .map_err(|e| err(e.to_string()))?,
        );
    for attr in ["pk", "sk", "g1pk", "g1sk", "g2pk", "g2sk", "g3pk", "g3sk"] {
        req = req.attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name(attr)
                .attribute_type(ScalarAttributeType::S)
                .build()
                .map_err(|e| err(e.to_string()))?,
        );
    }
    for index in ["g1", "g2", "g3"] {
        req = req.global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name(super::index_name(index))
                .key_schema(key(&format!("{index}pk"), KeyType::Hash)?)
                .key_schema(key(&format!("{index}sk"), KeyType::Range)?)
                .projection(
                    Projection::builder()
                        .projection_type(ProjectionType::KeysOnly)
                        .build(),
                )
                .build()
                .map_err(|e| err(e.to_string()))?,
        );
    }
    match req.send().await {
        Ok(_) => {}
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_resource_in_use_exception()) =>
        {
            return Ok(());
        }
        Err(e) => return Err(err(crate::describe(&e))),
    }
    client
        .update_time_to_live()
        .table_name(name)
        .time_to_live_specification(
            TimeToLiveSpecification::builder()
                .enabled(true)
                .attribute_name("ttl")
                .build()
                .map_err(|e| err(e.to_string()))?,
        )
        .send()
        .await
        .map_err(|e| err(crate::describe(&e)))?;
    Ok(())
}
