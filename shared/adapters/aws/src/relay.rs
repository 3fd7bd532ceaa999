//! The stream relay: DynamoDB stream records (old and new image of each changed item) into domain events,
//! with the same derivation the embedded store's outbox uses, published in stream order. Event ids are
//! deterministic, so a batch delivered twice publishes the same ids and consumers drop the repeats.

use aws_lambda_events::dynamodb::EventRecord;
use cpms_domain::charger::Charger;
use cpms_domain::events::{self, DomainEvent};
use cpms_domain::session::Session;
use cpms_ports::EventPublisher;
use serde::de::DeserializeOwned;
use serde_dynamo::AttributeValue;

/// Why a record could not be turned into events.
#[derive(Debug, thiserror::Error)]
#[error("stream record {key}: {reason}")]
pub struct RelayError {
    key: String,
    reason: String,
}

fn attr<'a>(item: &'a serde_dynamo::Item, name: &str) -> Option<&'a str> {
    match item.get(name) {
        Some(AttributeValue::S(s)) => Some(s.as_str()),
        _ => None,
    }
}

fn image<T: DeserializeOwned>(
    item: &serde_dynamo::Item,
    key: &str,
) -> Result<Option<T>, RelayError> {
    let err = |reason: String| RelayError {
        key: key.to_string(),
        reason,
    };
    let inflated;
    let json = match (attr(item, "d"), item.get("z")) {
        (Some(json), _) => json,
        (None, Some(AttributeValue::B(z))) => {
            inflated = crate::dynamodb::body::inflate(z).map_err(err)?;
            inflated.as_str()
        }
        _ => return Ok(None),
    };
    serde_json::from_str(json)
        .map(Some)
        .map_err(|e| err(e.to_string()))
}

/// The events a stream record implies (none for records that are not chargers or sessions, and none for
/// deletions: those are expiring connections and log entries).
pub fn events_of(r: &EventRecord) -> Result<Vec<DomainEvent>, RelayError> {
    let keys = &r.change.keys;
    let (pk, sk) = (
        attr(keys, "pk").unwrap_or(""),
        attr(keys, "sk").unwrap_or(""),
    );
    let key = format!("{pk}/{sk}");
    if r.event_name == "REMOVE" {
        return Ok(Vec::new());
    }
    if sk == "CP" && pk.starts_with("CP#") {
        let old: Option<Charger> = image(&r.change.old_image, &key)?;
        let Some(new) = image::<Charger>(&r.change.new_image, &key)? else {
            return Ok(Vec::new());
        };
        return Ok(events::for_charger(old.as_ref(), &new));
    }
    if sk.starts_with("S#") && pk.starts_with("T#") {
        let old: Option<Session> = image(&r.change.old_image, &key)?;
        let Some(new) = image::<Session>(&r.change.new_image, &key)? else {
            return Ok(Vec::new());
        };
        return Ok(events::for_session(old.as_ref(), &new));
    }
    if pk.contains("#D#") {
        // A document written with events: publish them once, when they are new to the item.
        let new = attr(&r.change.new_image, crate::dynamodb::documents::EVENTS_ATTR);
        let old = attr(&r.change.old_image, crate::dynamodb::documents::EVENTS_ATTR);
        if let Some(json) = new.filter(|n| Some(*n) != old) {
            return serde_json::from_str(json).map_err(|e| RelayError {
                key,
                reason: e.to_string(),
            });
        }
    }
    Ok(Vec::new())
}

/// Relays a batch in order. Returns the sequence numbers to report as failed: from the first record that
/// could not be published on (the stream is then retried from there, in order).
pub async fn relay(records: &[EventRecord], publisher: &dyn EventPublisher) -> Vec<String> {
    for (i, r) in records.iter().enumerate() {
        let outcome = match events_of(r) {
            Ok(evs) if evs.is_empty() => Ok(()),
            Ok(evs) => publisher.publish(&evs).await.map_err(|e| e.to_string()),
            Err(e) => {
                // A record that cannot be read will never become readable: log it and go on, rather
                // than block the stream behind it.
                tracing::error!(error = %e, "skipping an unreadable stream record");
                Ok(())
            }
        };
        if let Err(e) = outcome {
            tracing::warn!(error = %e, "publishing failed; the rest of the batch will be retried");
            return records[i..]
                .iter()
                .filter_map(|r| r.change.sequence_number.clone())
                .collect();
        }
    }
    Vec::new()
}

#[cfg(test)]
mod tests {
    use base64::Engine;
    use chrono::TimeZone;
    use cpms_domain::session::{EventKind, SessionEvent};
    use cpms_domain::{ChargerId, OcppVersion, SessionId, TenantId};

    use super::*;

    #[test]
    fn a_deflated_session_image_in_a_lambda_stream_event_yields_its_events() {
        // GIVEN a started session stored deflated (as the adapter stores large bodies)
        let now = chrono::Utc.with_ymd_and_hms(2026, 1, 1, 8, 0, 0).unwrap();
        let id = SessionId::new(ChargerId::new("CP1").unwrap(), "7");
        let mut s = Session::new(TenantId::default_tenant(), id, OcppVersion::V16, now);
        let mut start = SessionEvent::new(EventKind::Started, now, 1);
        start.evse = Some((1, 1));
        s.apply(&start, now);
        let json = serde_json::to_string(&s).unwrap() + &" ".repeat(400);
        let (name, value) = crate::dynamodb::body::attribute(json);
        assert_eq!(name, "z");
        let aws_sdk_dynamodb::types::AttributeValue::B(z) = value else {
            panic!("binary")
        };
        let b64 = base64::engine::general_purpose::STANDARD.encode(z.as_ref());
        // WHEN the stream delivers it in the Lambda event's JSON
        let record: EventRecord = serde_json::from_value(serde_json::json!({
            "eventID": "1", "eventName": "INSERT", "eventSource": "aws:dynamodb", "awsRegion": "us-east-1",
            "dynamodb": {
                "Keys": {"pk": {"S": "T#default#CP#CP1"}, "sk": {"S": "S#7"}},
                "NewImage": {"pk": {"S": "T#default#CP#CP1"}, "sk": {"S": "S#7"}, "v": {"N": "1"}, "z": {"B": b64}},
                "SequenceNumber": "1", "SizeBytes": 100, "StreamViewType": "NEW_AND_OLD_IMAGES"
            }
        }))
        .unwrap();
        // THEN the relay reads it and derives the start
        let evs = events_of(&record).unwrap();
        assert_eq!(evs.len(), 1);
        assert_eq!(evs[0].body.type_name(), "session.started.v1");
    }
}
