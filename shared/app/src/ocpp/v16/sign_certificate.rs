//! SignCertificate (security extension): this CSMS runs no certificate authority, so the request is
//! refused (and kept in the log for the operator).

use cpms_domain::log::LogKind;
use cpms_ocpp::CallError;
use cpms_ocpp::v16::types::{GenericStatusEnumType, SignCertificateResponse};
use serde_json::Value;

use crate::ocpp::{CallCtx, answer};

pub(super) async fn handle(ctx: &CallCtx<'_>) -> Result<Value, CallError> {
    let summary = "SignCertificate refused: no certificate authority configured".to_string();
    ctx.record(LogKind::Notification, summary).await?;
    answer(&SignCertificateResponse {
        status: GenericStatusEnumType::Rejected,
    })
}
