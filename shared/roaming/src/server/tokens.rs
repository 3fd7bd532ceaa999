//! The Tokens Receiver interface: an eMSP pushes its tokens (PUT whole, PATCH in part, GET to check
//! what we hold). A token pushed becomes a token of the tenant with the partner as its issuer, so it
//! authorizes at our chargers and its sessions are billed to the partner. A partner touches only its
//! own tokens: the party in the URL must be its own, and a token id the operator or another partner
//! holds is refused.
//!
//! `whitelist: NEVER` (real-time authorization only) is held as valid here: real-time authorization
//! against the eMSP is not built yet, so the stated fallback is to authorize such a token locally.

use axum::body::Bytes;
use axum::extract::Path;
use cpms_domain::roaming::Published;
use cpms_domain::token::{Token, TokenStatus, token_key};
use cpms_ocpi::StatusCode;
use cpms_ocpi::tokens::Token as OcpiToken;
use cpms_ports::{Expected, StoreError};
use serde_json::Value;

use super::{Ocpi, Registered, St, json};
use crate::{Roaming, RoamingError};

/// What received tokens are kept as (beside the tenant's token).
pub(crate) const RECEIVED: &str = "tokens";

fn store_err(e: StoreError) -> Ocpi {
    Ocpi::from(RoamingError::Store(e))
}

/// The URL's party and uid, checked against the caller.
fn own(caller: &Registered, cc: &str, pid: &str) -> Result<(), Ocpi> {
    let p = &caller.0.partner.value;
    if !cc.eq_ignore_ascii_case(&p.country_code) || !pid.eq_ignore_ascii_case(&p.party_id) {
        return Err(Ocpi::fail(
            StatusCode::ClientError,
            format!(
                "{cc}*{pid} is not the caller's party ({}*{})",
                p.country_code, p.party_id
            ),
        )
        .status(axum::http::StatusCode::FORBIDDEN));
    }
    Ok(())
}

fn object_id(partner: &str, uid: &str) -> String {
    format!("{partner}/{}", token_key(uid))
}

impl Roaming {
    /// Keeps a token a partner pushed (checked first): the OCPI token as received, and the tenant's
    /// token made of it.
    pub(super) async fn accept_token(&self, caller: &Registered, t: OcpiToken) -> Result<(), Ocpi> {
        t.check()
            .map_err(|e| Ocpi::fail(StatusCode::InvalidParameters, e))?;
        let p = &caller.0.partner.value;
        let tenant = &p.tenant;
        if cpms_domain::token::validate_token_id(&t.uid).is_err() {
            return Err(Ocpi::fail(
                StatusCode::InvalidParameters,
                "uid: 1 to 36 printable characters",
            ));
        }
        let now = self.now();
        let key = token_key(&t.uid);
        let existing = self
            .ports
            .tokens
            .get(tenant, &key)
            .await
            .map_err(store_err)?;
        if let Some(e) = &existing
            && e.value.partner.as_deref() != Some(p.id.as_str())
        {
            return Err(Ocpi::fail(
                StatusCode::ClientError,
                format!("token {} is held by another party", t.uid),
            )
            .status(axum::http::StatusCode::CONFLICT));
        }
        let status = if t.valid {
            TokenStatus::Accepted
        } else {
            TokenStatus::Blocked
        };
        let mut token = match &existing {
            Some(e) => e.value.clone(),
            None => Token::new(tenant.clone(), key.clone(), status, now),
        };
        token.status = status;
        token.group_id = t.group_id.clone();
        token.partner = Some(p.id.clone());
        token.updated_at = now;
        self.ports
            .tokens
            .put(&token, Expected::from_read(&existing))
            .await
            .map_err(store_err)?;
        let docs = self.records::<Published>();
        let id = object_id(&p.id, &t.uid);
        let read = docs
            .get(tenant, &Published::key(RECEIVED, &id))
            .await
            .map_err(store_err)?;
        let rec = Published {
            tenant: tenant.clone(),
            module: RECEIVED.into(),
            object_id: id,
            audience: Some(p.id.clone()),
            last_updated: t.last_updated,
            body: serde_json::to_value(&t).unwrap_or_default(),
            members: Vec::new(),
        };
        docs.put(&rec, Expected::from_read(&read))
            .await
            .map_err(store_err)?;
        Ok(())
    }

    async fn received(&self, caller: &Registered, uid: &str) -> Result<Option<Value>, Ocpi> {
        let p = &caller.0.partner.value;
        Ok(self
            .records::<Published>()
            .get(&p.tenant, &Published::key(RECEIVED, &object_id(&p.id, uid)))
            .await
            .map_err(store_err)?
            .map(|r| r.value.body))
    }
}

/// `PUT .../tokens/{country_code}/{party_id}/{token_uid}`.
pub(super) async fn put(
    st: St,
    caller: Registered,
    Path((_, cc, pid, uid)): Path<(String, String, String, String)>,
    body: Bytes,
) -> Result<Ocpi, Ocpi> {
    own(&caller, &cc, &pid)?;
    let t: OcpiToken = json(&body)?;
    if !t.uid.eq_ignore_ascii_case(&uid)
        || !t.country_code.eq_ignore_ascii_case(&cc)
        || !t.party_id.eq_ignore_ascii_case(&pid)
    {
        return Err(Ocpi::fail(
            StatusCode::InvalidParameters,
            "the token's country_code, party_id and uid must be those of the URL",
        ));
    }
    st.accept_token(&caller, t).await?;
    Ok(Ocpi::done(&st))
}

/// `PATCH .../tokens/{country_code}/{party_id}/{token_uid}`: fields given replace what we hold;
/// `last_updated` is required.
pub(super) async fn patch(
    st: St,
    caller: Registered,
    Path((_, cc, pid, uid)): Path<(String, String, String, String)>,
    body: Bytes,
) -> Result<Ocpi, Ocpi> {
    own(&caller, &cc, &pid)?;
    let patch: Value = json(&body)?;
    let Some(fields) = patch.as_object() else {
        return Err(Ocpi::fail(
            StatusCode::InvalidParameters,
            "the body must be an object",
        ));
    };
    if !fields.contains_key("last_updated") {
        return Err(Ocpi::fail(
            StatusCode::InvalidParameters,
            "a PATCH must carry last_updated",
        ));
    }
    if ["country_code", "party_id", "uid"].iter().any(|k| {
        fields.get(*k).and_then(Value::as_str).is_some_and(|v| {
            !v.eq_ignore_ascii_case(match *k {
                "country_code" => &cc,
                "party_id" => &pid,
                _ => &uid,
            })
        })
    }) {
        return Err(Ocpi::fail(
            StatusCode::InvalidParameters,
            "country_code, party_id and uid cannot change",
        ));
    }
    let Some(mut held) = st.received(&caller, &uid).await? else {
        return Err(Ocpi::fail(StatusCode::UnknownToken, "unknown token"));
    };
    if let Some(h) = held.as_object_mut() {
        for (k, v) in fields {
            h.insert(k.clone(), v.clone());
        }
    }
    let t: OcpiToken = serde_json::from_value(held)
        .map_err(|e| Ocpi::fail(StatusCode::InvalidParameters, format!("the token: {e}")))?;
    st.accept_token(&caller, t).await?;
    Ok(Ocpi::done(&st))
}

/// `GET .../tokens/{country_code}/{party_id}/{token_uid}`: the token as we hold it.
pub(super) async fn get(
    st: St,
    caller: Registered,
    Path((_, cc, pid, uid)): Path<(String, String, String, String)>,
) -> Result<Ocpi, Ocpi> {
    own(&caller, &cc, &pid)?;
    match st.received(&caller, &uid).await? {
        Some(t) => Ok(Ocpi::ok(&st, t)),
        None => Err(Ocpi::fail(StatusCode::UnknownToken, "unknown token")),
    }
}
