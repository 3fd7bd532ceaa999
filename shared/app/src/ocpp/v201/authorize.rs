//! Authorize: may this id token charge?

use cpms_ocpp::CallError;
use cpms_ocpp::v201::types::{AuthorizeRequest, AuthorizeResponse};
use serde_json::Value;

use super::id_token_info;
use crate::ocpp::{CallCtx, answer};

pub(super) async fn handle(ctx: &CallCtx<'_>) -> Result<Value, CallError> {
    let req: AuthorizeRequest = ctx.request()?;
    let t = &req.id_token;
    let d = ctx
        .csms
        .authorize(ctx.conn, &t.id_token, Some(t.r#type.as_str()))
        .await?;
    answer(&AuthorizeResponse {
        id_token_info: id_token_info(&d),
        certificate_status: None,
        custom_data: None,
    })
}
