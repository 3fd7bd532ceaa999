//! The simulated charger's own state and its answers to the CSMS's calls, for both versions: a reset
//! reboots it, a remote start starts a session, a remote stop stops it, availability, configuration
//! (1.6 keys, 2.0.1 variables; a new Basic-auth password is used from the next connection), triggered
//! messages, reservations, the local list, firmware and diagnostics requests. Every other action of the
//! version gets a valid answer that declines it. What needs more than an answer (a session, a reboot, a
//! message to send) is queued as a [`Request`] for the charger's loop.

use std::collections::BTreeMap;

use cpms_ocpp::OcppVersion;
use cpms_ocpp::schema::Schema;
use serde_json::{Map, Value, json};

/// Something the charger's loop does after an answer.
#[derive(Debug, Clone, PartialEq)]
pub enum Request {
    /// Start a session for this token (remote start); 2.0.1 remoteStartId.
    Start {
        id_tag: String,
        remote_start_id: Option<i64>,
    },
    /// Stop the session (with this stop reason).
    Stop(&'static str),
    /// Reboot: stop the session, close the connection, connect and boot again.
    Reboot(&'static str),
    /// Send this message now (TriggerMessage).
    Send(String),
    /// Tell the CSMS the connector's status (after a change of availability).
    Status,
}

/// A charging profile the charger keeps (the first period of its schedule is what it follows).
#[derive(Debug, Clone, PartialEq)]
pub struct Profile {
    /// Its id.
    pub id: i64,
    /// `ChargePointMaxProfile` / `ChargingStationMaxProfile`, `TxDefaultProfile`, `TxProfile`.
    pub purpose: String,
    /// Stack level.
    pub stack: i64,
    /// EVSE (0: the charger).
    pub evse: i64,
    /// The limit in A per phase (W converted at 230 V on its phases).
    pub limit_a: f64,
}

/// The charger's state the CSMS can read and change.
pub struct Device {
    version: OcppVersion,
    /// The Basic-auth password for the next connection.
    pub password: Option<String>,
    /// Configuration: 1.6 keys, 2.0.1 `Component.Variable`, with whether they are read-only.
    config: BTreeMap<String, (String, bool)>,
    /// Operative or not.
    pub available: bool,
    /// The running session's transaction id (1.6: the CSMS's number; 2.0.1: the charger's string).
    pub transaction: Option<String>,
    /// A reservation (id), if any.
    reservation: Option<i64>,
    local_list_version: i64,
    /// What the loop has to do.
    pub requests: Vec<Request>,
    /// Calls answered.
    pub answered: u64,
    /// Charging profiles installed.
    pub profiles: Vec<Profile>,
    /// When the running session's start was sent, until its TxProfile came.
    pub start_sent: Option<std::time::Instant>,
    /// Start sent to TxProfile received, in microseconds.
    pub profile_latencies_us: Vec<u32>,
}

impl Device {
    /// A charger of `version` with its default configuration.
    pub fn new(version: OcppVersion, password: Option<String>, heartbeat_s: u64) -> Self {
        let mut config = BTreeMap::new();
        let mut set = |k: &str, v: &str, ro: bool| {
            config.insert(k.to_string(), (v.to_string(), ro));
        };
        match version {
            OcppVersion::V16 => {
                set("HeartbeatInterval", &heartbeat_s.to_string(), false);
                set("MeterValueSampleInterval", "60", false);
                set("ConnectionTimeOut", "60", false);
                set("NumberOfConnectors", "1", true);
                set("AuthorizeRemoteTxRequests", "false", false);
                set("LocalAuthListEnabled", "true", false);
                set(
                    "SupportedFeatureProfiles",
                    "Core,FirmwareManagement,LocalAuthListManagement,Reservation,SmartCharging,RemoteTrigger",
                    true,
                );
            }
            OcppVersion::V201 => {
                set(
                    "OCPPCommCtrlr.HeartbeatInterval",
                    &heartbeat_s.to_string(),
                    false,
                );
                set("SampledDataCtrlr.TxUpdatedInterval", "60", false);
                set("AuthCtrlr.AuthorizeRemoteStart", "false", false);
                set("TxCtrlr.EVConnectionTimeOut", "60", false);
                set("DeviceDataCtrlr.ItemsPerMessage", "16", true);
                set("SecurityCtrlr.SecurityProfile", "1", true);
            }
        }
        Device {
            version,
            password,
            config,
            available: true,
            transaction: None,
            reservation: None,
            local_list_version: 0,
            requests: Vec::new(),
            answered: 0,
            profiles: Vec::new(),
            start_sent: None,
            profile_latencies_us: Vec::new(),
        }
    }

    /// The limit in A per phase the charger enforces now on EVSE 1: per purpose the highest stack
    /// level applies; a TxProfile (only while a transaction runs) overrules the TxDefaultProfile; the
    /// charger maximum caps both.
    pub fn limit_a(&self) -> Option<f64> {
        let top = |purpose: &str| {
            self.profiles
                .iter()
                .filter(|p| match purpose {
                    "max" => p.purpose.ends_with("MaxProfile"),
                    other => p.purpose == other,
                })
                .filter(|p| p.evse == 0 || p.evse == 1)
                .max_by_key(|p| (p.stack, p.evse))
                .map(|p| p.limit_a)
        };
        let tx = if self.transaction.is_some() {
            top("TxProfile")
        } else {
            None
        };
        let session = tx.or_else(|| top("TxDefaultProfile"));
        match (top("max"), session) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    fn set_profile(&mut self, p: &Value) -> &'static str {
        let v201 = self.version == OcppVersion::V201;
        let (evse, prof) = if v201 {
            (p["evseId"].as_i64().unwrap_or(0), &p["chargingProfile"])
        } else {
            (
                p["connectorId"].as_i64().unwrap_or(0),
                &p["csChargingProfiles"],
            )
        };
        let schedule = if v201 {
            &prof["chargingSchedule"][0]
        } else {
            &prof["chargingSchedule"]
        };
        let period = &schedule["chargingSchedulePeriod"][0];
        let limit = period["limit"].as_f64().unwrap_or(0.0);
        let phases = period["numberPhases"].as_f64().unwrap_or(3.0).max(1.0);
        let limit_a = if schedule["chargingRateUnit"] == "W" {
            limit / 230.0 / phases
        } else {
            limit
        };
        let id = prof[if v201 { "id" } else { "chargingProfileId" }]
            .as_i64()
            .unwrap_or(0);
        let purpose = prof["chargingProfilePurpose"]
            .as_str()
            .unwrap_or("")
            .to_string();
        let stack = prof["stackLevel"].as_i64().unwrap_or(0);
        if purpose == "TxProfile" && self.transaction.is_none() {
            return "Rejected";
        }
        // The same id replaces; the same purpose and stack level with another id is refused.
        if self
            .profiles
            .iter()
            .any(|x| x.id != id && x.purpose == purpose && x.stack == stack && x.evse == evse)
        {
            return "Rejected";
        }
        if purpose == "TxProfile"
            && let Some(t) = self.start_sent.take()
        {
            self.profile_latencies_us
                .push(t.elapsed().as_micros().min(u128::from(u32::MAX)) as u32);
        }
        self.profiles.retain(|x| x.id != id);
        self.profiles.push(Profile {
            id,
            purpose,
            stack,
            evse,
            limit_a,
        });
        "Accepted"
    }

    fn clear_profile(&mut self, p: &Value) -> &'static str {
        let v201 = self.version == OcppVersion::V201;
        let id = p[if v201 { "chargingProfileId" } else { "id" }].as_i64();
        let c = if v201 {
            &p["chargingProfileCriteria"]
        } else {
            p
        };
        let evse = c[if v201 { "evseId" } else { "connectorId" }].as_i64();
        let purpose = c["chargingProfilePurpose"].as_str();
        let stack = c["stackLevel"].as_i64();
        let before = self.profiles.len();
        self.profiles.retain(|x| {
            let hit = id.is_none_or(|i| i == x.id)
                && evse.is_none_or(|e| e == x.evse)
                && purpose.is_none_or(|q| q == x.purpose)
                && stack.is_none_or(|s| s == x.stack);
            !hit
        });
        if self.profiles.len() < before {
            "Accepted"
        } else {
            "Unknown"
        }
    }

    fn composite(&self, p: &Value) -> Value {
        let v201 = self.version == OcppVersion::V201;
        let evse = p[if v201 { "evseId" } else { "connectorId" }]
            .as_i64()
            .unwrap_or(0);
        let duration = p["duration"].as_i64().unwrap_or(0);
        let limit = self.limit_a().unwrap_or(32.0);
        let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let periods = json!([{"startPeriod": 0, "limit": (limit * 10.0).floor() / 10.0}]);
        if v201 {
            json!({"status": "Accepted", "schedule": {"evseId": evse, "duration": duration, "scheduleStart": now,
                "chargingRateUnit": "A", "chargingSchedulePeriod": periods}})
        } else {
            json!({"status": "Accepted", "connectorId": evse, "scheduleStart": now,
                "chargingSchedule": {"duration": duration, "chargingRateUnit": "A", "chargingSchedulePeriod": periods}})
        }
    }

    /// The heartbeat interval the CSMS set, in seconds.
    pub fn heartbeat_s(&self) -> Option<u64> {
        let key = match self.version {
            OcppVersion::V16 => "HeartbeatInterval",
            OcppVersion::V201 => "OCPPCommCtrlr.HeartbeatInterval",
        };
        self.config.get(key).and_then(|(v, _)| v.parse().ok())
    }

    /// Answers a call of the CSMS.
    pub fn answer(&mut self, action: &str, p: &Value) -> Result<Value, (String, String)> {
        use cpms_ocpp::Direction;
        if !matches!(
            cpms_ocpp::direction(self.version, action),
            Some(Direction::CsmsToCharger | Direction::Both)
        ) {
            return Err((
                "NotImplemented".into(),
                format!("{action:.60} is not a call a CSMS makes"),
            ));
        }
        self.answered += 1;
        let ok = |s: &str| json!({"status": s});
        let busy = self.transaction.is_some();
        let v201 = self.version == OcppVersion::V201;
        let answer = match action {
            "Reset" => {
                let kind = p["type"].as_str().unwrap_or("Soft");
                let when_idle = kind == "OnIdle";
                if when_idle && busy {
                    ok("Scheduled")
                } else {
                    self.requests.push(Request::Reboot(match (v201, kind) {
                        (false, "Hard") => "HardReset",
                        (false, _) => "SoftReset",
                        (true, _) => "ImmediateReset",
                    }));
                    ok("Accepted")
                }
            }
            "RemoteStartTransaction" | "RequestStartTransaction" => {
                if busy || !self.available {
                    ok("Rejected")
                } else {
                    let id_tag = if v201 {
                        &p["idToken"]["idToken"]
                    } else {
                        &p["idTag"]
                    };
                    self.requests.push(Request::Start {
                        id_tag: id_tag.as_str().unwrap_or("").to_string(),
                        remote_start_id: p["remoteStartId"].as_i64(),
                    });
                    ok("Accepted")
                }
            }
            "RemoteStopTransaction" | "RequestStopTransaction" => {
                let asked = match &p["transactionId"] {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                if self.transaction.as_deref() == Some(asked.as_str()) {
                    self.requests.push(Request::Stop("Remote"));
                    ok("Accepted")
                } else {
                    ok("Rejected")
                }
            }
            "UnlockConnector" => {
                if busy {
                    self.requests.push(Request::Stop("UnlockCommand"));
                }
                ok("Unlocked")
            }
            "ChangeAvailability" => {
                let operative = if v201 {
                    p["operationalStatus"] == "Operative"
                } else {
                    p["type"] == "Operative"
                };
                if busy && !operative {
                    ok("Scheduled")
                } else {
                    self.available = operative;
                    self.requests.push(Request::Status);
                    ok("Accepted")
                }
            }
            "GetConfiguration" => self.get_configuration(p),
            "ChangeConfiguration" => {
                let key = p["key"].as_str().unwrap_or("");
                let value = p["value"].as_str().unwrap_or("");
                ok(self.set(key, value))
            }
            "GetVariables" => self.get_variables(p),
            "SetVariables" => self.set_variables(p),
            "TriggerMessage" => {
                let m = p["requestedMessage"].as_str().unwrap_or("");
                let known = [
                    "BootNotification",
                    "Heartbeat",
                    "StatusNotification",
                    "MeterValues",
                    "TransactionEvent",
                    "DiagnosticsStatusNotification",
                    "FirmwareStatusNotification",
                    "LogStatusNotification",
                ];
                if known.contains(&m) {
                    self.requests.push(Request::Send(m.to_string()));
                    ok("Accepted")
                } else {
                    ok("NotImplemented")
                }
            }
            "ClearCache" => ok("Accepted"),
            "DataTransfer" => ok("UnknownVendorId"),
            "GetLocalListVersion" => {
                if v201 {
                    json!({"versionNumber": self.local_list_version})
                } else {
                    json!({"listVersion": self.local_list_version})
                }
            }
            "SendLocalList" => {
                self.local_list_version = p[if v201 { "versionNumber" } else { "listVersion" }]
                    .as_i64()
                    .unwrap_or(self.local_list_version);
                ok("Accepted")
            }
            "ReserveNow" => {
                if busy || !self.available {
                    ok("Occupied")
                } else {
                    self.reservation = p[if v201 { "id" } else { "reservationId" }].as_i64();
                    ok("Accepted")
                }
            }
            "CancelReservation" => {
                if self.reservation.is_some() && self.reservation == p["reservationId"].as_i64() {
                    self.reservation = None;
                    ok("Accepted")
                } else {
                    ok("Rejected")
                }
            }
            "UpdateFirmware" if !v201 => json!({}),
            "UpdateFirmware" => ok("Accepted"),
            "GetDiagnostics" => json!({"fileName": "simulator-diagnostics.log"}),
            "GetLog" => json!({"status": "Accepted", "filename": "simulator.log"}),
            "SetChargingProfile" => ok(self.set_profile(p)),
            "ClearChargingProfile" => ok(self.clear_profile(p)),
            "GetCompositeSchedule" => self.composite(p),
            "CostUpdated" => json!({}),
            "GetTransactionStatus" => {
                json!({"messagesInQueue": false, "ongoingIndicator": busy})
            }
            _ => decline(self.version, action),
        };
        Ok(answer)
    }

    fn set(&mut self, key: &str, value: &str) -> &'static str {
        if key.eq_ignore_ascii_case("AuthorizationKey") || key == "SecurityCtrlr.BasicAuthPassword"
        {
            // Used from the next connection, as real chargers do.
            self.password = Some(value.to_string());
            return "Accepted";
        }
        match self.config.get_mut(key) {
            None => {
                if self.version == OcppVersion::V16 {
                    "NotSupported"
                } else {
                    "UnknownVariable"
                }
            }
            Some((_, true)) => "Rejected",
            Some((v, false)) => {
                *v = value.to_string();
                "Accepted"
            }
        }
    }

    fn get_configuration(&self, p: &Value) -> Value {
        let wanted: Vec<String> = p["key"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|k| k.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        let entry =
            |k: &str, (v, ro): &(String, bool)| json!({"key": k, "readonly": ro, "value": v});
        if wanted.is_empty() {
            let all: Vec<Value> = self.config.iter().map(|(k, v)| entry(k, v)).collect();
            return json!({"configurationKey": all});
        }
        let (known, unknown): (Vec<&String>, Vec<&String>) =
            wanted.iter().partition(|k| self.config.contains_key(*k));
        let mut out = Map::new();
        if !known.is_empty() {
            out.insert(
                "configurationKey".into(),
                Value::Array(known.iter().map(|k| entry(k, &self.config[*k])).collect()),
            );
        }
        if !unknown.is_empty() {
            out.insert("unknownKey".into(), json!(unknown));
        }
        Value::Object(out)
    }

    fn key_of(d: &Value) -> String {
        format!(
            "{}.{}",
            d["component"]["name"].as_str().unwrap_or(""),
            d["variable"]["name"].as_str().unwrap_or("")
        )
    }

    fn get_variables(&self, p: &Value) -> Value {
        let results: Vec<Value> = p["getVariableData"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|d| {
                let key = Self::key_of(d);
                let mut r = json!({"component": d["component"], "variable": d["variable"]});
                match self.config.get(&key) {
                    Some((v, _)) => {
                        r["attributeStatus"] = json!("Accepted");
                        r["attributeValue"] = json!(v);
                    }
                    None if key == "SecurityCtrlr.BasicAuthPassword" => {
                        r["attributeStatus"] = json!("Rejected"); // write-only
                    }
                    None => r["attributeStatus"] = json!("UnknownVariable"),
                }
                r
            })
            .collect();
        json!({"getVariableResult": results})
    }

    fn set_variables(&mut self, p: &Value) -> Value {
        let data: Vec<Value> = p["setVariableData"].as_array().cloned().unwrap_or_default();
        let results: Vec<Value> = data
            .iter()
            .map(|d| {
                let key = Self::key_of(d);
                let status = self.set(&key, d["attributeValue"].as_str().unwrap_or(""));
                json!({"component": d["component"], "variable": d["variable"], "attributeStatus": status})
            })
            .collect();
        json!({"setVariableResult": results})
    }
}

/// A valid answer that declines `action`: the smallest payload its response schema allows, with every
/// status the least committal value it offers.
pub fn decline(version: OcppVersion, action: &str) -> Value {
    cpms_ocpp::schema(version, action, true).map_or(json!({}), minimal)
}

const DECLINING: [&str; 6] = [
    "Rejected",
    "NotSupported",
    "NotImplemented",
    "Unknown",
    "Failed",
    "UnknownVendorId",
];

/// The smallest value `schema` allows (required properties only).
pub fn minimal(schema: &Schema) -> Value {
    match schema {
        Schema::Any => json!({}),
        Schema::Boolean => json!(false),
        Schema::Integer { min, .. } => json!(min.unwrap_or(0.0).max(0.0) as i64),
        Schema::Number { min, .. } => json!(min.unwrap_or(0.0).max(0.0)),
        Schema::String { .. } => json!("sim"),
        Schema::DateTime => json!("2026-01-01T00:00:00Z"),
        Schema::Enum(values) => {
            let pick = DECLINING
                .iter()
                .find(|d| values.contains(d))
                .copied()
                .or_else(|| values.first().copied())
                .unwrap_or("");
            json!(pick)
        }
        Schema::Array {
            items, min_items, ..
        } => Value::Array(
            (0..min_items.unwrap_or(0))
                .map(|_| minimal(items))
                .collect(),
        ),
        Schema::Object(o) => Value::Object(
            o.props
                .iter()
                .filter(|p| p.required)
                .map(|p| (p.name.to_string(), minimal(p.schema)))
                .collect(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use cpms_ocpp::Direction;

    use super::*;

    #[test]
    fn every_call_of_a_csms_gets_an_answer_its_schema_accepts() {
        for version in [OcppVersion::V16, OcppVersion::V201] {
            for (action, dir) in cpms_ocpp::actions(version) {
                if *dir == Direction::ChargerToCsms {
                    continue;
                }
                let request = minimal(cpms_ocpp::schema(version, action, false).unwrap());
                for busy in [false, true] {
                    let mut d = Device::new(version, None, 300);
                    if busy {
                        d.transaction = Some("1".into());
                    }
                    let mut answer = d.answer(action, &request).unwrap();
                    let schema = cpms_ocpp::schema(version, action, true).unwrap();
                    if let Err(v) = cpms_ocpp::schema::validate(&mut answer, schema) {
                        panic!("{version} {action}: {answer} breaks its schema: {v}");
                    }
                }
            }
        }
    }

    #[test]
    fn commands_change_the_charger() {
        let mut d = Device::new(OcppVersion::V16, Some("old".into()), 300);
        d.answer("RemoteStartTransaction", &json!({"idTag": "T1"}))
            .unwrap();
        assert_eq!(
            d.requests,
            [Request::Start {
                id_tag: "T1".into(),
                remote_start_id: None
            }]
        );
        d.transaction = Some("42".into());
        assert_eq!(
            d.answer("RemoteStopTransaction", &json!({"transactionId": 42}))
                .unwrap()["status"],
            "Accepted"
        );
        assert_eq!(
            d.answer(
                "ChangeConfiguration",
                &json!({"key": "AuthorizationKey", "value": "00AA00AA00AA00AA"})
            )
            .unwrap()["status"],
            "Accepted"
        );
        assert_eq!(d.password.as_deref(), Some("00AA00AA00AA00AA"));
        let r = d
            .answer(
                "GetConfiguration",
                &json!({"key": ["HeartbeatInterval", "Nope"]}),
            )
            .unwrap();
        assert_eq!(r["configurationKey"][0]["value"], "300");
        assert_eq!(r["unknownKey"], json!(["Nope"]));
        d.answer("Reset", &json!({"type": "Hard"})).unwrap();
        assert_eq!(d.requests.last(), Some(&Request::Reboot("HardReset")));
        assert!(
            d.answer("Heartbeat", &json!({})).is_err(),
            "not a CSMS call"
        );
    }
}
