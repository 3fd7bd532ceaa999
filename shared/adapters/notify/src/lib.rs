//! The notifier of both backends ([`cpms_ports::Notifier`]): webhooks are POSTed with reqwest (rustls,
//! no redirects followed, a timeout per attempt, the answer's body ignored), e-mail goes to the
//! configured SMTP server with lettre (STARTTLS, implicit TLS or plain for a local relay). The same
//! crate calls roaming partners' OCPI endpoints ([`partner`]).

pub mod partner;

use std::time::Duration;

use async_trait::async_trait;
use cpms_ports::{Notifier, NotifyError};
use lettre::message::{Mailbox, header::ContentType};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

/// How long one webhook attempt may take.
pub const WEBHOOK_TIMEOUT: Duration = Duration::from_secs(10);

/// Where e-mail goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmtpConfig {
    /// `smtp://host:port` (plain, for a local relay), `smtp://host:port?tls=required` (STARTTLS) or
    /// `smtps://host:port` (implicit TLS); user and password may be given in the URL.
    pub url: String,
    /// The sender (`CPMS Alerts <alerts@example.com>`).
    pub from: String,
}

/// Webhooks and e-mail.
pub struct NetNotifier {
    http: reqwest::Client,
    smtp: Option<(AsyncSmtpTransport<Tokio1Executor>, Mailbox)>,
}

/// A notifier could not be built from its configuration.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

impl NetNotifier {
    /// A notifier; e-mail only when `smtp` is given.
    pub fn new(smtp: Option<SmtpConfig>) -> Result<Self, ConfigError> {
        let http = reqwest::Client::builder()
            .timeout(WEBHOOK_TIMEOUT)
            .connect_timeout(Duration::from_secs(5))
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("cpms-alerts/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ConfigError(format!("building the HTTP client: {e}")))?;
        let smtp = match smtp {
            None => None,
            Some(c) => {
                let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(&c.url)
                    .map_err(|e| ConfigError(format!("the SMTP URL: {e}")))?
                    .timeout(Some(Duration::from_secs(15)))
                    .build();
                let from: Mailbox = c
                    .from
                    .parse()
                    .map_err(|e| ConfigError(format!("the sender address {:?}: {e}", c.from)))?;
                Some((transport, from))
            }
        };
        Ok(NetNotifier { http, smtp })
    }
}

#[async_trait]
impl Notifier for NetNotifier {
    async fn post(
        &self,
        url: &str,
        body: &[u8],
        headers: &[(String, String)],
    ) -> Result<u16, NotifyError> {
        let mut req = self
            .http
            .post(url)
            .header("content-type", "application/json")
            .body(body.to_vec());
        for (k, v) in headers {
            req = req.header(k.as_str(), v.as_str());
        }
        let resp = req
            .send()
            .await
            .map_err(|e| NotifyError::Unreachable(short(&e)))?;
        let status = resp.status().as_u16();
        if (200..300).contains(&status) {
            Ok(status)
        } else {
            Err(NotifyError::Status(status))
        }
    }

    async fn mail(
        &self,
        to: &[String],
        subject: &str,
        text: &str,
        message_id: &str,
    ) -> Result<(), NotifyError> {
        let Some((transport, from)) = &self.smtp else {
            return Err(NotifyError::Unusable("no SMTP server is configured".into()));
        };
        let mut b = Message::builder()
            .from(from.clone())
            .subject(subject)
            .message_id(Some(format!("<{message_id}@cpms>")));
        for t in to {
            let m: Mailbox = t
                .parse()
                .map_err(|e| NotifyError::Unusable(format!("the address {t:?}: {e}")))?;
            b = b.to(m);
        }
        let msg = b
            .header(ContentType::TEXT_PLAIN)
            .body(text.to_string())
            .map_err(|e| NotifyError::Unusable(format!("building the message: {e}")))?;
        transport
            .send(msg)
            .await
            .map(|_| ())
            .map_err(|e| NotifyError::Unreachable(format!("SMTP: {e}")))
    }
}

/// An error's message with its causes, bounded.
fn short(e: &reqwest::Error) -> String {
    use std::error::Error;
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(c) = src {
        s.push_str(": ");
        s.push_str(&c.to_string());
        src = c.source();
    }
    if s.len() > 300 {
        let mut end = 300;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
    }
    s
}
