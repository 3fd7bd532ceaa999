//! StartTransaction: a session begins. The CSMS assigns the transaction id and always answers (it may say
//! the id tag is not accepted; the charger then stops the transaction).

use cpms_domain::normalize::v16;
use cpms_ocpp::CallError;
use cpms_ocpp::v16::types::{StartTransactionRequest, StartTransactionResponse};
use serde_json::Value;

use super::id_tag_info;
use crate::ocpp::{CallCtx, answer, refused};

pub(super) async fn handle(ctx: &CallCtx<'_>) -> Result<Value, CallError> {
    let req: StartTransactionRequest = ctx.request()?;
    let mut ev = v16::start(&req, ctx.fingerprint(), &ctx.quirks).map_err(refused)?;
    ev.auth = Some(ctx.csms.authorize(ctx.conn, &req.id_tag, None).await?);
    let out = ctx.csms.start_v16(ctx.conn, &ev).await?;
    answer(&StartTransactionResponse {
        id_tag_info: id_tag_info(&out.auth),
        transaction_id: i64::from(out.transaction_id),
    })
}
