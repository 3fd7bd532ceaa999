//! Maintenance windows: planned work on a site or a charger, once or every week, in the site's time
//! zone. While one covers a resource its alerts are silenced (no incident opens) and the time counts as
//! planned downtime.

use chrono::{DateTime, Datelike, Duration, NaiveTime, TimeZone, Utc, Weekday};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::{DomainError, TenantId};

/// What a window covers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum WindowScope {
    /// A site and all its chargers.
    Site {
        /// The site.
        site_id: String,
    },
    /// One charger.
    Charger {
        /// The charger.
        charger_id: String,
    },
}

/// When a window is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum WindowTime {
    /// Once.
    Once {
        /// Start.
        start: DateTime<Utc>,
        /// End.
        end: DateTime<Utc>,
    },
    /// Every week on these days, from a local time for a duration.
    Weekly {
        /// Days (`Mon` ... `Sun`).
        #[schemars(with = "Vec<String>")]
        days: Vec<Weekday>,
        /// Local start time (`02:00`).
        #[schemars(with = "String")]
        start: NaiveTime,
        /// Length in minutes (at most a day).
        duration_min: u32,
        /// IANA time zone (`Europe/Berlin`).
        time_zone: String,
    },
}

/// A maintenance window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct MaintenanceWindow {
    /// Owner.
    #[schemars(skip)]
    pub tenant: TenantId,
    /// Id.
    pub id: String,
    /// What it covers.
    pub scope: WindowScope,
    /// When.
    pub time: WindowTime,
    /// Why.
    #[serde(default)]
    pub reason: Option<String>,
    /// Created.
    pub created_at: DateTime<Utc>,
}

impl MaintenanceWindow {
    /// Checks the values.
    pub fn validate(&self) -> Result<(), DomainError> {
        let bad = |field, reason: &str| {
            Err(DomainError::Invalid {
                field,
                reason: reason.into(),
            })
        };
        match &self.time {
            WindowTime::Once { start, end } => {
                if end <= start {
                    return bad("time.end", "must be after start");
                }
                if *end - *start > Duration::days(90) {
                    return bad("time.end", "a window lasts at most 90 days");
                }
            }
            WindowTime::Weekly {
                days,
                duration_min,
                time_zone,
                ..
            } => {
                if days.is_empty() || days.len() > 7 {
                    return bad("time.days", "one to seven days");
                }
                if *duration_min == 0 || *duration_min > 24 * 60 {
                    return bad("time.duration_min", "must be 1 to 1440");
                }
                if time_zone.parse::<chrono_tz::Tz>().is_err() {
                    return bad("time.time_zone", "not an IANA time zone");
                }
            }
        }
        Ok(())
    }

    /// Whether it covers the charger `charger` at `site` at `at`.
    pub fn covers(&self, charger: Option<&str>, site: Option<&str>, at: DateTime<Utc>) -> bool {
        let scoped = match &self.scope {
            WindowScope::Site { site_id } => site == Some(site_id.as_str()),
            WindowScope::Charger { charger_id } => charger == Some(charger_id.as_str()),
        };
        scoped && self.active_at(at)
    }

    /// Whether it is on at `at`.
    pub fn active_at(&self, at: DateTime<Utc>) -> bool {
        self.current(at).is_some()
    }

    /// The occurrence (start, end) that is on at `at`.
    pub fn current(&self, at: DateTime<Utc>) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
        match &self.time {
            WindowTime::Once { start, end } => {
                (*start <= at && at < *end).then_some((*start, *end))
            }
            WindowTime::Weekly {
                days,
                start,
                duration_min,
                time_zone,
            } => {
                let tz: chrono_tz::Tz = time_zone.parse().ok()?;
                let local = at.with_timezone(&tz).date_naive();
                // Today's or yesterday's occurrence (a window may run past midnight).
                for back in 0..2 {
                    let day = local - Duration::days(back);
                    if !days.contains(&day.weekday()) {
                        continue;
                    }
                    let Some(s) = tz.from_local_datetime(&day.and_time(*start)).earliest() else {
                        continue;
                    };
                    let s = s.with_timezone(&Utc);
                    let e = s + Duration::minutes(i64::from(*duration_min));
                    if s <= at && at < e {
                        return Some((s, e));
                    }
                }
                None
            }
        }
    }
}
