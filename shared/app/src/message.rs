//! `$default`: every frame a charger sends. CALLs are validated against the official schema of their
//! version and action, gated by registration, dispatched to their handler, and answered with the result
//! or a CallError (always spelled for the connection's version). The answer is returned, not sent: the
//! gateway delivers it as the route response.

use cpms_domain::charger::Registration;
use cpms_domain::command::CallErrorInfo;
use cpms_domain::log::LogKind;
use cpms_ocpp::frame::{self, Frame};
use cpms_ocpp::schema::validate_lenient;
use cpms_ocpp::{CallError, Direction, ErrorCode, OcppVersion};
use cpms_ports::ConnectionInfo;
use serde_json::{Value, json};

use crate::Csms;
use crate::ocpp::{CallCtx, v16, v201};
use crate::service::internal;

/// Messages that carry transaction data: never refused for a registration state, and logged when invalid
/// (a charger drops them after a few CallErrors, so support must see them).
const TRANSACTION_ACTIONS: [&str; 4] = [
    "StartTransaction",
    "StopTransaction",
    "MeterValues",
    "TransactionEvent",
];

/// What the gateway does after a frame.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MessageOutcome {
    /// The frame to send back, if any.
    pub reply: Option<String>,
    /// Close the connection (it is not known to the CSMS).
    pub close: bool,
}

impl Csms {
    /// Handles one frame from a connection.
    pub async fn message(&self, connection_id: &str, bytes: &[u8]) -> MessageOutcome {
        let conn = match self.ports.registry.get(connection_id).await {
            Ok(Some(c)) => c,
            Ok(None) => {
                tracing::warn!(
                    connection_id,
                    "frame from an unknown connection; closing it"
                );
                return MessageOutcome {
                    reply: None,
                    close: true,
                };
            }
            Err(e) => {
                tracing::error!(error = %e, "connection registry unavailable");
                return MessageOutcome::default();
            }
        };
        let reply = match Frame::parse(bytes) {
            Err(bad) => {
                tracing::info!(charger = %conn.charger_id, error = %bad.error, "unreadable frame");
                let code = bad.error.code.as_str(conn.version);
                metrics::counter!("cpms_call_errors_total", "action" => "unreadable", "code" => code)
                    .increment(1);
                bad.answerable
                    .then(|| frame::call_error(&bad.message_id, conn.version, &bad.error))
            }
            Ok(parsed) => match parsed.frame {
                Frame::Call(call) => {
                    let id = call.id.clone();
                    let started = std::time::Instant::now();
                    // Label by action only for actions of the version (bounded cardinality).
                    let action =
                        cpms_ocpp::action_name(conn.version, &call.action).unwrap_or("unknown");
                    let outcome = self.call(&conn, call, parsed.repaired).await;
                    let version = conn.version.label();
                    metrics::counter!("cpms_frames_total", "action" => action, "version" => version)
                        .increment(1);
                    metrics::histogram!("cpms_frame_seconds", "action" => action)
                        .record(started.elapsed().as_secs_f64());
                    Some(match outcome {
                        Ok(payload) => frame::call_result(&id, &payload),
                        Err(e) => {
                            let code = e.code.as_str(conn.version);
                            metrics::counter!("cpms_call_errors_total", "action" => action, "code" => code)
                                .increment(1);
                            frame::call_error(&id, conn.version, &e)
                        }
                    })
                }
                Frame::CallResult(r) => {
                    self.answer(&conn, &r.id, Ok(r.payload)).await;
                    None
                }
                Frame::CallError(e) => {
                    let info = CallErrorInfo {
                        code: e.code.to_string(),
                        description: e.description.clone(),
                        details: e.details.clone(),
                    };
                    self.answer(&conn, &e.id, Err(info)).await;
                    None
                }
            },
        };
        MessageOutcome {
            reply,
            close: false,
        }
    }

    /// Routes a charger's answer to the command it answers.
    async fn answer(&self, conn: &ConnectionInfo, id: &str, answer: Result<Value, CallErrorInfo>) {
        match self.command_answered(conn, id, answer).await {
            Ok(true) => {}
            Ok(false) => {
                tracing::info!(charger = %conn.charger_id, id, "answer to no call in flight");
            }
            Err(e) => {
                // The charger will not resend an answer; the command then times out.
                tracing::error!(error = %e, charger = %conn.charger_id, id, "cannot record an answer");
            }
        }
    }

    async fn call(
        &self,
        conn: &ConnectionInfo,
        call: cpms_ocpp::Call,
        repaired: bool,
    ) -> Result<Value, CallError> {
        let action = call.action.as_str();
        let version = conn.version;
        let schema = match (
            cpms_ocpp::direction(version, action),
            cpms_ocpp::schema(version, action, false),
        ) {
            (Some(Direction::CsmsToCharger), _) => {
                return Err(CallError::new(
                    ErrorCode::NotSupported,
                    format!("{action} is sent by the CSMS to chargers, not the other way"),
                ));
            }
            (Some(_), Some(schema)) => schema,
            _ => {
                return Err(CallError::new(
                    ErrorCode::NotImplemented,
                    format!("{action:.60} is not an OCPP {version} action"),
                ));
            }
        };
        let mut quirks = Vec::new();
        if !conn.accepted && action != "BootNotification" {
            quirks.extend(self.gate(conn, action).await?);
        }
        let mut payload = call.payload;
        let forgiven = match validate_lenient(&mut payload, schema) {
            Ok(q) => q,
            Err(v) => {
                let err = CallError::new(v.error_code(), format!("{action}: {v}"))
                    .with_detail("path", v.path.clone());
                if TRANSACTION_ACTIONS.contains(&action) {
                    let data =
                        json!({"action": action, "error": err.description, "payload": payload});
                    let summary = format!("{action} refused: {}", err.code.as_str(version));
                    let _ = self.log(conn, LogKind::RejectedCall, summary, data).await;
                }
                return Err(err);
            }
        };
        quirks.extend(forgiven.into_iter().map(|q| q.kind.to_string()));
        if repaired {
            quirks.push("json_repaired".into());
        }
        let ctx = CallCtx {
            csms: self,
            conn,
            action,
            payload: &payload,
            quirks,
        };
        let result = match version {
            OcppVersion::V16 => v16::dispatch(&ctx).await,
            OcppVersion::V201 => v201::dispatch(&ctx).await,
        };
        if cfg!(debug_assertions)
            && let Ok(answer) = &result
            && let Some(schema) = cpms_ocpp::schema(version, action, true)
            && let Err(v) = cpms_ocpp::schema::validate(&mut answer.clone(), schema)
        {
            tracing::error!(action, violation = %v, "the CSMS built an answer its schema refuses");
        }
        result
    }

    /// A charger whose registration is not accepted may only boot. A charger told `Pending` (a reconnect
    /// storm) is tolerated for status and transaction messages, which real chargers send anyway and which
    /// must not be lost.
    async fn gate(&self, conn: &ConnectionInfo, action: &str) -> Result<Vec<String>, CallError> {
        let registration = self
            .ports
            .chargers
            .get(&conn.charger_id)
            .await
            .map_err(internal)?
            .map(|c| c.value.registration);
        let tolerated = action == "StatusNotification" || TRANSACTION_ACTIONS.contains(&action);
        match registration {
            Some(Registration::Accepted) => {
                let mut info = conn.clone();
                info.accepted = true;
                self.ports.registry.put(&info).await.map_err(internal)?;
                Ok(Vec::new())
            }
            Some(Registration::Pending) if tolerated => Ok(vec!["call_while_pending".into()]),
            _ => Err(CallError::new(
                ErrorCode::SecurityError,
                format!("{action} before the charger's BootNotification was accepted"),
            )),
        }
    }
}
