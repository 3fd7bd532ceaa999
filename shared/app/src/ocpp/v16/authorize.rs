//! Authorize: may this id tag charge?

use cpms_ocpp::CallError;
use cpms_ocpp::v16::types::{AuthorizeRequest, AuthorizeResponse};
use serde_json::Value;

use super::id_tag_info;
use crate::ocpp::{CallCtx, answer};

pub(super) async fn handle(ctx: &CallCtx<'_>) -> Result<Value, CallError> {
    let req: AuthorizeRequest = ctx.request()?;
    let d = ctx.csms.authorize(ctx.conn, &req.id_tag, None).await?;
    answer(&AuthorizeResponse {
        id_tag_info: id_tag_info(&d),
    })
}
