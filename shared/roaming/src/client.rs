//! Calls to a partner's OCPI endpoints: the token in the version's form, a new `X-Request-ID` per call,
//! the `X-Correlation-ID` of the exchange, the routing headers on functional modules, and the answer read
//! as an envelope. Real peers differ in small ways a CPO has to take: one that answers a single object
//! as a one-element list is read as the object ([`single`]).

use cpms_ocpi::Envelope;
use cpms_ocpi::headers::{self, PartyRef};
use cpms_ocpi::versions::VersionNumber;
use cpms_ports::partner_client::Method;
use cpms_ports::{PartnerError, PartnerRequest};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::Roaming;

/// Who a call is from and to, and with which token.
#[derive(Debug, Clone)]
pub struct Target<'a> {
    /// The token the partner gave us (token A for the handshake, then token C).
    pub token: &'a str,
    /// The version: how the token is written.
    pub version: VersionNumber,
    /// Our party and theirs, for the routing headers (functional modules only).
    pub route: Option<(PartyRef, PartyRef)>,
    /// The exchange this call belongs to (a new one when `None`).
    pub correlation: Option<&'a str>,
}

/// A partner's answer that was a success.
#[derive(Debug, Clone)]
pub struct Answer {
    /// HTTP status.
    pub status: u16,
    /// The envelope's data.
    pub data: Option<Value>,
    /// Headers, names lower-case (pagination reads `link` and `x-total-count`).
    pub headers: Vec<(String, String)>,
}

/// Why a call to a partner did not succeed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CallError {
    /// No answer (timeout, unreachable, too large, bad URL).
    #[error(transparent)]
    Transport(#[from] PartnerError),
    /// It answered, with an OCPI status that is not a success.
    #[error("answered OCPI status {code}{}", .message.as_deref().map(|m| format!(": {m}")).unwrap_or_default())]
    Refused {
        /// HTTP status.
        http: u16,
        /// OCPI status.
        code: u16,
        /// Its message.
        message: Option<String>,
    },
    /// It answered with something that is not an OCPI envelope.
    #[error("answered HTTP {http} without an OCPI envelope: {detail}")]
    NotOcpi {
        /// HTTP status.
        http: u16,
        /// What was wrong, with the start of the body.
        detail: String,
    },
}

impl CallError {
    /// Whether trying again later may succeed: no answer, a server error (HTTP 5xx, 408, 429, OCPI 3xxx
    /// and hub 4xxx). A client error (the partner refused what we sent) stays one.
    pub fn is_retryable(&self) -> bool {
        match self {
            CallError::Transport(PartnerError::Invalid(_)) => false,
            CallError::Transport(_) => true,
            CallError::Refused { http, code, .. } => {
                *http >= 500 || *http == 408 || *http == 429 || *code >= 3000
            }
            CallError::NotOcpi { http, .. } => *http >= 500 || *http == 408 || *http == 429,
        }
    }
}

/// The data of an answer as one `T`: an object, or a list of exactly one (what some peers send).
pub fn single<T: DeserializeOwned>(data: Option<Value>) -> Result<T, String> {
    let v = match data {
        None | Some(Value::Null) => return Err("the answer has no data".into()),
        Some(Value::Array(mut items)) if items.len() == 1 => items.remove(0),
        Some(v) => v,
    };
    serde_json::from_value(v).map_err(|e| format!("the answer's data: {e}"))
}

fn method_name(m: Method) -> &'static str {
    match m {
        Method::Get => "GET",
        Method::Post => "POST",
        Method::Put => "PUT",
        Method::Patch => "PATCH",
        Method::Delete => "DELETE",
    }
}

/// A new id for `X-Request-ID` / `X-Correlation-ID`.
pub fn new_request_id() -> String {
    hex::encode(rand::random::<[u8; 12]>())
}

impl Roaming {
    /// Calls a partner and reads its envelope: a success gives its data, anything else a [`CallError`].
    pub async fn call(
        &self,
        method: Method,
        url: &str,
        target: &Target<'_>,
        body: Option<&Value>,
    ) -> Result<Answer, CallError> {
        let request_id = new_request_id();
        let correlation = target
            .correlation
            .map_or_else(new_request_id, str::to_string);
        let mut hs = vec![
            (
                "authorization".to_string(),
                cpms_ocpi::auth::header_value(target.token, target.version),
            ),
            (headers::REQUEST_ID.to_string(), request_id.clone()),
            (headers::CORRELATION_ID.to_string(), correlation.clone()),
        ];
        if let Some((from, to)) = &target.route {
            hs.push((headers::FROM_COUNTRY_CODE.into(), from.country_code.clone()));
            hs.push((headers::FROM_PARTY_ID.into(), from.party_id.clone()));
            hs.push((headers::TO_COUNTRY_CODE.into(), to.country_code.clone()));
            hs.push((headers::TO_PARTY_ID.into(), to.party_id.clone()));
        }
        let body = body.map(|b| serde_json::to_vec(b).unwrap_or_default());
        if body.is_some() {
            hs.push(("content-type".into(), "application/json".into()));
        }
        let started = std::time::Instant::now();
        let reply = self
            .ports
            .client
            .send(PartnerRequest {
                method,
                url: url.to_string(),
                headers: hs,
                body,
            })
            .await;
        let took_ms = started.elapsed().as_millis() as u64;
        let reply = match reply {
            Ok(r) => r,
            Err(e) => {
                tracing::info!(method = method_name(method), url, request_id, correlation, took_ms, error = %e, "OCPI call without an answer");
                return Err(e.into());
            }
        };
        tracing::debug!(
            method = method_name(method),
            url,
            request_id,
            correlation,
            status = reply.status,
            took_ms,
            "OCPI call"
        );
        let http = reply.status;
        let envelope = match Envelope::read::<Value>(&reply.body) {
            Ok(e) => e,
            Err(detail) => {
                let start: String = String::from_utf8_lossy(&reply.body)
                    .chars()
                    .take(200)
                    .collect();
                return Err(CallError::NotOcpi {
                    http,
                    detail: format!("{detail}; the answer starts {start:?}"),
                });
            }
        };
        if !(200..300).contains(&http) || !envelope.status_code.is_success() {
            return Err(CallError::Refused {
                http,
                code: envelope.status_code.code(),
                message: envelope.status_message,
            });
        }
        Ok(Answer {
            status: http,
            data: envelope.data,
            headers: reply.headers,
        })
    }
}
