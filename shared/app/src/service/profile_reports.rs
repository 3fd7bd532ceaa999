//! The ReportChargingProfiles that follow a 2.0.1 GetChargingProfiles: each is added to the result of
//! the command that asked (found by its requestId among the charger's recent commands), so the operator
//! reads the whole answer in one place. Bounded: at most [`MAX_REPORTS`] reports per command.

use cpms_domain::ChargerId;
use cpms_domain::TenantId;
use cpms_domain::command::Command;
use cpms_ports::records::{COMMANDS_OF_CHARGER, commands_of};
use cpms_ports::{Documents, Expected, PageRequest, StoreError};
use serde_json::{Value, json};

use super::{RETRIES, backoff};
use crate::Csms;

/// Most reports kept per command (a charger that keeps sending is cut off there).
pub const MAX_REPORTS: usize = 256;
/// How many of the charger's newest commands are searched for the one that asked.
const SEARCH: usize = 50;

/// What became of a report.
#[derive(Debug, PartialEq, Eq)]
pub enum Collected {
    /// Added to the command's result.
    Added,
    /// No recent GetChargingProfiles of this charger has that requestId.
    NoCommand,
    /// The command has [`MAX_REPORTS`] already.
    Full,
}

impl Csms {
    /// Adds one ReportChargingProfiles payload to the GetChargingProfiles command with `request_id`.
    pub(crate) async fn collect_profile_report(
        &self,
        tenant: &TenantId,
        charger: &ChargerId,
        request_id: i64,
        report: &Value,
    ) -> Result<Collected, StoreError> {
        let docs: Documents<Command> = self.records();
        for attempt in 0..RETRIES {
            backoff(attempt).await;
            let Some(listed) = self
                .recent_commands(tenant, charger)
                .await?
                .into_iter()
                .find(|c| {
                    c.value.action == "GetChargingProfiles"
                        && c.value.payload.get("requestId").and_then(Value::as_i64)
                            == Some(request_id)
                })
            else {
                return Ok(Collected::NoCommand);
            };
            let Some(mut cmd) = docs.get(tenant, &listed.value.id).await? else {
                return Ok(Collected::NoCommand);
            };
            let result = cmd
                .value
                .result
                .get_or_insert_with(|| json!({"status": "Accepted"}));
            if !result.is_object() {
                *result = json!({"answer": result.clone()});
            }
            let obj = result.as_object_mut().expect("an object");
            let reports = obj
                .entry("reports")
                .or_insert_with(|| Value::Array(Vec::new()));
            let Some(list) = reports.as_array_mut() else {
                return Ok(Collected::Full);
            };
            if list.len() >= MAX_REPORTS {
                return Ok(Collected::Full);
            }
            list.push(report.clone());
            let more = report.get("tbc").and_then(Value::as_bool).unwrap_or(false);
            obj.insert("reports_complete".into(), Value::Bool(!more));
            match docs.put(&cmd.value, Expected::Version(cmd.version)).await {
                Ok(_) => return Ok(Collected::Added),
                Err(StoreError::Conflict) => continue,
                Err(e) => return Err(e),
            }
        }
        Err(StoreError::Conflict)
    }
}

impl Csms {
    /// The charger's newest commands (at most [`SEARCH`]), newest first.
    async fn recent_commands(
        &self,
        tenant: &TenantId,
        charger: &ChargerId,
    ) -> Result<Vec<cpms_ports::Versioned<Command>>, StoreError> {
        let q = Documents::<Command>::by_index(
            COMMANDS_OF_CHARGER,
            commands_of(charger.as_str()),
            PageRequest::first(SEARCH),
        )
        .descending();
        Ok(self.records::<Command>().query(tenant, &q).await?.items)
    }

    /// The result of the charger's newest answered GetChargingProfiles or GetCompositeSchedule (what it
    /// last said about its profiles), with the command's id and time.
    pub(crate) async fn last_profile_report(
        &self,
        tenant: &TenantId,
        charger: &ChargerId,
    ) -> Result<Option<Value>, StoreError> {
        Ok(self
            .recent_commands(tenant, charger)
            .await?
            .into_iter()
            .find(|c| {
                matches!(
                    c.value.action.as_str(),
                    "GetChargingProfiles" | "GetCompositeSchedule"
                ) && c.value.result.is_some()
            })
            .map(|c| {
                json!({
                    "command_id": c.value.id,
                    "action": c.value.action,
                    "at": c.value.completed_at,
                    "result": c.value.result,
                })
            }))
    }
}
