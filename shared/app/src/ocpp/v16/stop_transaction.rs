//! StopTransaction: a session ends. Always answered, whatever the transaction id (a charger cannot be told
//! not to stop); stops for unknown transactions are reconciled, never dropped.

use cpms_domain::normalize::v16;
use cpms_ocpp::CallError;
use cpms_ocpp::v16::types::{StopTransactionRequest, StopTransactionResponse};
use serde_json::Value;

use super::id_tag_info;
use crate::ocpp::{CallCtx, answer};

pub(super) async fn handle(ctx: &CallCtx<'_>) -> Result<Value, CallError> {
    let req: StopTransactionRequest = ctx.request()?;
    let mut ev = v16::stop(&req, ctx.fingerprint(), &ctx.quirks);
    let auth = match &req.id_tag {
        Some(tag) => Some(ctx.csms.authorize(ctx.conn, tag, None).await?),
        None => None,
    };
    ev.auth = auth.clone();
    let session = ctx.csms.stop_v16(ctx.conn, req.transaction_id, &ev).await?;
    // A resent stop answers as the first did.
    let auth = session.stop_auth.clone().or(auth);
    answer(&StopTransactionResponse {
        id_tag_info: req.id_tag.as_ref().and(auth.as_ref()).map(id_tag_info),
    })
}
