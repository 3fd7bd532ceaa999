//! Commands a partner sends to our chargers (OCPI Commands, the CPO as receiver): each is mapped onto
//! the charger command path the operator API uses, through [`ChargerCommands`] (the application
//! implements it), answered at once with whether it was taken, and its outcome POSTed to the
//! partner's `response_url` when the charger answered or the command timed out: the command's end
//! (`command.ended.v1`) queues the result as a push, so it is retried like any other and survives a
//! restart.

use async_trait::async_trait;
use cpms_domain::TenantId;
use cpms_domain::command::{Command, CommandRequest, CommandState};
use cpms_domain::roaming::{Published, PushAction};
use cpms_ocpi::commands::{CommandResult, CommandResultType};
use cpms_ports::Expected;
use serde_json::{Value, json};

use crate::{Roaming, RoamingError};

/// Commands sent for a partner are made by `ocpi:{partner id}`.
pub const ACTOR_PREFIX: &str = "ocpi:";

/// The module the results are kept and queued under.
pub const COMMANDS: &str = "commands";

/// How long a charger has to answer a partner's command, s (the `timeout` of the answer).
pub const TIMEOUT_S: u32 = 30;

/// Why a command was not taken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refused {
    /// The charger is not connected.
    Offline,
    /// Anything else (unknown charger, a request the charger's version cannot carry, a full queue).
    Other(String),
}

/// The charger command path.
#[async_trait]
pub trait ChargerCommands: Send + Sync {
    /// Sends `request` to `charger` of `tenant` as `actor`; the command's id.
    async fn submit(
        &self,
        tenant: &TenantId,
        charger: &str,
        request: CommandRequest,
        timeout_s: u32,
        actor: &str,
    ) -> Result<String, Refused>;
}

/// What a command's end is to the partner.
pub fn result_of(c: &Command) -> CommandResultType {
    let status = c.status.as_deref().unwrap_or("");
    match c.state {
        CommandState::Answered => match status {
            "Accepted" | "Unlocked" | "OngoingAuthorizedTransaction" => CommandResultType::Accepted,
            "Occupied" => CommandResultType::EvseOccupied,
            "Unavailable" | "Faulted" => CommandResultType::EvseInoperative,
            "UnlockFailed" | "UnknownConnector" => CommandResultType::Failed,
            "NotSupported" | "UnlockCommandNotSupported" => CommandResultType::NotSupported,
            _ => CommandResultType::Rejected,
        },
        CommandState::TimedOut => CommandResultType::Timeout,
        CommandState::Error | CommandState::Failed => CommandResultType::Failed,
        CommandState::Queued | CommandState::Sent => CommandResultType::Failed,
    }
}

impl Roaming {
    /// Keeps where a partner's command's result goes, once it is sent.
    pub(crate) async fn remember_command(
        &self,
        tenant: &TenantId,
        partner: &str,
        command_id: &str,
        kind: &str,
        response_url: &str,
    ) -> Result<(), RoamingError> {
        let rec = Published {
            tenant: tenant.clone(),
            module: COMMANDS.into(),
            object_id: command_id.to_string(),
            audience: Some(partner.to_string()),
            body: json!({"type": kind, "response_url": response_url, "result": Value::Null}),
            last_updated: self.now(),
            members: Vec::new(),
        };
        self.records::<Published>()
            .put(&rec, Expected::Absent)
            .await?;
        Ok(())
    }

    /// A partner's command ended: its result is queued for the partner's `response_url`.
    pub(crate) async fn command_ended(
        &self,
        tenant: &TenantId,
        command_id: &str,
    ) -> Result<Vec<String>, RoamingError> {
        let docs = self.records::<Published>();
        let Some(read) = docs
            .get(tenant, &Published::key(COMMANDS, command_id))
            .await?
        else {
            return Ok(Vec::new());
        };
        if !read.value.body["result"].is_null() {
            return Ok(Vec::new()); // seen already
        }
        let Some(cmd) = self.records::<Command>().get(tenant, command_id).await? else {
            return Ok(Vec::new());
        };
        let result = CommandResult {
            result: result_of(&cmd.value),
            message: None,
        };
        let mut rec = read.value.clone();
        rec.body["result"] = serde_json::to_value(&result).unwrap_or_default();
        rec.last_updated = self.now();
        docs.put(&rec, Expected::Version(read.version)).await?;
        let Some(partner) = rec.audience.clone() else {
            return Ok(Vec::new());
        };
        self.enqueue(tenant, &partner, COMMANDS, command_id, PushAction::Post)
            .await?;
        Ok(vec![partner])
    }
}
