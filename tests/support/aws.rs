//! An AWS world on the emulator, shaped like the stack in `infra/`: the table, the event bus, and one SQS
//! queue per consumer with an EventBridge rule for the event types `events/catalog/routing.json` gives it.
//! It also reads the table's stream the way Lambda delivers it to the event-relay function.

use std::collections::HashMap;

use aws_config::SdkConfig;
use serde_json::{Value, json};

use crate::moto::{sdk_config, unique};

/// Resources of one test.
pub struct World {
    /// SDK configuration for the emulator.
    pub sdk: SdkConfig,
    /// Emulator endpoint.
    pub endpoint: String,
    /// Table name.
    pub table: String,
    /// Bus name.
    pub bus: String,
    /// Queue URL per consumer.
    pub queues: HashMap<String, String>,
    stream_arn: String,
    iterator: Option<String>,
}

impl World {
    /// Creates the table, the bus, the queues and the rules.
    pub async fn create(endpoint: &str) -> World {
        let sdk = sdk_config(endpoint).await;
        let (table, bus) = (unique("cpms"), unique("bus"));
        let ddb = aws_sdk_dynamodb::Client::new(&sdk);
        cpms_aws::dynamodb::table::create(&ddb, &table)
            .await
            .unwrap();
        let stream_arn = ddb
            .describe_table()
            .table_name(&table)
            .send()
            .await
            .unwrap()
            .table
            .and_then(|t| t.latest_stream_arn)
            .expect("the table has a stream");
        let eb = aws_sdk_eventbridge::Client::new(&sdk);
        eb.create_event_bus().name(&bus).send().await.unwrap();
        let sqs = aws_sdk_sqs::Client::new(&sdk);
        let routing: HashMap<String, Vec<String>> = serde_json::from_str(
            &std::fs::read_to_string(crate::root().join("events/catalog/routing.json")).unwrap(),
        )
        .unwrap();
        let mut queues = HashMap::new();
        for (consumer, types) in routing {
            let name = format!("{bus}-{consumer}");
            let url = sqs
                .create_queue()
                .queue_name(&name)
                .send()
                .await
                .unwrap()
                .queue_url
                .unwrap();
            let arn = sqs
                .get_queue_attributes()
                .queue_url(&url)
                .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
                .send()
                .await
                .unwrap()
                .attributes
                .unwrap()[&aws_sdk_sqs::types::QueueAttributeName::QueueArn]
                .clone();
            let pattern = json!({"source": ["cpms"], "detail-type": types}).to_string();
            eb.put_rule()
                .name(&name)
                .event_bus_name(&bus)
                .event_pattern(pattern)
                .send()
                .await
                .unwrap();
            let target = aws_sdk_eventbridge::types::Target::builder()
                .id("queue")
                .arn(arn)
                .build()
                .unwrap();
            eb.put_targets()
                .rule(&name)
                .event_bus_name(&bus)
                .targets(target)
                .send()
                .await
                .unwrap();
            queues.insert(consumer, url);
        }
        World {
            sdk,
            endpoint: endpoint.to_string(),
            table,
            bus,
            queues,
            stream_arn,
            iterator: None,
        }
    }

    async fn streams(&self, target: &str, body: Value) -> Value {
        // moto keeps resources per region, read from the credential scope.
        let region = self
            .sdk
            .region()
            .map_or("us-east-1".to_string(), |r| r.to_string());
        let auth = format!(
            "AWS4-HMAC-SHA256 Credential=test/20260101/{region}/dynamodb/aws4_request, SignedHeaders=host, Signature=0"
        );
        let r = reqwest::Client::new()
            .post(&self.endpoint)
            .header("X-Amz-Target", format!("DynamoDBStreams_20120810.{target}"))
            .header("Content-Type", "application/x-amz-json-1.0")
            .header("Authorization", auth)
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        r.json().await.unwrap()
    }

    /// The stream records written since the last call, as the event-relay function receives them.
    pub async fn stream_event(&mut self) -> aws_lambda_events::dynamodb::Event {
        let iterator = match self.iterator.take() {
            Some(i) => i,
            None => {
                let d = self
                    .streams("DescribeStream", json!({"StreamArn": self.stream_arn}))
                    .await;
                let shard = d["StreamDescription"]["Shards"][0]["ShardId"]
                    .as_str()
                    .unwrap()
                    .to_string();
                let it = self
                    .streams(
                        "GetShardIterator",
                        json!({"StreamArn": self.stream_arn, "ShardId": shard, "ShardIteratorType": "TRIM_HORIZON"}),
                    )
                    .await;
                it["ShardIterator"].as_str().unwrap().to_string()
            }
        };
        let out = self
            .streams("GetRecords", json!({"ShardIterator": iterator}))
            .await;
        self.iterator = out["NextShardIterator"].as_str().map(str::to_string);
        serde_json::from_value(json!({"Records": out["Records"]}))
            .expect("stream records read as a Lambda event")
    }

    /// Every message waiting on a consumer's queue (removed from it), as EventBridge events.
    pub async fn drain(&self, consumer: &str) -> Vec<Value> {
        let sqs = aws_sdk_sqs::Client::new(&self.sdk);
        let url = &self.queues[consumer];
        let mut out = Vec::new();
        loop {
            let r = sqs
                .receive_message()
                .queue_url(url)
                .max_number_of_messages(10)
                .send()
                .await
                .unwrap();
            let msgs = r.messages.unwrap_or_default();
            if msgs.is_empty() {
                return out;
            }
            for m in msgs {
                out.push(serde_json::from_str(m.body().unwrap()).unwrap());
                sqs.delete_message()
                    .queue_url(url)
                    .receipt_handle(m.receipt_handle().unwrap())
                    .send()
                    .await
                    .unwrap();
            }
        }
    }

    /// The SQS batch a consumer function would receive for `events` (EventBridge envelopes).
    pub fn sqs_event(events: &[Value]) -> aws_lambda_events::sqs::SqsEvent {
        let records: Vec<Value> = events
            .iter()
            .enumerate()
            .map(|(i, e)| json!({"messageId": format!("m{i}"), "body": e.to_string(), "attributes": {}, "messageAttributes": {}}))
            .collect();
        serde_json::from_value(json!({"Records": records})).unwrap()
    }
}
