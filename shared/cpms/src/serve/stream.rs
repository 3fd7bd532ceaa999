//! `cpms serve --backend aws`: the table's stream read the way Lambda reads it for the event-relay
//! function, and the events it carries handed to the consumers the AWS stack runs (billing, the session
//! reconciler, smart charging, alerts), so the local AWS mode is the whole pipeline: charger message, table, stream, relay,
//! consumer, CDR. The relay code is the event-relay function's; the consumers are the functions'
//! handlers.
//!
//! Delivery is at least once, as on AWS: a batch's records are handed on in order, and a record whose
//! consumers failed is retried (the rest of the batch behind it waits) until it succeeds or its retries
//! run out (then it is logged and dropped, as a dead-letter queue would keep it). The stream is read from
//! its oldest record at start (DynamoDB keeps 24 hours), so a restart delivers again what it had not
//! finished; the consumers are idempotent.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use aws_lambda_events::dynamodb::{EventRecord, StreamRecord};
use aws_sdk_dynamodbstreams::types::{Record, ShardIteratorType};
use cpms_app::Csms;
use cpms_domain::events::DomainEvent;
use cpms_ports::{EventPublisher, StoreError};
use tokio::sync::watch;

/// Attempts at a record before it is dropped (SQS: maxReceiveCount 5).
const ATTEMPTS: u32 = 5;

/// Hands events to the consumers, as the queues and their functions would.
struct Consumers {
    csms: Arc<Csms>,
    roaming: Arc<cpms_roaming::Roaming>,
}

#[async_trait]
impl EventPublisher for Consumers {
    async fn publish(&self, events: &[DomainEvent]) -> Result<(), StoreError> {
        use cpms_domain::events::is_routed as routed;
        self.csms.publish_live(events);
        for ev in events {
            if routed("session-reconciler", ev) {
                cpms_app::consumers::reconcile(&self.csms, ev).await?;
            }
            if routed("billing", ev) {
                cpms_app::consumers::bill(&self.csms, ev).await?;
            }
            if routed("alerts", ev) {
                cpms_app::consumers::alert(&self.csms, ev).await?;
            }
            if routed("ocpi-push", ev) {
                cpms_app::consumers::push_to_partners(&self.roaming, ev).await?;
            }
        }
        let smart: Vec<DomainEvent> = events
            .iter()
            .filter(|e| routed("smart-charging", e))
            .cloned()
            .collect();
        if !smart.is_empty() {
            cpms_app::consumers::smart_charge(&self.csms, &smart).await?;
        }
        Ok(())
    }
}

/// A stream record as the Lambda event carries it.
fn event_record(r: &Record) -> EventRecord {
    let item = |m: Option<&HashMap<String, aws_sdk_dynamodbstreams::types::AttributeValue>>| {
        let map: HashMap<String, serde_dynamo::AttributeValue> = m
            .map(|m| {
                m.iter()
                    .map(|(k, v)| (k.clone(), serde_dynamo::AttributeValue::from(v.clone())))
                    .collect()
            })
            .unwrap_or_default();
        serde_dynamo::Item::from(map)
    };
    let d = r.dynamodb();
    let mut change = StreamRecord::default();
    change.keys = item(d.and_then(|d| d.keys.as_ref()));
    change.new_image = item(d.and_then(|d| d.new_image.as_ref()));
    change.old_image = item(d.and_then(|d| d.old_image.as_ref()));
    change.sequence_number = d.and_then(|d| d.sequence_number.clone());
    let mut out = EventRecord::default();
    out.event_id = r.event_id().unwrap_or_default().to_string();
    out.event_name = r
        .event_name()
        .map(|n| n.as_str().to_string())
        .unwrap_or_default();
    out.change = change;
    out
}

/// Reads the stream of `table` and feeds the consumers until `stop` turns true.
pub(crate) async fn run(
    sdk: aws_config::SdkConfig,
    table: String,
    csms: Arc<Csms>,
    roaming: Arc<cpms_roaming::Roaming>,
    mut stop: watch::Receiver<bool>,
) {
    let ddb = aws_sdk_dynamodb::Client::new(&sdk);
    let streams = aws_sdk_dynamodbstreams::Client::new(&sdk);
    let consumers = Consumers { csms, roaming };
    let mut iterators: HashMap<String, Option<String>> = HashMap::new();
    let mut last_seen: HashMap<String, String> = HashMap::new();
    let mut arn = None;
    let mut idle = Duration::from_millis(200);
    loop {
        if *stop.borrow() {
            return;
        }
        let mut delivered = 0;
        match poll(
            &ddb,
            &streams,
            &table,
            &mut arn,
            (&mut iterators, &mut last_seen),
            &consumers,
        )
        .await
        {
            Ok(n) => delivered = n,
            Err(e) => {
                tracing::warn!(error = %e, table, "reading the table's stream failed; retrying")
            }
        }
        // Poll often while records come, back off (to a second) while the stream is quiet.
        idle = if delivered > 0 {
            Duration::from_millis(50)
        } else {
            (idle * 2).min(Duration::from_secs(1))
        };
        tokio::select! {
            _ = tokio::time::sleep(idle) => {}
            _ = stop.changed() => {}
        }
    }
}

/// One pass over the stream's shards; returns how many records were handed on.
async fn poll(
    ddb: &aws_sdk_dynamodb::Client,
    streams: &aws_sdk_dynamodbstreams::Client,
    table: &str,
    arn: &mut Option<String>,
    (iterators, last_seen): (
        &mut HashMap<String, Option<String>>,
        &mut HashMap<String, String>,
    ),
    consumers: &Consumers,
) -> Result<usize, String> {
    let describe = |e: &(dyn std::error::Error + 'static)| cpms_aws::describe(e);
    if arn.is_none() {
        let t = ddb
            .describe_table()
            .table_name(table)
            .send()
            .await
            .map_err(|e| describe(&e))?;
        *arn = t
            .table()
            .and_then(|t| t.latest_stream_arn())
            .map(str::to_string);
    }
    let Some(stream_arn) = arn.clone() else {
        return Err(format!("table {table} has no stream"));
    };
    let d = streams
        .describe_stream()
        .stream_arn(&stream_arn)
        .send()
        .await
        .map_err(|e| describe(&e))?;
    let shards: Vec<String> = d
        .stream_description()
        .map(|s| {
            s.shards()
                .iter()
                .filter_map(|s| s.shard_id().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    let mut delivered = 0;
    for shard in shards {
        let iterator = match iterators.get(&shard) {
            Some(None) => continue, // closed and read to its end
            Some(Some(i)) => i.clone(),
            None => streams
                .get_shard_iterator()
                .stream_arn(&stream_arn)
                .shard_id(&shard)
                .shard_iterator_type(ShardIteratorType::TrimHorizon)
                .send()
                .await
                .map_err(|e| describe(&e))?
                .shard_iterator()
                .map(str::to_string)
                .ok_or("no shard iterator")?,
        };
        let out = streams
            .get_records()
            .shard_iterator(&iterator)
            .limit(1000)
            .send()
            .await
            .map_err(|e| describe(&e))?;
        let records: Vec<EventRecord> = out.records().iter().map(event_record).collect();
        if let Some(seq) = records
            .last()
            .and_then(|r| r.change.sequence_number.clone())
        {
            last_seen.insert(shard.clone(), seq);
        }
        deliver(&records, consumers).await;
        delivered += records.len();
        let mut next = out.next_shard_iterator().map(str::to_string);
        // Nothing new: the next read starts from a fresh iterator after the last record seen (the
        // emulator's iterators were seen to stop returning records written later; real ones expire
        // after 15 minutes).
        if records.is_empty()
            && next.is_some()
            && let Some(seq) = last_seen.get(&shard)
        {
            next = streams
                .get_shard_iterator()
                .stream_arn(&stream_arn)
                .shard_id(&shard)
                .shard_iterator_type(ShardIteratorType::AfterSequenceNumber)
                .sequence_number(seq)
                .send()
                .await
                .map_err(|e| describe(&e))?
                .shard_iterator()
                .map(str::to_string)
                .or(next);
        }
        iterators.insert(shard, next);
    }
    Ok(delivered)
}

/// Hands a batch on in order with the event-relay function's code; a record that fails is retried with
/// the rest of the batch behind it, then dropped after its last attempt.
async fn deliver(records: &[EventRecord], consumers: &Consumers) {
    use backon::BackoffBuilder;
    let delays = || {
        backon::ExponentialBuilder::default()
            .with_min_delay(Duration::from_millis(200))
            .with_max_times(ATTEMPTS as usize - 1)
            .build()
    };
    let mut rest = records;
    let mut retry = delays();
    while !rest.is_empty() {
        let failed = cpms_aws::relay::relay(rest, consumers).await;
        let Some(first) = failed.first() else { return };
        let at = rest
            .iter()
            .position(|r| r.change.sequence_number.as_deref() == Some(first.as_str()))
            .unwrap_or(0);
        if at > 0 {
            retry = delays();
        }
        rest = &rest[at..];
        match retry.next() {
            Some(d) => tokio::time::sleep(d).await,
            None => {
                tracing::error!(sequence = %first, "a stream record failed {ATTEMPTS} times: dropped");
                rest = &rest[1..];
                retry = delays();
            }
        }
    }
}
