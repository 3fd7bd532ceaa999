//! Charging profiles in the operator's vocabulary, one shape for both OCPP versions, checked before
//! they are mapped: the first period starts at 0 and periods rise (K01.FR.31), limits are not
//! negative, phases are 1 to 3, a recurring profile has its recurrency and start, a relative one has
//! no start, a station-wide maximum goes to EVSE 0 and a TxProfile to an EVSE.

use chrono::{DateTime, SecondsFormat, Utc};
use rust_decimal::Decimal;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::{DomainError, OcppVersion};

/// What a profile is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ProfilePurpose {
    /// The whole charger's maximum (1.6 ChargePointMaxProfile, 2.0.1 ChargingStationMaxProfile), EVSE 0.
    ChargerMax,
    /// The default for new transactions.
    TxDefault,
    /// One running transaction.
    Tx,
}

/// How the schedule is placed in time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ProfileKind {
    /// From `start`.
    Absolute,
    /// Repeats daily or weekly from `start`.
    Recurring,
    /// From the start of the transaction.
    Relative,
}

/// A recurring profile's period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Recurrency {
    /// Every day.
    Daily,
    /// Every week.
    Weekly,
}

/// The unit of a schedule's limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum RateUnit {
    /// Amperes per phase.
    A,
    /// Watts.
    W,
}

impl RateUnit {
    /// `A` or `W`.
    pub fn as_str(self) -> &'static str {
        match self {
            RateUnit::A => "A",
            RateUnit::W => "W",
        }
    }
}

/// One period of a schedule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SchedulePeriod {
    /// Seconds from the schedule's start.
    pub start_s: u32,
    /// The limit, in the schedule's unit.
    #[serde(with = "cpms_ocpp::number")]
    #[schemars(with = "f64")]
    pub limit: Decimal,
    /// Phases to charge on (1 to 3); absent: 3.
    #[serde(default)]
    pub phases: Option<u8>,
}

/// A charging profile.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ChargingProfile {
    /// Its id (a profile with the same id replaces it on the charger).
    pub id: i32,
    /// Stack level: the highest valid one of a purpose applies.
    pub stack_level: u32,
    /// What it is for.
    pub purpose: ProfilePurpose,
    /// How it is placed in time (default absolute).
    #[serde(default = "absolute")]
    pub kind: ProfileKind,
    /// A recurring profile: daily or weekly.
    #[serde(default)]
    pub recurrency: Option<Recurrency>,
    /// Valid from.
    #[serde(default)]
    pub valid_from: Option<DateTime<Utc>>,
    /// Valid until.
    #[serde(default)]
    pub valid_to: Option<DateTime<Utc>>,
    /// A TxProfile: the OCPP transaction id (a 1.6 integer; in `start_session`, absent).
    #[serde(default)]
    pub transaction_id: Option<String>,
    /// The schedule's start (absolute and recurring profiles; absent: when the charger receives it).
    #[serde(default)]
    pub start: Option<DateTime<Utc>>,
    /// The schedule's length in seconds (absent: until the last period ends the profile).
    #[serde(default)]
    pub duration_s: Option<u32>,
    /// The unit of the limits.
    pub rate_unit: RateUnit,
    /// The periods, the first at 0.
    pub periods: Vec<SchedulePeriod>,
    /// The least rate the car charges efficiently with.
    #[serde(default, with = "cpms_ocpp::number::option")]
    #[schemars(with = "Option<f64>")]
    pub min_rate: Option<Decimal>,
}

fn absolute() -> ProfileKind {
    ProfileKind::Absolute
}

/// Most periods in one schedule this CSMS sends (chargers announce their own maximum, often fewer).
pub const MAX_PERIODS: usize = 1024;

fn refuse(field: &'static str, reason: impl Into<String>) -> DomainError {
    DomainError::Invalid {
        field,
        reason: reason.into(),
    }
}

fn ts(t: &DateTime<Utc>) -> Value {
    Value::String(t.to_rfc3339_opts(SecondsFormat::Secs, true))
}

fn num(d: Decimal) -> Value {
    // One decimal place (OCPP 2.0.1 limits have one; 1.6 chargers take it too).
    cpms_ocpp::number::serialize(&d.round_dp(1).normalize(), serde_json::value::Serializer)
        .unwrap_or(Value::Null)
}

fn put(m: &mut Map<String, Value>, k: &str, v: Option<Value>) {
    if let Some(v) = v {
        m.insert(k.to_string(), v);
    }
}

impl ChargingProfile {
    /// Checks the profile for `evse_id` (0: the whole charger), `in_start` when it comes with a
    /// start_session.
    pub fn validate(&self, evse_id: u32, in_start: bool) -> Result<(), DomainError> {
        if self.id <= 0 {
            return Err(refuse("id", "a profile id is a positive number"));
        }
        if self.stack_level > 1000 {
            return Err(refuse("stack_level", "0 to 1000"));
        }
        let Some(first) = self.periods.first() else {
            return Err(refuse("periods", "a schedule has at least one period"));
        };
        if first.start_s != 0 {
            return Err(refuse(
                "periods",
                "the first period starts at 0 (K01.FR.31)",
            ));
        }
        if self.periods.len() > MAX_PERIODS {
            return Err(refuse("periods", format!("at most {MAX_PERIODS} periods")));
        }
        if self
            .periods
            .windows(2)
            .any(|w| w[1].start_s <= w[0].start_s)
        {
            return Err(refuse("periods", "periods start in rising order"));
        }
        for p in &self.periods {
            if p.limit < Decimal::ZERO || p.limit > Decimal::from(10_000_000) {
                return Err(refuse("limit", "a limit is 0 or more (and below 10 MW)"));
            }
            if p.phases.is_some_and(|n| !(1..=3).contains(&n)) {
                return Err(refuse("phases", "1 to 3 phases"));
            }
        }
        if self.min_rate.is_some_and(|m| m < Decimal::ZERO) {
            return Err(refuse("min_rate", "0 or more"));
        }
        if let (Some(a), Some(b)) = (self.valid_from, self.valid_to)
            && b <= a
        {
            return Err(refuse("valid_to", "after valid_from"));
        }
        match self.kind {
            ProfileKind::Recurring if self.recurrency.is_none() || self.start.is_none() => {
                return Err(refuse(
                    "recurrency",
                    "a recurring profile names its recurrency (daily, weekly) and its start",
                ));
            }
            ProfileKind::Relative if self.start.is_some() => {
                return Err(refuse(
                    "start",
                    "a relative profile starts with the transaction",
                ));
            }
            ProfileKind::Absolute | ProfileKind::Relative if self.recurrency.is_some() => {
                return Err(refuse("recurrency", "only recurring profiles recur"));
            }
            _ => {}
        }
        match self.purpose {
            ProfilePurpose::ChargerMax if evse_id != 0 => Err(refuse(
                "evse_id",
                "a charger maximum applies to the whole charger: evse_id 0",
            )),
            ProfilePurpose::Tx if evse_id == 0 && !in_start => Err(refuse(
                "evse_id",
                "a transaction profile goes to the EVSE of its transaction",
            )),
            ProfilePurpose::Tx if self.transaction_id.is_none() && !in_start => Err(refuse(
                "transaction_id",
                "a transaction profile names its transaction",
            )),
            ProfilePurpose::ChargerMax | ProfilePurpose::TxDefault if in_start => Err(refuse(
                "purpose",
                "a profile sent with start_session is a transaction profile (tx)",
            )),
            ProfilePurpose::ChargerMax | ProfilePurpose::TxDefault
                if self.transaction_id.is_some() =>
            {
                Err(refuse(
                    "transaction_id",
                    "only a transaction profile names a transaction",
                ))
            }
            _ => Ok(()),
        }
    }

    /// The profile as `version` writes it (1.6 csChargingProfiles, 2.0.1 ChargingProfileType).
    pub fn to_ocpp(&self, version: OcppVersion) -> Result<Value, DomainError> {
        let mut m = Map::new();
        let v16 = version == OcppVersion::V16;
        m.insert(
            if v16 { "chargingProfileId" } else { "id" }.into(),
            Value::from(self.id),
        );
        m.insert("stackLevel".into(), Value::from(self.stack_level));
        let purpose = match (self.purpose, v16) {
            (ProfilePurpose::ChargerMax, true) => "ChargePointMaxProfile",
            (ProfilePurpose::ChargerMax, false) => "ChargingStationMaxProfile",
            (ProfilePurpose::TxDefault, _) => "TxDefaultProfile",
            (ProfilePurpose::Tx, _) => "TxProfile",
        };
        m.insert("chargingProfilePurpose".into(), purpose.into());
        let kind = match self.kind {
            ProfileKind::Absolute => "Absolute",
            ProfileKind::Recurring => "Recurring",
            ProfileKind::Relative => "Relative",
        };
        m.insert("chargingProfileKind".into(), kind.into());
        put(
            &mut m,
            "recurrencyKind",
            self.recurrency.map(|r| match r {
                Recurrency::Daily => "Daily".into(),
                Recurrency::Weekly => "Weekly".into(),
            }),
        );
        put(&mut m, "validFrom", self.valid_from.as_ref().map(ts));
        put(&mut m, "validTo", self.valid_to.as_ref().map(ts));
        if let Some(tx) = &self.transaction_id {
            let v = if v16 {
                let n: i64 = tx.parse().map_err(|_| {
                    refuse(
                        "transaction_id",
                        format!("{tx:?}: OCPP 1.6 transaction ids are integers"),
                    )
                })?;
                Value::from(n)
            } else {
                Value::from(tx.clone())
            };
            m.insert("transactionId".into(), v);
        }
        let periods: Vec<Value> = self
            .periods
            .iter()
            .map(|p| {
                let mut q = Map::new();
                q.insert("startPeriod".into(), Value::from(p.start_s));
                q.insert("limit".into(), num(p.limit));
                put(&mut q, "numberPhases", p.phases.map(Value::from));
                Value::Object(q)
            })
            .collect();
        let mut s = Map::new();
        if !v16 {
            s.insert("id".into(), Value::from(self.id));
        }
        put(&mut s, "startSchedule", self.start.as_ref().map(ts));
        put(&mut s, "duration", self.duration_s.map(Value::from));
        s.insert("chargingRateUnit".into(), self.rate_unit.as_str().into());
        s.insert("chargingSchedulePeriod".into(), Value::Array(periods));
        put(&mut s, "minChargingRate", self.min_rate.map(num));
        m.insert(
            "chargingSchedule".into(),
            if v16 {
                Value::Object(s)
            } else {
                Value::Array(vec![Value::Object(s)])
            },
        );
        Ok(Value::Object(m))
    }
}

/// The OCPP name of a purpose.
pub fn purpose_name(p: ProfilePurpose, version: OcppVersion) -> &'static str {
    match (p, version) {
        (ProfilePurpose::ChargerMax, OcppVersion::V16) => "ChargePointMaxProfile",
        (ProfilePurpose::ChargerMax, OcppVersion::V201) => "ChargingStationMaxProfile",
        (ProfilePurpose::TxDefault, _) => "TxDefaultProfile",
        (ProfilePurpose::Tx, _) => "TxProfile",
    }
}
