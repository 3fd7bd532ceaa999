//! The outbound path (everything the CSMS sends to chargers): a command is stored queued, then the
//! charger's lane is "pumped": when no CALL is in flight, the oldest queued command becomes the one in
//! flight (lane and command written in one all-or-nothing batch, so two pumps racing cannot both send),
//! and its CALL goes out through the gateway. The charger's CALLRESULT or CALLERROR, a timeout, or a
//! disconnect ends it, and the pump moves on to the next.
//!
//! Nothing lives in memory: on AWS any Lambda invocation may pump, answer or time out a command.

use chrono::{DateTime, Utc};
use cpms_domain::command::{
    CallErrorInfo, Command, CommandRequest, CommandState, InFlight, OutboundLane,
};
use cpms_domain::ids::time_ordered_id;
use cpms_domain::{ChargerId, TenantId};
use cpms_ocpp::{Direction, frame};
use cpms_ports::records::{COMMAND_QUEUE, IN_FLIGHT, LANES_IN_FLIGHT, TenantRecord, queue_of};
use cpms_ports::{
    ConnectionInfo, Documents, Expected, GatewayError, PageRequest, StoreError, Versioned,
};
use serde_json::Value;

use super::{RETRIES, backoff};
use crate::Csms;

/// Most open commands per charger.
pub const MAX_QUEUE: usize = 20;
/// Default seconds a charger has to answer.
pub const DEFAULT_TIMEOUT_S: u32 = 30;

/// Why a command was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum SubmitError {
    /// No such charger in the tenant.
    #[error("no charger {0:?}")]
    UnknownCharger(String),
    /// The charger has no live connection.
    #[error("charger {0} is offline: commands are only sent to connected chargers")]
    Offline(String),
    /// The command cannot be expressed for the charger's version, or its payload breaks the schema.
    #[error("{0}")]
    Invalid(String),
    /// Too many open commands for the charger.
    #[error("charger {0} already has {MAX_QUEUE} open commands; wait for them to end")]
    QueueFull(String),
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Csms {
    fn commands(&self) -> Documents<Command> {
        self.records()
    }

    fn lanes(&self) -> Documents<OutboundLane> {
        self.records()
    }

    /// Accepts a command for a charger of `tenant` and starts sending it; returns it as stored now.
    pub async fn submit_command(
        &self,
        tenant: &TenantId,
        charger: &str,
        request: CommandRequest,
        timeout_s: u32,
        actor: &str,
    ) -> Result<Command, SubmitError> {
        let unknown = || SubmitError::UnknownCharger(charger.to_string());
        let id = ChargerId::new(charger).map_err(|_| unknown())?;
        let c = match self.ports.chargers.get(&id).await? {
            Some(c) if &c.value.tenant == tenant => c.value,
            _ => return Err(unknown()),
        };
        let conn = self
            .live_connection(&c)
            .await?
            .ok_or_else(|| SubmitError::Offline(c.id.to_string()))?;
        let now = self.now();
        let command_id = time_ordered_id(now, rand::random());
        let request_id = rand::random_range(1..i32::MAX);
        let mut request = request;
        if let CommandRequest::RotatePassword { password } = &mut request
            && password.is_none()
        {
            *password = Some(cpms_domain::credentials::generate_password(rand::random()));
        }
        let (action, mut payload) =
            cpms_domain::command::to_ocpp(&request, conn.version, request_id)
                .map_err(|e| SubmitError::Invalid(e.to_string()))?;
        let version = conn.version;
        match cpms_ocpp::direction(version, &action) {
            Some(Direction::CsmsToCharger | Direction::Both) => {}
            Some(Direction::ChargerToCsms) => {
                return Err(SubmitError::Invalid(format!(
                    "{action} is sent by chargers, not to them"
                )));
            }
            None => {
                return Err(SubmitError::Invalid(format!(
                    "{action:.60} is not an OCPP {version} action"
                )));
            }
        }
        let schema = cpms_ocpp::schema(version, &action, false)
            .ok_or_else(|| SubmitError::Invalid(format!("no schema for {action}")))?;
        cpms_ocpp::schema::validate(&mut payload, schema).map_err(|v| {
            SubmitError::Invalid(format!(
                "{action} payload breaks the OCPP {version} schema: {v}"
            ))
        })?;
        let open = self.queue_listing(tenant, &c.id).await?;
        if open.iter().filter(|x| x.value.state.is_open()).count() >= MAX_QUEUE {
            return Err(SubmitError::QueueFull(c.id.to_string()));
        }
        let command = Command {
            tenant: tenant.clone(),
            id: command_id.clone(),
            charger: c.id.clone(),
            request,
            ocpp_version: version,
            action,
            payload,
            state: CommandState::Queued,
            timeout_s,
            created_by: actor.to_string(),
            created_at: now,
            sent_at: None,
            deadline: None,
            completed_at: None,
            result: None,
            status: None,
            error: None,
            reason: None,
        };
        self.before_sending(&command).await?;
        // Nothing ahead of it: queued and sent in one write (one commit on the way to the charger).
        let idle = open.iter().all(|x| !x.value.state.is_open());
        if !(idle && self.send_at_once(&command, &conn).await?) {
            self.commands().put(&command, Expected::Absent).await?;
        }
        self.pump(tenant, &c.id).await?;
        Ok(self
            .commands()
            .get(tenant, &command_id)
            .await?
            .map_or(command, |v| v.value))
    }

    /// What a command needs recorded before it may be sent: a new password is kept as the charger's
    /// pending one (so the charger is let in with it once it applied it, answer or not); a remote start
    /// vouches for its token at that charger for a while.
    async fn before_sending(&self, command: &Command) -> Result<(), SubmitError> {
        let version = command.ocpp_version;
        if let Some(password) =
            cpms_domain::credentials::password_set_by(version, &command.action, &command.payload)
        {
            let hash = self.passwords.hash(password).await;
            let now = self.now();
            self.update_charger(&command.charger, |c| {
                c.password_sent(hash.clone(), &command.id, now);
                (true, ())
            })
            .await?;
        }
        if let CommandRequest::StartSession { id_token, .. } = &command.request {
            let grant = cpms_domain::token::RemoteStartGrant {
                tenant: command.tenant.clone(),
                charger: command.charger.to_string(),
                token: cpms_domain::token::token_key(id_token),
                command_id: command.id.clone(),
                expires_at: command.created_at
                    + cpms_domain::token::RemoteStartGrant::lifetime()
                    + chrono::Duration::seconds(i64::from(command.timeout_s)),
            };
            self.records::<cpms_domain::token::RemoteStartGrant>()
                .replace(&grant)
                .await?;
        }
        Ok(())
    }

    /// The charger answered a password change (or refused it with a CallError): its pending password
    /// becomes the current one, or is forgotten.
    async fn password_answered(&self, cmd: &Command) -> Result<(), StoreError> {
        let accepted = cmd.state == CommandState::Answered
            && cmd.result.as_ref().is_some_and(|r| {
                cpms_domain::credentials::password_change_accepted(cmd.ocpp_version, r)
            });
        let now = self.now();
        self.update_charger(&cmd.charger, |c| {
            (c.password_answered(&cmd.id, accepted, now), ())
        })
        .await?;
        let what = if accepted { "accepted" } else { "refused" };
        let _ = self
            .log_for(
                &cmd.tenant,
                &cmd.charger,
                cpms_domain::log::LogKind::Notification,
                format!("the charger {what} its new password"),
                serde_json::json!({"command_id": cmd.id, "status": cmd.status}),
            )
            .await;
        Ok(())
    }

    /// A command of `tenant`, with an overdue one timed out first.
    pub async fn command(
        &self,
        tenant: &TenantId,
        id: &str,
    ) -> Result<Option<Command>, StoreError> {
        let Some(c) = self.commands().get(tenant, id).await? else {
            return Ok(None);
        };
        if c.value.overdue(self.now()) {
            self.pump(tenant, &c.value.charger).await?;
            return Ok(self.commands().get(tenant, id).await?.map(|v| v.value));
        }
        Ok(Some(c.value))
    }

    /// The live connection of a charger, if any.
    pub(crate) async fn live_connection(
        &self,
        c: &cpms_domain::charger::Charger,
    ) -> Result<Option<ConnectionInfo>, StoreError> {
        let Some(conn) = &c.connection else {
            return Ok(None);
        };
        Ok(self
            .ports
            .registry
            .get(&conn.id)
            .await?
            .filter(|i| i.charger_id == c.id))
    }

    /// Sends the next command of a charger if none is in flight; times out an overdue one first.
    pub(crate) async fn pump(
        &self,
        tenant: &TenantId,
        charger: &ChargerId,
    ) -> Result<(), StoreError> {
        for attempt in 0..RETRIES {
            backoff(attempt).await;
            let now = self.now();
            let lane = self.lanes().get(tenant, charger.as_str()).await?;
            let expected_lane = Expected::from_read(&lane);
            let lane_value = lane.map(|l| l.value).unwrap_or_else(|| OutboundLane {
                tenant: tenant.clone(),
                charger: charger.clone(),
                in_flight: None,
            });
            if let Some(f) = &lane_value.in_flight {
                let cmd = self.commands().get(tenant, &f.command_id).await?;
                match cmd {
                    Some(c) if c.value.state == CommandState::Sent && !c.value.overdue(now) => {
                        return Ok(());
                    }
                    Some(mut c) if c.value.state == CommandState::Sent => {
                        let v = c.version;
                        c.value.timed_out(now);
                        match self
                            .end_in_flight(&lane_value, expected_lane, &c.value, v)
                            .await
                        {
                            Ok(()) | Err(StoreError::Conflict) => continue,
                            Err(e) => return Err(e),
                        }
                    }
                    _ => {
                        // The command ended another way (or vanished): free the lane.
                        let mut free = lane_value.clone();
                        free.in_flight = None;
                        match self.lanes().put(&free, expected_lane).await {
                            Ok(_) | Err(StoreError::Conflict) => continue,
                            Err(e) => return Err(e),
                        }
                    }
                }
            }
            let Some(next) = self.next_queued(tenant, charger).await? else {
                return Ok(());
            };
            let Some(c) = self.ports.chargers.get(charger).await? else {
                return Ok(());
            };
            let conn = match self.live_connection(&c.value).await? {
                Some(conn) => conn,
                None => {
                    self.fail_queued(
                        tenant,
                        charger,
                        "the charger went offline before it was sent",
                    )
                    .await?;
                    return Ok(());
                }
            };
            let mut cmd = next.value.clone();
            if cmd.ocpp_version != conn.version {
                let reason = format!(
                    "the charger reconnected with OCPP {} (the command was made for {})",
                    conn.version, cmd.ocpp_version
                );
                cmd.failed(reason, now);
                match self
                    .commands()
                    .put_with_events(&cmd, Expected::Version(next.version), end_events(&cmd))
                    .await
                {
                    Ok(_) => {
                        ended(&cmd);
                        continue;
                    }
                    Err(StoreError::Conflict) => continue,
                    Err(e) => return Err(e),
                }
            }
            let (busy, mut cmd) = claim(&lane_value, cmd, now);
            let batch = [
                Documents::write_of(&busy, expected_lane)?,
                Documents::write_of(&cmd, Expected::Version(next.version))?,
            ];
            match self.ports.docs.write(&batch).await {
                Ok(versions) => {
                    if self.send_claimed(&conn, &busy, &mut cmd, &versions).await? {
                        return Ok(());
                    }
                }
                Err(StoreError::Conflict) => continue,
                Err(e) => return Err(e),
            }
        }
        Err(StoreError::Conflict)
    }

    /// Sends a command whose lane write (`busy`, with the command as sent) just committed, at
    /// `versions` (lane, command). `false` when the gateway could not deliver it: the command is failed
    /// and the lane freed (or someone else moved them on), and the queue is to be looked at again.
    async fn send_claimed(
        &self,
        conn: &ConnectionInfo,
        busy: &OutboundLane,
        cmd: &mut Command,
        versions: &[u64],
    ) -> Result<bool, StoreError> {
        let frame = frame::call(&cmd.id, &cmd.action, &cmd.payload);
        match self.ports.gateway.send(&conn.connection_id, &frame).await {
            Ok(()) => {
                tracing::info!(
                    charger = %cmd.charger, command = %cmd.id, action = %cmd.action,
                    by = %cmd.created_by, "command sent"
                );
                Ok(true)
            }
            Err(e) => {
                let reason = match e {
                    GatewayError::Gone => "the charger's connection is gone".to_string(),
                    GatewayError::Unavailable(why) => {
                        format!("the gateway could not deliver the call: {why}")
                    }
                };
                cmd.failed(reason, self.now());
                let lane_v = Expected::Version(versions[0]);
                match self.end_in_flight(busy, lane_v, cmd, versions[1]).await {
                    Ok(()) | Err(StoreError::Conflict) => Ok(false),
                    Err(e) => Err(e),
                }
            }
        }
    }

    /// Claims a free lane for a new command and sends it. `false` (nothing written) when the lane is
    /// busy or changed meanwhile: the command then takes the queue.
    async fn send_at_once(
        &self,
        command: &Command,
        conn: &ConnectionInfo,
    ) -> Result<bool, StoreError> {
        let lane = self
            .lanes()
            .get(&command.tenant, command.charger.as_str())
            .await?;
        if lane.as_ref().is_some_and(|l| l.value.in_flight.is_some()) {
            return Ok(false);
        }
        let expected_lane = Expected::from_read(&lane);
        let free = lane.map(|l| l.value).unwrap_or_else(|| OutboundLane {
            tenant: command.tenant.clone(),
            charger: command.charger.clone(),
            in_flight: None,
        });
        let (busy, mut cmd) = claim(&free, command.clone(), self.now());
        let batch = [
            Documents::write_of(&busy, expected_lane)?,
            Documents::write_of(&cmd, Expected::Absent)?,
        ];
        match self.ports.docs.write(&batch).await {
            Ok(versions) => {
                // Not delivered: it is failed and the lane freed; the answer shows why.
                self.send_claimed(conn, &busy, &mut cmd, &versions).await?;
                Ok(true)
            }
            Err(StoreError::Conflict) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Writes an ended in-flight command and frees its lane, together.
    async fn end_in_flight(
        &self,
        lane: &OutboundLane,
        lane_expected: Expected,
        cmd: &Command,
        cmd_version: u64,
    ) -> Result<(), StoreError> {
        let mut free = lane.clone();
        free.in_flight = None;
        let mut ended_cmd = Documents::write_of(cmd, Expected::Version(cmd_version))?;
        ended_cmd.events.extend(end_events(cmd));
        let batch = [Documents::write_of(&free, lane_expected)?, ended_cmd];
        self.ports.docs.write(&batch).await?;
        ended(cmd);
        if cmd.created_by == super::smart_charging::ACTOR
            && let Err(e) = self.profile_outcome(cmd).await
        {
            tracing::warn!(command = %cmd.id, error = %e, "smart charging could not record a profile's outcome");
        }
        Ok(())
    }

    /// A charger's open commands as its queue index lists them, oldest first (the index may lag: read a
    /// command again before acting on it).
    async fn queue_listing(
        &self,
        tenant: &TenantId,
        charger: &ChargerId,
    ) -> Result<Vec<Versioned<Command>>, StoreError> {
        let q = Documents::<Command>::by_index(
            COMMAND_QUEUE,
            queue_of(charger.as_str()),
            PageRequest::first(MAX_QUEUE + 1),
        );
        Ok(self.commands().query(tenant, &q).await?.items)
    }

    /// The command the queue lists as `listed`, read again, if it is still queued.
    async fn still_queued(
        &self,
        tenant: &TenantId,
        listed: &Versioned<Command>,
    ) -> Result<Option<Versioned<Command>>, StoreError> {
        if listed.value.state != CommandState::Queued {
            return Ok(None);
        }
        let c = self.commands().get(tenant, &listed.value.id).await?;
        Ok(c.filter(|c| c.value.state == CommandState::Queued))
    }

    /// The oldest queued command of a charger.
    async fn next_queued(
        &self,
        tenant: &TenantId,
        charger: &ChargerId,
    ) -> Result<Option<Versioned<Command>>, StoreError> {
        for listed in self.queue_listing(tenant, charger).await? {
            if let Some(c) = self.still_queued(tenant, &listed).await? {
                return Ok(Some(c));
            }
        }
        Ok(None)
    }

    /// Fails every queued command of a charger (one listing, each command read and written once).
    async fn fail_queued(
        &self,
        tenant: &TenantId,
        charger: &ChargerId,
        reason: &str,
    ) -> Result<(), StoreError> {
        for listed in self.queue_listing(tenant, charger).await? {
            let Some(mut c) = self.still_queued(tenant, &listed).await? else {
                continue;
            };
            c.value.failed(reason, self.now());
            match self
                .commands()
                .put_with_events(&c.value, Expected::Version(c.version), end_events(&c.value))
                .await
            {
                Ok(_) => ended(&c.value),
                Err(StoreError::Conflict) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// The charger's lane, the call in flight on it and that call's command, when there is one.
    async fn in_flight(
        &self,
        tenant: &TenantId,
        charger: &ChargerId,
    ) -> Result<Option<(Versioned<OutboundLane>, InFlight, Versioned<Command>)>, StoreError> {
        let Some(lane) = self.lanes().get(tenant, charger.as_str()).await? else {
            return Ok(None);
        };
        let Some(f) = lane.value.in_flight.clone() else {
            return Ok(None);
        };
        let cmd = self.commands().get(tenant, &f.command_id).await?;
        Ok(cmd.map(|c| (lane, f, c)))
    }

    /// A CALLRESULT or CALLERROR from a charger: ends the command it answers and sends the next one.
    /// Returns false when it answers no call in flight (late, duplicated or unsolicited).
    pub(crate) async fn command_answered(
        &self,
        conn: &ConnectionInfo,
        message_id: &str,
        answer: Result<Value, CallErrorInfo>,
    ) -> Result<bool, StoreError> {
        let (tenant, charger) = (&conn.tenant, &conn.charger_id);
        for attempt in 0..RETRIES {
            backoff(attempt).await;
            let Some((lane, f, mut cmd)) = self.in_flight(tenant, charger).await? else {
                return Ok(false);
            };
            if f.command_id != message_id || cmd.value.state != CommandState::Sent {
                return Ok(false);
            }
            let now = self.now();
            match &answer {
                Ok(payload) => {
                    let mut payload = payload.clone();
                    let problem = cpms_ocpp::schema(conn.version, &f.action, true)
                        .and_then(|s| cpms_ocpp::schema::validate(&mut payload, s).err());
                    cmd.value.answered(payload, now);
                    if let Some(v) = problem {
                        cmd.value.reason = Some(format!(
                            "the charger's answer breaks the {} response schema: {v}",
                            f.action
                        ));
                    }
                }
                Err(e) => cmd.value.errored(e.clone(), now),
            }
            // (a redacted call still shows that it set the password)
            if cmd.value.sets_password() {
                self.password_answered(&cmd.value).await?;
            }
            match self
                .end_in_flight(
                    &lane.value,
                    Expected::Version(lane.version),
                    &cmd.value,
                    cmd.version,
                )
                .await
            {
                Ok(()) => {
                    self.pump(tenant, charger).await?;
                    return Ok(true);
                }
                Err(StoreError::Conflict) => continue,
                Err(e) => return Err(e),
            }
        }
        Err(StoreError::Conflict)
    }

    /// The charger is gone: the call in flight and the queued commands fail.
    pub(crate) async fn abandon_commands(
        &self,
        tenant: &TenantId,
        charger: &ChargerId,
        reason: &str,
    ) -> Result<(), StoreError> {
        for attempt in 0..RETRIES {
            backoff(attempt).await;
            let Some((lane, _, mut cmd)) = self.in_flight(tenant, charger).await? else {
                break;
            };
            if cmd.value.state == CommandState::Sent {
                cmd.value.failed(
                    format!("{reason} before answering (it may still have acted on the command)"),
                    self.now(),
                );
            }
            match self
                .end_in_flight(
                    &lane.value,
                    Expected::Version(lane.version),
                    &cmd.value,
                    cmd.version,
                )
                .await
            {
                Ok(()) => break,
                Err(StoreError::Conflict) => continue,
                Err(e) => return Err(e),
            }
        }
        self.fail_queued(tenant, charger, reason).await
    }

    /// Times out every call in flight of `tenant` whose deadline has passed (and sends what waits
    /// behind it). Run periodically: by a timer in `cpms serve`, by a schedule on AWS.
    pub async fn sweep_commands(
        &self,
        tenant: &TenantId,
        now: DateTime<Utc>,
    ) -> Result<usize, StoreError> {
        let due = now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let mut swept = 0;
        let mut page = PageRequest::first(100);
        loop {
            let q = Documents::<OutboundLane>::by_index(LANES_IN_FLIGHT, IN_FLIGHT, page.clone())
                .range(None, Some(due.clone()));
            let lanes = self.lanes().query(tenant, &q).await?;
            for l in &lanes.items {
                self.pump(tenant, &l.value.charger).await?;
                swept += 1;
            }
            match lanes.next {
                Some(next) => page.cursor = Some(next),
                None => return Ok(swept),
            }
        }
    }
}

impl Csms {
    /// Times out overdue calls of every tenant (the default one and those created through the API).
    pub async fn sweep_all_commands(&self) -> Result<usize, StoreError> {
        let now = self.now();
        let mut swept = 0;
        for t in self.all_tenants().await? {
            swept += self.sweep_commands(&t, now).await?;
        }
        Ok(swept)
    }

    /// Every tenant: the default one and those created through the API.
    pub async fn all_tenants(&self) -> Result<Vec<TenantId>, StoreError> {
        let mut out = vec![self.config.default_tenant.clone()];
        let tenants = self.records::<TenantRecord>();
        let platform = cpms_domain::access::platform_tenant();
        let mut page = PageRequest::first(100);
        loop {
            let found = tenants
                .query(&platform, &Documents::<TenantRecord>::by_id(page.clone()))
                .await?;
            out.extend(
                found
                    .items
                    .into_iter()
                    .map(|t| t.value.0.id)
                    .filter(|id| *id != self.config.default_tenant),
            );
            match found.next {
                Some(next) => page.cursor = Some(next),
                None => return Ok(out),
            }
        }
    }
}

/// The events a command's end implies: that it failed (for the alert rules), and that it ended when
/// a roaming partner sent it (OCPI reports the result to the partner).
fn end_events(cmd: &Command) -> Vec<cpms_domain::events::DomainEvent> {
    let mut out: Vec<_> = failed_event(cmd).into_iter().collect();
    if cmd
        .created_by
        .starts_with(cpms_roaming::commands::ACTOR_PREFIX)
    {
        out.push(cpms_domain::events::DomainEvent {
            id: format!("{}:command:{}:ended", cmd.charger, cmd.id),
            tenant: cmd.tenant.clone(),
            occurred_at: cmd.completed_at.unwrap_or(cmd.created_at),
            body: cpms_domain::events::EventBody::CommandEnded {
                charger_id: cmd.charger.clone(),
                command_id: cmd.id.clone(),
                created_by: cmd.created_by.clone(),
            },
        });
    }
    out
}

/// `charger.command_failed.v1` of a command that ended failed, which the alert rules count. A remedy's
/// own commands are left out: their outcome is on their incident already.
fn failed_event(cmd: &Command) -> Option<cpms_domain::events::DomainEvent> {
    if cmd.created_by == crate::alerts::ACTOR {
        return None;
    }
    let (outcome, detail) = cpms_domain::incidents::signals::command_failure(cmd)?;
    Some(cpms_domain::events::DomainEvent {
        id: format!("{}:command:{}:{outcome}", cmd.charger, cmd.id),
        tenant: cmd.tenant.clone(),
        occurred_at: cmd.completed_at.unwrap_or(cmd.created_at),
        body: cpms_domain::events::EventBody::ChargerCommandFailed {
            charger_id: cmd.charger.clone(),
            command_id: cmd.id.clone(),
            action: cmd.action.clone(),
            outcome: outcome.into(),
            detail,
            created_by: cmd.created_by.clone(),
        },
    })
}

/// What an operator follows of commands: each end, at info, counted by outcome.
fn ended(cmd: &Command) {
    let outcome = match cmd.state {
        CommandState::Answered => "answered",
        CommandState::Error => "error",
        CommandState::TimedOut => "timed_out",
        CommandState::Failed => "failed",
        CommandState::Queued | CommandState::Sent => return,
    };
    metrics::counter!("cpms_commands_total", "outcome" => outcome).increment(1);
    tracing::info!(
        charger = %cmd.charger, command = %cmd.id, action = %cmd.action, outcome,
        status = cmd.status.as_deref().unwrap_or(""),
        error = cmd.error.as_ref().map(|e| e.code.as_str()).unwrap_or(""),
        reason = cmd.reason.as_deref().unwrap_or(""),
        "command ended"
    );
}

/// `cmd` sent at `now`, and `lane` with it in flight.
fn claim(lane: &OutboundLane, mut cmd: Command, now: DateTime<Utc>) -> (OutboundLane, Command) {
    cmd.sent(now);
    let mut busy = lane.clone();
    busy.in_flight = Some(InFlight {
        command_id: cmd.id.clone(),
        action: cmd.action.clone(),
        deadline: cmd.deadline.unwrap_or(now),
    });
    (busy, cmd)
}
