//! TransactionEvent: Started / Updated / Ended of a transaction whose id the station chose. Events may
//! arrive out of order (seqNo orders them), late (offline) and more than once; all are applied to one
//! session. The id token, when present, is authorized and its decision returned.

use cpms_domain::normalize::v201;
use cpms_domain::session::EventKind;
use cpms_ocpp::CallError;
use cpms_ocpp::v201::types::{TransactionEventRequest, TransactionEventResponse};
use serde_json::Value;

use super::id_token_info;
use crate::ocpp::{CallCtx, answer, refused};

pub(super) async fn handle(ctx: &CallCtx<'_>) -> Result<Value, CallError> {
    let req: TransactionEventRequest = ctx.request()?;
    let (tx, mut ev) =
        v201::transaction_event(&req, ctx.fingerprint(), &ctx.quirks).map_err(refused)?;
    let auth = match &req.id_token {
        Some(t) => Some(
            ctx.csms
                .authorize(ctx.conn, &t.id_token, Some(t.r#type.as_str()))
                .await?,
        ),
        None => None,
    };
    ev.auth = auth.clone();
    let session = ctx.csms.apply_session_event(ctx.conn, &tx, &ev).await?;
    // The final cost, by the engine that will make the session's CDR (the station shows it).
    let total_cost = if ev.kind == EventKind::Ended && session.ended_at.is_some() {
        ctx.csms.final_cost(&ctx.conn.tenant, &session).await
    } else {
        None
    };
    answer(&TransactionEventResponse {
        id_token_info: auth.as_ref().map(id_token_info),
        total_cost,
        charging_priority: None,
        updated_personal_message: None,
        custom_data: None,
    })
}
