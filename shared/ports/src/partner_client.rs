//! Calls to a roaming partner's OCPI endpoints: one HTTP request with its headers and body, answered
//! with the status, headers and body (bounded), or why there was no answer.

use async_trait::async_trait;

/// The HTTP methods OCPI uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// GET.
    Get,
    /// POST.
    Post,
    /// PUT.
    Put,
    /// PATCH.
    Patch,
    /// DELETE.
    Delete,
}

/// One request to a partner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartnerRequest {
    /// Its method.
    pub method: Method,
    /// The URL (as the partner's version details give it).
    pub url: String,
    /// Headers (`Authorization`, `X-Request-ID`, ...).
    pub headers: Vec<(String, String)>,
    /// A JSON body.
    pub body: Option<Vec<u8>>,
}

/// A partner's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartnerReply {
    /// HTTP status.
    pub status: u16,
    /// Headers, names lower-case.
    pub headers: Vec<(String, String)>,
    /// The body (at most [`MAX_REPLY_BYTES`]).
    pub body: Vec<u8>,
}

impl PartnerReply {
    /// The value of header `name` (lower-case), if sent.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// The largest answer read from a partner (a page of 100 locations fits many times over).
pub const MAX_REPLY_BYTES: usize = 8 * 1024 * 1024;

/// Why a partner did not answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PartnerError {
    /// No answer in time.
    #[error("the partner did not answer in time")]
    Timeout,
    /// It could not be reached.
    #[error("the partner could not be reached: {0}")]
    Unreachable(String),
    /// Its answer was larger than [`MAX_REPLY_BYTES`].
    #[error("the partner's answer is over {MAX_REPLY_BYTES} bytes")]
    TooLarge,
    /// The request could not be made (a bad URL).
    #[error("{0}")]
    Invalid(String),
}

/// Makes requests to partners.
#[async_trait]
pub trait PartnerClient: Send + Sync {
    /// Sends one request and reads its answer.
    async fn send(&self, req: PartnerRequest) -> Result<PartnerReply, PartnerError>;
}

/// A client for installations without roaming: every call fails as unreachable.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoPartners;

#[async_trait]
impl PartnerClient for NoPartners {
    async fn send(&self, _req: PartnerRequest) -> Result<PartnerReply, PartnerError> {
        Err(PartnerError::Unreachable(
            "no partner client is configured".into(),
        ))
    }
}
