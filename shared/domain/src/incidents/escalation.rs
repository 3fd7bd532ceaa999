//! Escalation: who is told about an incident, and who next when nobody acknowledges it. A policy is a
//! list of tiers, each with its channels and the delay before the next tier; the last tier repeats a
//! set number of times. A tier may be limited to business hours in a time zone: outside them it waits
//! for the next opening.

use chrono::{DateTime, Datelike, Duration, NaiveTime, TimeZone, Utc, Weekday};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::incident::Escalation;
use crate::{DomainError, TenantId};

/// Business hours.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BusinessHours {
    /// IANA time zone.
    pub time_zone: String,
    /// Days (`Mon` ... `Sun`).
    #[schemars(with = "Vec<String>")]
    pub days: Vec<Weekday>,
    /// Opening (`08:00:00`).
    #[schemars(with = "String")]
    pub start: NaiveTime,
    /// Closing (`18:00:00`).
    #[schemars(with = "String")]
    pub end: NaiveTime,
}

impl BusinessHours {
    /// `at` if it is within the hours, else the next opening (within two weeks).
    pub fn next_open(&self, at: DateTime<Utc>) -> DateTime<Utc> {
        let Ok(tz) = self.time_zone.parse::<chrono_tz::Tz>() else {
            return at;
        };
        let local = at.with_timezone(&tz);
        for d in 0..15 {
            let day = local.date_naive() + Duration::days(d);
            if !self.days.contains(&day.weekday()) {
                continue;
            }
            let (Some(open), Some(close)) = (
                tz.from_local_datetime(&day.and_time(self.start)).earliest(),
                tz.from_local_datetime(&day.and_time(self.end)).earliest(),
            ) else {
                continue;
            };
            let (open, close) = (open.with_timezone(&Utc), close.with_timezone(&Utc));
            if at < close {
                return at.max(open);
            }
        }
        at
    }
}

/// One tier.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Tier {
    /// Channels notified (ids).
    pub channels: Vec<String>,
    /// Seconds without acknowledgement before the next tier (or a repeat of the last).
    pub delay_s: u32,
    /// Only within these hours (outside them the tier waits for the next opening).
    #[serde(default)]
    pub business_hours: Option<BusinessHours>,
}

/// An escalation policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct EscalationPolicy {
    /// Owner.
    #[schemars(skip)]
    pub tenant: TenantId,
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// The tiers, first first.
    pub tiers: Vec<Tier>,
    /// Times the last tier is notified again while nobody acknowledges.
    #[serde(default)]
    pub repeats: u32,
    /// Also tell the first tier's channels when an incident is acknowledged or resolved.
    #[serde(default = "yes")]
    pub notify_updates: bool,
}

fn yes() -> bool {
    true
}

/// What escalation asks for now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// The tier (0: the first).
    pub tier: usize,
    /// Its channels.
    pub channels: Vec<String>,
    /// A repeat of the last tier.
    pub repeat: bool,
}

impl EscalationPolicy {
    /// Checks the values.
    pub fn validate(&self) -> Result<(), DomainError> {
        let bad = |field, reason: &str| {
            Err(DomainError::Invalid {
                field,
                reason: reason.into(),
            })
        };
        if self.tiers.is_empty() || self.tiers.len() > 10 {
            return bad("tiers", "one to ten tiers");
        }
        if self.repeats > 20 {
            return bad("repeats", "at most 20");
        }
        for t in &self.tiers {
            if t.channels.is_empty() || t.channels.len() > 10 {
                return bad("tiers.channels", "one to ten channels per tier");
            }
            if t.delay_s < 60 && self.tiers.len() > 1 || t.delay_s > 7 * 24 * 3600 {
                return bad("tiers.delay_s", "60 s to a week");
            }
            if let Some(h) = &t.business_hours
                && (h.time_zone.parse::<chrono_tz::Tz>().is_err()
                    || h.days.is_empty()
                    || h.end <= h.start)
            {
                return bad(
                    "tiers.business_hours",
                    "an IANA time zone, some days, and an end after the start",
                );
            }
        }
        Ok(())
    }

    /// The first notification of a new (or reopened) incident at `now`: tier 0, or nothing yet when
    /// tier 0 is outside its hours (then `e.next_at` is the opening).
    pub fn start(&self, e: &mut Escalation, now: DateTime<Utc>) -> Option<Step> {
        e.tier = 0;
        e.repeats = 0;
        e.next_at = None;
        self.fire(e, 0, false, now)
    }

    fn fire(
        &self,
        e: &mut Escalation,
        tier: usize,
        repeat: bool,
        now: DateTime<Utc>,
    ) -> Option<Step> {
        let t = self.tiers.get(tier)?;
        if let Some(h) = &t.business_hours {
            let open = h.next_open(now);
            if open > now {
                e.tier = tier;
                e.next_at = Some(open);
                e.waiting = true;
                return None;
            }
        }
        e.tier = tier;
        e.waiting = false;
        let last = tier + 1 == self.tiers.len();
        e.next_at = (!last || e.repeats < self.repeats)
            .then(|| now + Duration::seconds(i64::from(t.delay_s.max(1))));
        Some(Step {
            tier,
            channels: t.channels.clone(),
            repeat,
        })
    }

    /// Its timer fired at `now` on an unacknowledged incident: the next tier, a repeat, or a tier that
    /// waited for its hours.
    pub fn advance(&self, e: &mut Escalation, now: DateTime<Utc>) -> Option<Step> {
        if e.next_at.is_none_or(|t| t > now) {
            return None;
        }
        if e.waiting {
            return self.fire(e, e.tier, false, now);
        }
        if e.tier + 1 < self.tiers.len() {
            return self.fire(e, e.tier + 1, false, now);
        }
        if e.repeats < self.repeats {
            e.repeats += 1;
            return self.fire(e, e.tier, true, now);
        }
        e.next_at = None;
        None
    }
}
