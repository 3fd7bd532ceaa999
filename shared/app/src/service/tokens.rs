//! Authorization of id tags / id tokens: every token is looked up, whatever type the charger gives it.
//! Two exceptions, both decided by the operator: a 2.0.1 `NoAuthorization` token at a charger set to
//! free charging, and a token the operator started a session for remotely (for a while, at that
//! charger, when it is not registered).

use cpms_domain::token::{self, AuthDecision, AuthStatus, RemoteStartGrant};
use cpms_ocpp::CallError;
use cpms_ports::ConnectionInfo;

use super::internal;
use crate::Csms;

/// The 2.0.1 token type of a session that needs no authorization (free vending).
const NO_AUTHORIZATION: &str = "NoAuthorization";

impl Csms {
    /// Decides whether a token presented on `conn` may charge. `kind` is the 2.0.1 IdTokenEnumType.
    pub(crate) async fn authorize(
        &self,
        conn: &ConnectionInfo,
        id: &str,
        kind: Option<&str>,
    ) -> Result<AuthDecision, CallError> {
        let now = self.ports.clock.now();
        if kind == Some(NO_AUTHORIZATION) {
            let free = self
                .ports
                .chargers
                .get(&conn.charger_id)
                .await
                .map_err(internal)?
                .is_some_and(|c| c.value.free_charging);
            return Ok(if free {
                AuthDecision::free()
            } else {
                AuthDecision {
                    status: AuthStatus::Invalid,
                    expires_at: None,
                    group_id: None,
                }
            });
        }
        let found = self
            .ports
            .tokens
            .get(&conn.tenant, &token::token_key(id))
            .await
            .map_err(internal)?;
        if found.is_none() {
            let key = RemoteStartGrant::key(conn.charger_id.as_str(), id);
            let grant = self
                .records::<RemoteStartGrant>()
                .get(&conn.tenant, &key)
                .await
                .map_err(internal)?;
            if let Some(d) = token::granted_remotely(grant.as_ref().map(|g| &g.value), now) {
                return Ok(d);
            }
        }
        Ok(token::authorize(
            found.as_ref().map(|v| &v.value),
            kind,
            now,
        ))
    }
}
