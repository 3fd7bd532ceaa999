//! Calls to roaming partners ([`cpms_ports::PartnerClient`]) with reqwest: rustls, no redirects
//! followed, a timeout per request, the answer read up to a bound.

use std::time::Duration;

use async_trait::async_trait;
use cpms_ports::partner_client::{MAX_REPLY_BYTES, Method};
use cpms_ports::{PartnerClient, PartnerError, PartnerReply, PartnerRequest};

/// How long one request to a partner may take.
pub const PARTNER_TIMEOUT: Duration = Duration::from_secs(15);

/// The partner client of both backends.
pub struct NetPartnerClient {
    http: reqwest::Client,
}

impl NetPartnerClient {
    /// A client.
    pub fn new() -> Result<Self, crate::ConfigError> {
        let http = reqwest::Client::builder()
            .timeout(PARTNER_TIMEOUT)
            .connect_timeout(Duration::from_secs(5))
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("cpms-ocpi/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| crate::ConfigError(format!("building the HTTP client: {e}")))?;
        Ok(NetPartnerClient { http })
    }
}

fn failed(e: reqwest::Error) -> PartnerError {
    if e.is_timeout() {
        PartnerError::Timeout
    } else if e.is_builder() {
        PartnerError::Invalid(e.to_string())
    } else {
        PartnerError::Unreachable(e.to_string())
    }
}

#[async_trait]
impl PartnerClient for NetPartnerClient {
    async fn send(&self, req: PartnerRequest) -> Result<PartnerReply, PartnerError> {
        let method = match req.method {
            Method::Get => reqwest::Method::GET,
            Method::Post => reqwest::Method::POST,
            Method::Put => reqwest::Method::PUT,
            Method::Patch => reqwest::Method::PATCH,
            Method::Delete => reqwest::Method::DELETE,
        };
        let mut b = self.http.request(method, &req.url);
        for (k, v) in &req.headers {
            b = b.header(k, v);
        }
        if let Some(body) = req.body {
            b = b.header("content-type", "application/json").body(body);
        }
        let mut resp = b.send().await.map_err(failed)?;
        if resp
            .content_length()
            .is_some_and(|n| n > MAX_REPLY_BYTES as u64)
        {
            return Err(PartnerError::TooLarge);
        }
        let status = resp.status().as_u16();
        let headers = resp
            .headers()
            .iter()
            .filter_map(|(k, v)| Some((k.as_str().to_string(), v.to_str().ok()?.to_string())))
            .collect();
        let mut body = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(failed)? {
            if body.len() + chunk.len() > MAX_REPLY_BYTES {
                return Err(PartnerError::TooLarge);
            }
            body.extend_from_slice(&chunk);
        }
        Ok(PartnerReply {
            status,
            headers,
            body,
        })
    }
}
