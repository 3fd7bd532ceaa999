//! What a charger's reports and a command's end mean for alerting: which firmware statuses are
//! failures, which security events call for a look and how badly, which command outcomes failed.

use super::rules::Severity;
use crate::command::{Command, CommandState};

/// Whether a firmware status (1.6, its security extension, 2.0.1) says the update failed.
pub fn firmware_failed(status: &str) -> bool {
    matches!(
        status,
        "DownloadFailed" | "InstallationFailed" | "InstallVerificationFailed" | "InvalidSignature"
    )
}

/// Whether a firmware status says an update is in place: a failure before it is over.
pub fn firmware_installed(status: &str) -> bool {
    status == "Installed"
}

/// How bad a security event is, `None` for routine ones (start-up, reset, a firmware update, the clock
/// set) and types the specifications do not name (kept in the charger's log). The names are both
/// versions' (1.6's security white paper says `CentralSystem` where 2.0.1 says `Csms`).
pub fn security_severity(kind: &str) -> Option<Severity> {
    match kind {
        "TamperDetectionActivated" => Some(Severity::Critical),
        "SecurityLogWasCleared"
        | "InvalidFirmwareSignature"
        | "InvalidFirmwareSigningCertificate"
        | "AttemptedReplayAttacks"
        | "MemoryExhaustion" => Some(Severity::Major),
        "InvalidCsmsCertificate"
        | "InvalidCentralSystemCertificate"
        | "InvalidChargingStationCertificate"
        | "InvalidChargePointCertificate"
        | "InvalidTLSVersion"
        | "InvalidTLSCipherSuite"
        | "CsmsFailedToAuthenticate"
        | "CentralSystemFailedToAuthenticate"
        | "FailedToAuthenticateAtCsms"
        | "FailedToAuthenticateAtCentralSystem"
        | "MaintenanceLoginFailed"
        | "InvalidMessages" => Some(Severity::Warning),
        _ => None,
    }
}

/// Statuses of a CALLRESULT that say the charger did not do what it was asked. `NotSupported`,
/// `Unknown` (nothing to clear) and the like are answers, not failures.
const FAILED_STATUSES: [&str; 3] = ["Rejected", "Failed", "UnlockFailed"];

/// How an ended command failed, as (`rejected` | `error` | `timed_out`, detail); `None` when it did
/// what it was asked, is still open, or was never delivered (the charger was offline: that is the
/// offline rule's business).
pub fn command_failure(cmd: &Command) -> Option<(&'static str, String)> {
    match cmd.state {
        CommandState::Answered => {
            let status = cmd.status.as_deref()?;
            FAILED_STATUSES
                .contains(&status)
                .then(|| ("rejected", status.to_string()))
        }
        CommandState::Error => Some((
            "error",
            cmd.error
                .as_ref()
                .map(|e| format!("{}: {}", e.code, e.description))
                .unwrap_or_default(),
        )),
        CommandState::TimedOut => Some((
            "timed_out",
            cmd.reason
                .clone()
                .unwrap_or_else(|| "no answer in time".into()),
        )),
        CommandState::Failed | CommandState::Queued | CommandState::Sent => None,
    }
}
