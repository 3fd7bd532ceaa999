//! One notice to one channel, kept until it is delivered: the outbox of notifications. It is written
//! with the incident change that causes it (so nothing is lost in a crash), tried at once, and retried
//! with a growing delay by the sweep; after [`MAX_ATTEMPTS`] it is dead-lettered. Its attempts are the
//! delivery log.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::notify::Notice;
use crate::TenantId;

/// Attempts before a delivery is dead-lettered.
pub const MAX_ATTEMPTS: usize = 8;

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryState {
    /// Not delivered yet.
    Pending,
    /// Delivered.
    Delivered,
    /// Given up: every attempt failed.
    Dead,
}

/// One attempt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Attempt {
    /// When.
    pub at: DateTime<Utc>,
    /// It was delivered.
    pub ok: bool,
    /// The receiver's HTTP status.
    #[serde(default)]
    pub status: Option<u16>,
    /// Why it failed.
    #[serde(default)]
    pub error: Option<String>,
    /// How long it took (ms).
    pub ms: u64,
}

/// A notice to a channel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Delivery {
    /// Owner.
    #[schemars(skip)]
    pub tenant: TenantId,
    /// Id (`{incident}:{sequence}:{channel}`): the notice's event id.
    pub id: String,
    /// The incident (empty for a test notice).
    pub incident_id: String,
    /// The channel.
    pub channel_id: String,
    /// What is sent.
    pub notice: Notice,
    /// Where it stands.
    pub state: DeliveryState,
    /// Attempts made.
    #[serde(default)]
    pub attempts: Vec<Attempt>,
    /// When the next attempt is due.
    #[serde(default)]
    pub next_at: Option<DateTime<Utc>>,
    /// Created.
    pub created_at: DateTime<Utc>,
}

impl Delivery {
    /// Records an attempt; `retry_at` is when to try again if it failed and attempts are left.
    pub fn record(&mut self, a: Attempt, retry_at: DateTime<Utc>) {
        let ok = a.ok;
        self.attempts.push(a);
        if ok {
            self.state = DeliveryState::Delivered;
            self.next_at = None;
        } else if self.attempts.len() >= MAX_ATTEMPTS {
            self.state = DeliveryState::Dead;
            self.next_at = None;
        } else {
            self.next_at = Some(retry_at);
        }
    }
}
