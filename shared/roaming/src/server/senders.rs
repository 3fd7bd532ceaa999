//! The Sender interfaces of the modules we own: locations (all partners see them, each connector
//! naming the caller's own tariff where it has one), tariffs (the public ones and the caller's own),
//! sessions and CDRs (a partner sees those of its own tokens). Lists are paginated as OCPI says: `offset`, `limit` (at
//! most 100), `date_from` inclusive and `date_to` exclusive on `last_updated`, answered with
//! `X-Total-Count`, `X-Limit` and a `Link` to the next page.

use axum::extract::{Path, RawQuery};
use axum::http::HeaderMap;
use cpms_domain::roaming::Published;
use cpms_ocpi::StatusCode;
use cpms_ocpi::headers::{LIMIT, LINK, TOTAL_COUNT};
use cpms_ocpi::page::PageParams;
use cpms_ports::{Documents, PageRequest};
use serde_json::Value;

use super::{Ocpi, Registered, St, VERSION};
use crate::Roaming;
use crate::publish::{CDRS, LOCATIONS, SESSIONS, TARIFFS};

/// How many records one read of the store takes while a list is counted.
const SCAN: usize = 500;

impl Roaming {
    /// One page of a module's published objects as `audience` sees them (`None`: what every partner
    /// sees), and how many there are in all: what a partner's GET answers.
    pub async fn published_page(
        &self,
        tenant: &cpms_domain::TenantId,
        module: &str,
        audience: Option<&str>,
        p: &PageParams,
    ) -> Result<(Vec<Value>, usize), cpms_ports::StoreError> {
        page_of(self, tenant, module, audience, p).await
    }
}

/// One page of a module's objects as `audience` sees them, and how many there are in all. The whole
/// period is walked to count it, but only the page's objects are decoded.
pub(crate) async fn page_of(
    r: &Roaming,
    tenant: &cpms_domain::TenantId,
    module: &str,
    audience: Option<&str>,
    p: &PageParams,
) -> Result<(Vec<Value>, usize), cpms_ports::StoreError> {
    let stamp =
        |t: chrono::DateTime<chrono::Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let mut page = PageRequest::first(SCAN);
    let (mut items, mut total) = (Vec::new(), 0usize);
    loop {
        let q = Documents::<Published>::by_index(
            0,
            Published::audience_list(module, audience),
            page.clone(),
        )
        .range(p.date_from.map(stamp), p.date_to.map(stamp));
        let found = r.ports.docs.query(tenant, &q).await?;
        for d in found.items {
            if total >= p.offset && items.len() < p.limit {
                let o: Published = serde_json::from_str(&d.value.body).map_err(|e| {
                    cpms_ports::StoreError::Corrupt {
                        key: d.value.id.clone(),
                        reason: e.to_string(),
                    }
                })?;
                items.push(o.body);
            }
            total += 1;
        }
        match found.next {
            Some(n) => page.cursor = Some(n),
            None => return Ok((items, total)),
        }
    }
}

async fn list(
    st: St,
    headers: HeaderMap,
    caller: Registered,
    query: Option<String>,
    module: &str,
    own: bool,
) -> Result<Ocpi, Ocpi> {
    let p = PageParams::parse(query.as_deref())
        .map_err(|e| Ocpi::fail(StatusCode::InvalidParameters, e))?;
    let c = caller.0;
    let audience = own.then(|| c.partner.value.id.clone());
    let (mut items, total) = if module == TARIFFS {
        tariffs_page(&st, c.tenant(), &c.partner.value.id, &p).await
    } else {
        page_of(&st, c.tenant(), module, audience.as_deref(), &p).await
    }
    .map_err(|e| Ocpi::from(crate::RoamingError::Store(e)))?;
    if module == LOCATIONS {
        let tariff = own_tariff(&st, &c.partner.value).await?;
        for loc in &mut items {
            crate::tariffs::location_for_partner(loc, tariff.as_deref());
        }
    }
    let url = format!(
        "{}/{VERSION}/{module}",
        Roaming::ocpi_base(&st.base_url(&headers), c.tenant())
    );
    let mut out = Ocpi::ok(&st, items)
        .header(TOTAL_COUNT, total.to_string())
        .header(LIMIT, p.limit.to_string());
    if let Some(link) = p.next_link(&url, total) {
        out = out.header(LINK, link);
    }
    Ok(out)
}

/// `GET .../locations`.
pub(super) async fn locations(
    st: St,
    headers: HeaderMap,
    caller: Registered,
    RawQuery(q): RawQuery,
) -> Result<Ocpi, Ocpi> {
    list(st, headers, caller, q, LOCATIONS, false).await
}

/// `GET .../tariffs`: every partner's and the caller's own.
pub(super) async fn tariffs(
    st: St,
    headers: HeaderMap,
    caller: Registered,
    RawQuery(q): RawQuery,
) -> Result<Ocpi, Ocpi> {
    list(st, headers, caller, q, TARIFFS, true).await
}

/// The tariff a partner's drivers pay, where it has one of its own.
async fn own_tariff(
    st: &Roaming,
    p: &cpms_domain::roaming::Partner,
) -> Result<Option<String>, Ocpi> {
    st.partner_tariff(p)
        .await
        .map_err(|e| Ocpi::from(crate::RoamingError::Store(e)))
}

/// The most tariffs a tenant publishes to one partner that a list is made of (they are few: a list
/// is read whole, both what every partner sees and the caller's own, and merged in order).
const MAX_TARIFFS: usize = 10_000;

/// One page of the tariffs `partner` sees, and how many there are in all.
async fn tariffs_page(
    r: &Roaming,
    tenant: &cpms_domain::TenantId,
    partner: &str,
    p: &PageParams,
) -> Result<(Vec<Value>, usize), cpms_ports::StoreError> {
    let whole = PageParams {
        offset: 0,
        limit: MAX_TARIFFS,
        ..p.clone()
    };
    let (mut all, _) = page_of(r, tenant, TARIFFS, None, &whole).await?;
    all.extend(page_of(r, tenant, TARIFFS, Some(partner), &whole).await?.0);
    let key = |v: &Value| {
        (
            v["last_updated"].as_str().unwrap_or_default().to_string(),
            v["id"].as_str().unwrap_or_default().to_string(),
        )
    };
    all.sort_by_key(key);
    let total = all.len();
    Ok((
        all.into_iter().skip(p.offset).take(p.limit).collect(),
        total,
    ))
}

/// `GET .../sessions`: the caller's.
pub(super) async fn sessions(
    st: St,
    headers: HeaderMap,
    caller: Registered,
    RawQuery(q): RawQuery,
) -> Result<Ocpi, Ocpi> {
    list(st, headers, caller, q, SESSIONS, true).await
}

/// `GET .../cdrs`: the caller's.
pub(super) async fn cdrs(
    st: St,
    headers: HeaderMap,
    caller: Registered,
    RawQuery(q): RawQuery,
) -> Result<Ocpi, Ocpi> {
    list(st, headers, caller, q, CDRS, true).await
}

fn unknown_location() -> Ocpi {
    Ocpi::fail(StatusCode::UnknownLocation, "unknown location")
}

/// A location as the caller sees it (its connectors name the caller's own tariff, where it has one).
async fn location_body(st: &Roaming, caller: &Registered, id: &str) -> Result<Value, Ocpi> {
    let mut loc = st
        .records::<Published>()
        .get(caller.0.tenant(), &Published::key(LOCATIONS, id))
        .await
        .map_err(|e| Ocpi::from(crate::RoamingError::Store(e)))?
        .map(|o| o.value.body)
        .ok_or_else(unknown_location)?;
    let tariff = own_tariff(st, &caller.0.partner.value).await?;
    crate::tariffs::location_for_partner(&mut loc, tariff.as_deref());
    Ok(loc)
}

fn evse_of(loc: &Value, uid: &str) -> Result<Value, Ocpi> {
    loc["evses"]
        .as_array()
        .and_then(|a| a.iter().find(|e| e["uid"] == uid))
        .cloned()
        .ok_or_else(unknown_location)
}

/// `GET .../locations/{location_id}`.
pub(super) async fn location(
    st: St,
    caller: Registered,
    Path((_, id)): Path<(String, String)>,
) -> Result<Ocpi, Ocpi> {
    let loc = location_body(&st, &caller, &id).await?;
    Ok(Ocpi::ok(&st, loc))
}

/// `GET .../locations/{location_id}/{evse_uid}`.
pub(super) async fn evse(
    st: St,
    caller: Registered,
    Path((_, id, uid)): Path<(String, String, String)>,
) -> Result<Ocpi, Ocpi> {
    let loc = location_body(&st, &caller, &id).await?;
    Ok(Ocpi::ok(&st, evse_of(&loc, &uid)?))
}

/// `GET .../locations/{location_id}/{evse_uid}/{connector_id}`.
pub(super) async fn connector(
    st: St,
    caller: Registered,
    Path((_, id, uid, connector)): Path<(String, String, String, String)>,
) -> Result<Ocpi, Ocpi> {
    let loc = location_body(&st, &caller, &id).await?;
    let e = evse_of(&loc, &uid)?;
    let c = e["connectors"]
        .as_array()
        .and_then(|a| a.iter().find(|c| c["id"] == connector.as_str()))
        .cloned()
        .ok_or_else(unknown_location)?;
    Ok(Ocpi::ok(&st, c))
}
