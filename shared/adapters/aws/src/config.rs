//! AWS client configuration: region and credentials from the environment (the Lambda role on AWS), an
//! endpoint override for emulators, and the retry policy.

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_dynamodb::config::Credentials;

/// Loads the SDK configuration. Throttled and transient failures are retried up to 6 attempts with
/// exponential backoff and jitter (50 ms doubling to at most 2 s); after that the call fails and the
/// caller reports a retryable error (a charger gets InternalError and resends).
///
/// With an emulator `endpoint` and no credentials or region in the environment, dummy credentials and
/// `us-east-1` are used (emulators check neither).
pub async fn sdk_config(endpoint: Option<&str>) -> SdkConfig {
    let retry = RetryConfig::standard()
        .with_max_attempts(6)
        .with_initial_backoff(Duration::from_millis(50))
        .with_max_backoff(Duration::from_secs(2));
    let mut loader = aws_config::defaults(BehaviorVersion::latest()).retry_config(retry);
    if let Some(e) = endpoint {
        loader = loader.endpoint_url(e);
        if std::env::var_os("AWS_ACCESS_KEY_ID").is_none()
            && std::env::var_os("AWS_PROFILE").is_none()
        {
            loader = loader.credentials_provider(Credentials::new(
                "emulator", "emulator", None, None, "emulator",
            ));
        }
        if std::env::var_os("AWS_REGION").is_none()
            && std::env::var_os("AWS_DEFAULT_REGION").is_none()
        {
            loader = loader.region(Region::new("us-east-1"));
        }
    }
    loader.load().await
}
