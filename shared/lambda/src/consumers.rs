//! Functions fed by the stream and by queues: the stream relay (DynamoDB stream -> EventBridge) and the
//! SQS consumers of domain events. Both report partial batch failures, so one bad record is retried
//! alone (a queue's message goes to its dead-letter queue after its retries).

use aws_lambda_events::dynamodb::Event as StreamEvent;
use aws_lambda_events::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use aws_lambda_events::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use cpms_domain::events::DomainEvent;
use cpms_ports::EventPublisher;
use serde::Deserialize;

/// Relays a stream batch; the response names the records to retry.
pub async fn relay(event: &StreamEvent, publisher: &dyn EventPublisher) -> DynamoDbEventResponse {
    let failed = cpms_aws::relay::relay(&event.records, publisher).await;
    let mut r = DynamoDbEventResponse::default();
    r.batch_item_failures = failed
        .into_iter()
        .map(|id| {
            let mut f = DynamoDbBatchItemFailure::default();
            f.item_identifier = Some(id);
            f
        })
        .collect();
    r
}

/// The EventBridge envelope of a message body.
#[derive(Deserialize)]
struct Envelope {
    detail: DomainEvent,
}

/// Reads the domain event from an SQS message body (an EventBridge event).
pub fn domain_event(body: &str) -> Result<DomainEvent, String> {
    serde_json::from_str::<Envelope>(body)
        .map(|e| e.detail)
        .map_err(|e| format!("not a domain event: {e}"))
}

/// Runs `handler` on every message of an SQS batch; failed messages are reported for retry.
pub async fn consume<F, Fut>(event: &SqsEvent, handler: F) -> SqsBatchResponse
where
    F: Fn(DomainEvent) -> Fut,
    Fut: std::future::Future<Output = Result<(), String>>,
{
    let mut failures = Vec::new();
    for m in &event.records {
        let id = m.message_id.clone().unwrap_or_default();
        let outcome = match m.body.as_deref().map(domain_event) {
            Some(Ok(ev)) => handler(ev).await,
            Some(Err(e)) => {
                // Unreadable messages can never succeed: drop them (logged) instead of retrying.
                tracing::error!(message_id = %id, error = %e, "dropping an unreadable message");
                Ok(())
            }
            None => Ok(()),
        };
        if let Err(e) = outcome {
            tracing::warn!(message_id = %id, error = %e, "message will be retried");
            let mut f = BatchItemFailure::default();
            f.item_identifier = id;
            failures.push(f);
        }
    }
    let mut r = SqsBatchResponse::default();
    r.batch_item_failures = failures;
    r
}

/// The smart-charging function's batch: its events are handled together, so each site they touch is
/// computed once; when that fails, every message of the batch is retried (handling them again is
/// idempotent).
pub async fn smart_charging(event: &SqsEvent, csms: &cpms_app::Csms) -> SqsBatchResponse {
    let mut events = Vec::new();
    for m in &event.records {
        match m.body.as_deref().map(domain_event) {
            Some(Ok(ev)) => events.push(ev),
            Some(Err(e)) => {
                let id = m.message_id.clone().unwrap_or_default();
                tracing::error!(message_id = %id, error = %e, "dropping an unreadable message");
            }
            None => {}
        }
    }
    let mut r = SqsBatchResponse::default();
    if let Err(e) = cpms_app::consumers::smart_charge(csms, &events).await {
        tracing::warn!(error = %e, "smart-charging batch will be retried");
        r.batch_item_failures = event
            .records
            .iter()
            .map(|m| {
                let mut f = BatchItemFailure::default();
                f.item_identifier = m.message_id.clone().unwrap_or_default();
                f
            })
            .collect();
    }
    r
}

/// The message the monthly schedule puts on the billing queue.
pub const BILLING_RUN_DUE: &str = "billing.run_due.v1";

/// The billing function's batch: domain events (a session ended or changed) are priced; the schedule's
/// `billing.run_due.v1` message runs billing for the previous month of every tenant.
pub async fn billing(event: &SqsEvent, csms: &cpms_app::Csms) -> SqsBatchResponse {
    let mut failures = Vec::new();
    for m in &event.records {
        let id = m.message_id.clone().unwrap_or_default();
        let body = m.body.as_deref().unwrap_or("");
        let scheduled = serde_json::from_str::<serde_json::Value>(body)
            .is_ok_and(|v| v["detail-type"] == BILLING_RUN_DUE);
        let outcome = if scheduled {
            match csms.run_due_billing("schedule").await {
                Ok(made) => {
                    for r in made {
                        tracing::info!(period = %r.id, tenant = %r.tenant, invoices = r.invoice_count, "billing run made");
                    }
                    Ok(())
                }
                Err(e) => Err(e.to_string()),
            }
        } else {
            match domain_event(body) {
                Ok(ev) => cpms_app::consumers::bill(csms, &ev)
                    .await
                    .map(|_| ())
                    .map_err(|e| e.to_string()),
                Err(e) => {
                    tracing::error!(message_id = %id, error = %e, "dropping an unreadable message");
                    Ok(())
                }
            }
        };
        if let Err(e) = outcome {
            tracing::warn!(message_id = %id, error = %e, "message will be retried");
            let mut f = BatchItemFailure::default();
            f.item_identifier = id;
            failures.push(f);
        }
    }
    let mut r = SqsBatchResponse::default();
    r.batch_item_failures = failures;
    r
}
