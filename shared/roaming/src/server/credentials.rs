//! The versions and credentials endpoints: what a partner reads and calls to register, with its
//! registration token first and its own token after.

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode as Http};
use cpms_domain::roaming::{PartnerState, TokenUse};
use cpms_ocpi::StatusCode;
use cpms_ocpi::credentials::Credentials;
use cpms_ocpi::versions::{
    Endpoint, InterfaceRole, ModuleId, Version, VersionDetails, VersionNumber,
};

use super::{Caller, Ocpi, St, VERSION, json};
use crate::Roaming;

/// The modules this server offers, with its side of each.
pub(crate) const MODULES: &[(ModuleId, InterfaceRole)] = &[
    (ModuleId::Credentials, InterfaceRole::Sender),
    (ModuleId::Credentials, InterfaceRole::Receiver),
    (ModuleId::Locations, InterfaceRole::Sender),
    (ModuleId::Sessions, InterfaceRole::Sender),
    (ModuleId::Cdrs, InterfaceRole::Sender),
    (ModuleId::Tariffs, InterfaceRole::Sender),
    (ModuleId::Tokens, InterfaceRole::Receiver),
    (ModuleId::Commands, InterfaceRole::Receiver),
];

/// `GET /ocpi/{tenant}/versions`.
pub(super) async fn versions(st: St, headers: HeaderMap, caller: Caller) -> Ocpi {
    let base = Roaming::ocpi_base(&st.base_url(&headers), caller.tenant());
    Ocpi::ok(
        &st,
        vec![Version {
            version: VersionNumber::V2_2_1,
            url: format!("{base}/{VERSION}"),
        }],
    )
}

/// `GET /ocpi/{tenant}/2.2.1`.
pub(super) async fn details(st: St, headers: HeaderMap, caller: Caller) -> Ocpi {
    let base = format!(
        "{}/{VERSION}",
        Roaming::ocpi_base(&st.base_url(&headers), caller.tenant())
    );
    Ocpi::ok(
        &st,
        VersionDetails {
            version: VersionNumber::V2_2_1,
            endpoints: MODULES
                .iter()
                .map(|(m, side)| Endpoint {
                    identifier: *m,
                    role: Some(*side),
                    url: format!("{base}/{}", m.as_str()),
                })
                .collect(),
        },
    )
}

/// `GET .../credentials`: ours, with the token the caller uses.
pub(super) async fn get(st: St, headers: HeaderMap, caller: Caller) -> Result<Ocpi, Ocpi> {
    let settings = st.configured(caller.tenant()).await.map_err(Ocpi::from)?;
    let url = format!(
        "{}/versions",
        Roaming::ocpi_base(&st.base_url(&headers), caller.tenant())
    );
    Ok(Ocpi::ok(
        &st,
        Roaming::our_credentials(&settings, caller.token.clone(), url),
    ))
}

async fn register(
    st: St,
    headers: HeaderMap,
    caller: Caller,
    body: Bytes,
    update: bool,
) -> Result<Ocpi, Ocpi> {
    let theirs: Credentials = json(&body)?;
    theirs
        .check()
        .map_err(|e| Ocpi::fail(StatusCode::InvalidParameters, e))?;
    let registered = caller.partner.value.state == PartnerState::Registered;
    match (update, caller.token_use, registered) {
        // POST by a registered partner, or PUT before registering: 405, as the module says.
        (false, TokenUse::Registered, _) | (true, TokenUse::Registration, _) => {
            return Err(Ocpi::fail(
                StatusCode::ClientError,
                if update {
                    "not registered: POST the credentials first"
                } else {
                    "registered already: update the credentials with PUT"
                },
            )
            .status(Http::METHOD_NOT_ALLOWED));
        }
        _ => {}
    }
    let base = st.base_url(&headers);
    let ours = st
        .accept_credentials(caller.partner, theirs, update, &base)
        .await
        .map_err(Ocpi::from)?;
    Ok(Ocpi::ok(&st, ours))
}

/// `POST .../credentials`: a partner registers with its registration token.
pub(super) async fn post(
    st: St,
    headers: HeaderMap,
    caller: Caller,
    body: Bytes,
) -> Result<Ocpi, Ocpi> {
    register(st, headers, caller, body, false).await
}

/// `PUT .../credentials`: a registered partner updates its credentials (and gets a new token).
pub(super) async fn put(
    st: St,
    headers: HeaderMap,
    caller: Caller,
    body: Bytes,
) -> Result<Ocpi, Ocpi> {
    register(st, headers, caller, body, true).await
}

/// `DELETE .../credentials`: a registered partner unregisters.
pub(super) async fn delete(st: St, caller: Caller) -> Result<Ocpi, Ocpi> {
    if caller.token_use != TokenUse::Registered {
        return Err(
            Ocpi::fail(StatusCode::ClientError, "not registered").status(Http::METHOD_NOT_ALLOWED)
        );
    }
    st.partner_unregistered(caller.partner)
        .await
        .map_err(Ocpi::from)?;
    Ok(Ocpi::done(&st))
}
