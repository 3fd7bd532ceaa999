//! Certificate requests (SignCertificate, Get15118EVCertificate, GetCertificateStatus): this CSMS runs no
//! certificate authority and no OCSP proxy, so each is answered with its refusal status and logged.

use cpms_domain::log::LogKind;
use cpms_ocpp::CallError;
use cpms_ocpp::v201::types as t;
use serde_json::Value;

use crate::ocpp::{CallCtx, answer};

pub(super) async fn handle(ctx: &CallCtx<'_>) -> Result<Value, CallError> {
    let summary = format!(
        "{} refused: no certificate authority configured",
        ctx.action
    );
    ctx.record(LogKind::Notification, summary).await?;
    let info = Some(t::StatusInfoType {
        reason_code: "NotSupported".into(),
        additional_info: None,
        custom_data: None,
    });
    match ctx.action {
        "SignCertificate" => answer(&t::SignCertificateResponse {
            status: t::GenericStatusEnumType::Rejected,
            status_info: info,
            custom_data: None,
        }),
        "Get15118EVCertificate" => answer(&t::Get15118EVCertificateResponse {
            status: t::Iso15118EVCertificateStatusEnumType::Failed,
            status_info: info,
            exi_response: String::new(),
            custom_data: None,
        }),
        _ => answer(&t::GetCertificateStatusResponse {
            status: t::GetCertificateStatusEnumType::Failed,
            status_info: info,
            ocsp_result: None,
            custom_data: None,
        }),
    }
}
