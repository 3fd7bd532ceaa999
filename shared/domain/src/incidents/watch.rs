//! The offline watch of a charger: when it is next expected to make contact. One record per charger,
//! listed by that time, so a sweep finds the chargers that went quiet without reading any other (no
//! table scans), and by site, so a site's chargers are known when many go offline together.

use chrono::{DateTime, Duration, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::TenantId;

/// A charger's offline watch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Watch {
    /// Owner.
    #[schemars(skip)]
    pub tenant: TenantId,
    /// The charger.
    pub charger_id: String,
    /// Its site.
    #[serde(default)]
    pub site_id: Option<String>,
    /// It has a connection.
    pub connected: bool,
    /// It counts as offline (disconnected for too long, or silent).
    pub offline: bool,
    /// Since when it is connected, disconnected or offline.
    pub since: DateTime<Utc>,
    /// The contact the sweep saw last (its `last_seen`).
    #[serde(default)]
    pub last_contact: Option<DateTime<Utc>>,
    /// When to look at it next.
    #[serde(default)]
    pub due: Option<DateTime<Utc>>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
}

impl Watch {
    /// A charger's watch as it connects at `now`: it must be heard from within `window`.
    pub fn connected(
        tenant: TenantId,
        charger_id: String,
        site_id: Option<String>,
        window: Duration,
        now: DateTime<Utc>,
    ) -> Self {
        Watch {
            tenant,
            charger_id,
            site_id,
            connected: true,
            offline: false,
            since: now,
            last_contact: Some(now),
            due: Some(now + window),
            updated_at: now,
        }
    }
}

/// What the sweep concludes about a due watch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Heard from recently: look again at this time.
    Alive(DateTime<Utc>),
    /// Offline: silent since (or disconnected at) this time.
    Offline(DateTime<Utc>),
    /// Offline still, or came back: look again at this time.
    Recheck(DateTime<Utc>),
    /// Came back after it was offline.
    Back,
}

/// The verdict on a due watch at `now`, given what the charger record says: its connection, its
/// `last_seen`, the heartbeat window (twice the interval plus a grace) and how long a closed connection
/// may last.
pub fn judge(
    w: &Watch,
    connected: bool,
    last_seen: Option<DateTime<Utc>>,
    window: Duration,
    disconnected_for: Duration,
    recheck: Duration,
    now: DateTime<Utc>,
) -> Verdict {
    let seen = last_seen.max(w.last_contact).unwrap_or(w.since);
    if w.offline {
        // Back when connected and heard from since it went offline.
        return if connected && seen > w.since {
            Verdict::Back
        } else {
            Verdict::Recheck(now + recheck)
        };
    }
    if connected {
        let expected = seen + window;
        return if expected > now {
            Verdict::Alive(expected)
        } else {
            Verdict::Offline(seen)
        };
    }
    let gone = w.since + disconnected_for;
    if gone > now {
        Verdict::Recheck(gone)
    } else {
        Verdict::Offline(w.since)
    }
}
