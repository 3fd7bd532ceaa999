//! Authorization of id tags / id tokens.

use cpms_domain::TenantId;
use cpms_domain::token::{self, AuthDecision};
use cpms_ocpp::CallError;

use super::internal;
use crate::Csms;

/// 2.0.1 token types that need no lookup: the charger or the CSMS itself vouches for them.
const FREE_KINDS: [&str; 2] = ["NoAuthorization", "Central"];

impl Csms {
    /// Decides whether a token may charge.
    pub(crate) async fn authorize(
        &self,
        tenant: &TenantId,
        id: &str,
        kind: Option<&str>,
    ) -> Result<AuthDecision, CallError> {
        if kind.is_some_and(|k| FREE_KINDS.contains(&k)) {
            return Ok(AuthDecision::free());
        }
        let found = self
            .ports
            .tokens
            .get(tenant, &token::token_key(id))
            .await
            .map_err(internal)?;
        let now = self.ports.clock.now();
        Ok(token::authorize(
            found.as_ref().map(|v| &v.value),
            kind,
            now,
        ))
    }
}
