//! `/v1/chargers/{id}/commands` and `/v1/commands`: commands to chargers. `POST` answers `202` with the
//! command as queued or sent; `?wait=N` (on `POST` and on `GET /v1/commands/{id}`) waits up to N
//! seconds (at most 25, under API Gateway's 29 s limit) for it to end.

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use cpms_domain::command::{CallErrorInfo, Command, CommandRequest, CommandState};
use cpms_domain::ids::time_ordered_prefix;
use cpms_ports::Documents;
use cpms_ports::records::{COMMANDS_OF_CHARGER, commands_of};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::auth::Principal;
use super::extract::{Body, Id, Params};
use super::views::List;
use super::{ApiState, Problem, audit};
use crate::{DEFAULT_TIMEOUT_S, SubmitError};

/// Longest `wait`.
pub const MAX_WAIT_S: u64 = 25;

/// Query of `POST /v1/chargers/{id}/commands`.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct SendParams {
    /// Seconds the charger has to answer once the call is sent (5 to 300, default 30).
    timeout_s: Option<u32>,
    /// Seconds to wait for the command to end before answering (0 to 25, default 0).
    wait: Option<u64>,
}

/// Query of `GET /v1/commands/{id}`.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct WaitParams {
    /// Seconds to wait for the command to end (0 to 25, default 0).
    wait: Option<u64>,
}

/// Query of `GET /v1/commands`.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CommandQuery {
    /// Only this charger's commands.
    charger_id: Option<String>,
    /// Only commands in this state (`queued`, `sent`, `answered`, `error`, `timed_out`, `failed`).
    state: Option<CommandState>,
    /// Only commands created at or after this time.
    from: Option<DateTime<Utc>>,
    /// Only commands created before this time.
    to: Option<DateTime<Utc>>,
    limit: Option<usize>,
    cursor: Option<String>,
}

/// A command and what came of it.
#[derive(Serialize, JsonSchema)]
pub(crate) struct CommandView {
    id: String,
    charger_id: String,
    /// The command as asked for.
    request: CommandRequest,
    /// The OCPP version and call it became.
    ocpp_version: String,
    action: String,
    payload: Value,
    state: CommandState,
    /// `status` of the charger's answer (`Accepted`, `Rejected`, ...).
    status: Option<String>,
    /// The charger's CALLRESULT payload.
    result: Option<Value>,
    /// The charger's CALLERROR.
    error: Option<CallErrorInfo>,
    /// Why it failed or timed out.
    reason: Option<String>,
    timeout_s: u32,
    created_by: String,
    created_at: DateTime<Utc>,
    sent_at: Option<DateTime<Utc>>,
    deadline: Option<DateTime<Utc>>,
    completed_at: Option<DateTime<Utc>>,
}

impl From<Command> for CommandView {
    fn from(mut c: Command) -> Self {
        c.redact_secrets();
        CommandView {
            id: c.id,
            charger_id: c.charger.to_string(),
            request: c.request,
            ocpp_version: c.ocpp_version.label().to_string(),
            action: c.action,
            payload: c.payload,
            state: c.state,
            status: c.status,
            result: c.result,
            error: c.error,
            reason: c.reason,
            timeout_s: c.timeout_s,
            created_by: c.created_by,
            created_at: c.created_at,
            sent_at: c.sent_at,
            deadline: c.deadline,
            completed_at: c.completed_at,
        }
    }
}

fn wait_of(wait: Option<u64>) -> Result<Duration, Problem> {
    match wait.unwrap_or(0) {
        w if w <= MAX_WAIT_S => Ok(Duration::from_secs(w)),
        _ => Err(Problem::bad_request(format!(
            "wait must be 0 to {MAX_WAIT_S} seconds"
        ))),
    }
}

/// Reads the command until it ends or `wait` passes (polling: the answer may arrive in another process).
async fn settle(
    st: &ApiState,
    p: &Principal,
    id: &str,
    wait: Duration,
) -> Result<Command, Problem> {
    let started = tokio::time::Instant::now();
    let mut pause = Duration::from_millis(20);
    loop {
        let c = st
            .csms
            .command(&p.tenant, id)
            .await?
            .ok_or_else(|| Problem::not_found(format!("no command {id:?}")))?;
        let left = wait.saturating_sub(started.elapsed());
        if !c.state.is_open() || left.is_zero() {
            return Ok(c);
        }
        tokio::time::sleep(pause.min(left)).await;
        pause = (pause * 2).min(Duration::from_millis(250));
    }
}

pub(crate) async fn send(
    State(st): State<ApiState>,
    p: Principal,
    Id(charger): Id,
    Params(q): Params<SendParams>,
    Body(req): Body<CommandRequest>,
) -> Result<(StatusCode, Json<CommandView>), Problem> {
    let timeout = q.timeout_s.unwrap_or(DEFAULT_TIMEOUT_S);
    if !(5..=300).contains(&timeout) {
        return Err(Problem::bad_request("timeout_s must be 5 to 300 seconds"));
    }
    let wait = wait_of(q.wait)?;
    let name = req.name();
    let c = st
        .csms
        .submit_command(&p.tenant, &charger, req, timeout, &p.actor())
        .await
        .map_err(|e| match e {
            SubmitError::UnknownCharger(_) => Problem::not_found(e.to_string()),
            SubmitError::Offline(_) => {
                Problem::new(StatusCode::CONFLICT, "charger-offline", e.to_string())
            }
            SubmitError::Invalid(_) => Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid-command",
                e.to_string(),
            ),
            SubmitError::QueueFull(_) => {
                Problem::new(StatusCode::TOO_MANY_REQUESTS, "queue-full", e.to_string())
            }
            SubmitError::Store(s) => s.into(),
        })?;
    audit(
        &st,
        &p,
        &p.tenant,
        "command.send",
        format!("chargers/{charger}"),
        json!({"command_id": c.id, "type": name, "action": c.action}),
    )
    .await;
    let c = if wait.is_zero() {
        c
    } else {
        settle(&st, &p, &c.id, wait).await?
    };
    Ok((StatusCode::ACCEPTED, Json(c.into())))
}

pub(crate) async fn get(
    State(st): State<ApiState>,
    p: Principal,
    Id(id): Id,
    Params(q): Params<WaitParams>,
) -> Result<Json<CommandView>, Problem> {
    let wait = wait_of(q.wait)?;
    Ok(Json(settle(&st, &p, &id, wait).await?.into()))
}

pub(crate) async fn list(
    State(st): State<ApiState>,
    p: Principal,
    Params(q): Params<CommandQuery>,
) -> Result<Json<List<CommandView>>, Problem> {
    let page = super::extract::PageQuery {
        limit: q.limit,
        cursor: q.cursor,
    }
    .page()?;
    let base = match &q.charger_id {
        Some(c) => Documents::<Command>::by_index(COMMANDS_OF_CHARGER, commands_of(c), page),
        None => Documents::<Command>::by_id(page),
    };
    let query = base
        .range(
            q.from.map(time_ordered_prefix),
            q.to.map(time_ordered_prefix),
        )
        .descending();
    let found = st
        .csms
        .records::<Command>()
        .query(&p.tenant, &query)
        .await?;
    let items = found
        .items
        .into_iter()
        .map(|c| c.value)
        .filter(|c| q.state.is_none_or(|s| s == c.state))
        .map(CommandView::from)
        .collect();
    Ok(Json(List {
        items,
        next_cursor: found.next,
    }))
}
