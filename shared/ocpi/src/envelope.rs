//! The response envelope every OCPI answer is wrapped in: `data`, `status_code`, `status_message`,
//! `timestamp`.

use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::StatusCode;

/// An OCPI response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Envelope<T> {
    /// The payload (an object, a list, or absent).
    #[serde(default = "none", skip_serializing_if = "Option::is_none")]
    pub data: Option<T>,
    /// What happened.
    pub status_code: StatusCode,
    /// In words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_message: Option<String>,
    /// When it was made.
    #[serde(with = "cpms_ocpp::datetime")]
    pub timestamp: DateTime<Utc>,
}

fn none<T>() -> Option<T> {
    None
}

impl<T> Envelope<T> {
    /// A success carrying `data`.
    pub fn ok(data: T, now: DateTime<Utc>) -> Self {
        Envelope {
            data: Some(data),
            status_code: StatusCode::Success,
            status_message: None,
            timestamp: now,
        }
    }

    /// A failure with `code` and a message.
    pub fn error(code: StatusCode, message: impl Into<String>, now: DateTime<Utc>) -> Self {
        Envelope {
            data: None,
            status_code: code,
            status_message: Some(message.into()),
            timestamp: now,
        }
    }
}

impl Envelope<serde_json::Value> {
    /// Reads an envelope a partner sent, its `data` as `T`. A body that is not an envelope, or whose
    /// data does not read as `T`, is an error saying so.
    pub fn read<T: DeserializeOwned>(body: &[u8]) -> Result<Envelope<T>, String> {
        let e: Envelope<serde_json::Value> = serde_json::from_slice(body)
            .map_err(|e| format!("the answer is not an OCPI response envelope: {e}"))?;
        let data = match e.data {
            None | Some(serde_json::Value::Null) => None,
            Some(v) => {
                Some(serde_json::from_value(v).map_err(|e| format!("the answer's data: {e}"))?)
            }
        };
        Ok(Envelope {
            data,
            status_code: e.status_code,
            status_message: e.status_message,
            timestamp: e.timestamp,
        })
    }
}
