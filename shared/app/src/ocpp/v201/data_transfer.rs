//! DataTransfer: vendor-specific data. No vendor extension is installed, so the answer is UnknownVendorId;
//! the data is kept in the charger log.

use cpms_ocpp::CallError;
use cpms_ocpp::v201::types::{
    DataTransferRequest, DataTransferResponse, DataTransferStatusEnumType,
};
use serde_json::Value;

use crate::ocpp::{CallCtx, answer};

pub(super) async fn handle(ctx: &CallCtx<'_>) -> Result<Value, CallError> {
    let req: DataTransferRequest = ctx.request()?;
    ctx.record_data_transfer(&req.vendor_id, req.message_id.as_deref())
        .await?;
    answer(&DataTransferResponse {
        status: DataTransferStatusEnumType::UnknownVendorId,
        status_info: None,
        data: None,
        custom_data: None,
    })
}
