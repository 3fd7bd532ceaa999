//! AWS client configuration: region and credentials from the environment (the Lambda role on AWS), an
//! endpoint override for emulators, and the retry policy.

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::{BehaviorVersion, SdkConfig};

/// Loads the SDK configuration. Throttled and transient failures are retried up to 6 attempts with
/// exponential backoff and jitter (50 ms doubling to at most 2 s); after that the call fails and the
/// caller reports a retryable error (a charger gets InternalError and resends).
pub async fn sdk_config(endpoint: Option<&str>) -> SdkConfig {
    let retry = RetryConfig::standard()
        .with_max_attempts(6)
        .with_initial_backoff(Duration::from_millis(50))
        .with_max_backoff(Duration::from_secs(2));
    let mut loader = aws_config::defaults(BehaviorVersion::latest()).retry_config(retry);
    if let Some(e) = endpoint {
        loader = loader.endpoint_url(e);
    }
    loader.load().await
}
