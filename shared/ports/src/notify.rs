//! The notifier: how notices leave the system. A webhook is an HTTP POST of a body with its headers; an
//! e-mail goes to the installation's SMTP server. What is sent, signed and retried is decided by the
//! application; the notifier only carries it, with a bounded time per attempt.

use async_trait::async_trait;

/// Why a delivery failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotifyError {
    /// The receiver answered with this HTTP status (not 2xx).
    #[error("the receiver answered {0}")]
    Status(u16),
    /// It could not be reached, or did not answer in time.
    #[error("{0}")]
    Unreachable(String),
    /// The channel cannot be used (no SMTP server configured, a bad address).
    #[error("{0}")]
    Unusable(String),
}

/// Carries notices out.
#[async_trait]
pub trait Notifier: Send + Sync {
    /// POSTs `body` (JSON) to `url` with `headers`; the receiver's HTTP status when it was 2xx.
    async fn post(
        &self,
        url: &str,
        body: &[u8],
        headers: &[(String, String)],
    ) -> Result<u16, NotifyError>;
    /// Sends a plain-text e-mail; `message_id` lets receivers see a resent message is the same.
    async fn mail(
        &self,
        to: &[String],
        subject: &str,
        text: &str,
        message_id: &str,
    ) -> Result<(), NotifyError>;
}

/// A notifier for an installation without outbound notifications: every delivery fails as unusable
/// (and is kept, retried and finally dead-lettered like any failure).
pub struct NoNotifier;

#[async_trait]
impl Notifier for NoNotifier {
    async fn post(&self, _: &str, _: &[u8], _: &[(String, String)]) -> Result<u16, NotifyError> {
        Err(NotifyError::Unusable(
            "outbound notifications are not configured".into(),
        ))
    }
    async fn mail(&self, _: &[String], _: &str, _: &str, _: &str) -> Result<(), NotifyError> {
        Err(NotifyError::Unusable("no SMTP server is configured".into()))
    }
}
