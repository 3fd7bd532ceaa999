//! Sessions and their samples in the embedded store.

use std::ops::Bound;

use async_trait::async_trait;
use cpms_domain::meter::MeterSample;
use cpms_domain::session::Session;
use cpms_domain::{ChargerId, SessionId, TenantId};
use cpms_ports::{
    Page, PageRequest, SessionFilter, SessionStore, SessionWrite, StoreError, Versioned,
};
use redb::{ReadTransaction, ReadableTable};

use super::{
    EmbeddedStore, SAMPLES, SESSIONS, SESSIONS_ACTIVE, SESSIONS_BY_CHARGER, SESSIONS_BY_TIME,
    append_outbox, check, cursor, encode_events, from_json, read_versioned, to_json, unavailable,
};

/// Newest-first order of a session: later creation sorts first.
fn order(s: &Session) -> u64 {
    u64::MAX - s.created_at.timestamp_millis().max(0) as u64
}

fn e(err: impl std::fmt::Display) -> StoreError {
    unavailable("sessions", err)
}

#[async_trait]
impl SessionStore for EmbeddedStore {
    async fn get(
        &self,
        tenant: &TenantId,
        id: &SessionId,
    ) -> Result<Option<Versioned<Session>>, StoreError> {
        self.read(|txn| {
            let t = txn.open_table(SESSIONS).map_err(e)?;
            let key = (
                tenant.as_str(),
                id.charger.as_str(),
                id.transaction.as_str(),
            );
            read_versioned(&t, key, &id.to_string())
        })
    }

    async fn put(&self, w: SessionWrite<'_>) -> Result<u64, StoreError> {
        let json = to_json(w.session)?;
        let samples = (!w.new_samples.is_empty())
            .then(|| to_json(&w.new_samples))
            .transpose()?;
        let s = w.session;
        let (tenant, charger, tx) = (
            s.tenant.to_string(),
            s.id.charger.to_string(),
            s.id.transaction.clone(),
        );
        let (ord, active, expected, events) = (
            order(s),
            s.ended_at.is_none(),
            w.expected,
            encode_events(w.events)?,
        );
        let seq = self.seq();
        self.write(move |txn| {
            let key = (tenant.as_str(), charger.as_str(), tx.as_str());
            let mut t = txn.open_table(SESSIONS).map_err(e)?;
            let current = t.get(key).map_err(e)?.map(|g| g.value().0);
            let version = check(expected, current)?;
            t.insert(key, (version, json.as_slice())).map_err(e)?;
            drop(t);
            if current.is_none() {
                let mut by_time = txn.open_table(SESSIONS_BY_TIME).map_err(e)?;
                by_time.insert((key.0, ord, key.1, key.2), ()).map_err(e)?;
                drop(by_time);
                let mut by_charger = txn.open_table(SESSIONS_BY_CHARGER).map_err(e)?;
                by_charger
                    .insert((key.0, key.1, ord, key.2), ())
                    .map_err(e)?;
            }
            // The active set changes rarely: touch it only when it must change.
            let mut act = txn.open_table(SESSIONS_ACTIVE).map_err(e)?;
            let listed = act.get(key).map_err(e)?.is_some();
            if active && !listed {
                act.insert(key, ()).map_err(e)?;
            } else if !active && listed {
                act.remove(key).map_err(e)?;
            }
            drop(act);
            if let Some(bytes) = &samples {
                let mut st = txn.open_table(SAMPLES).map_err(e)?;
                st.insert((key.0, key.1, key.2, version as u32), bytes.as_slice())
                    .map_err(e)?;
            }
            append_outbox(txn, &seq, &events)?;
            Ok(version)
        })
        .await
    }

    async fn list(
        &self,
        tenant: &TenantId,
        filter: &SessionFilter,
        page: &PageRequest,
    ) -> Result<Page<Session>, StoreError> {
        let after: Option<(u64, String, String)> =
            page.cursor.as_deref().map(cursor::decode).transpose()?;
        self.read(|txn| {
            let sessions = txn.open_table(SESSIONS).map_err(e)?;
            let mut items = Vec::new();
            let mut last = None;
            let mut take = |ord: u64, charger: &str, tx: &str| -> Result<bool, StoreError> {
                if items.len() >= page.limit {
                    return Ok(false);
                }
                let key = (tenant.as_str(), charger, tx);
                if let Some(v) = read_versioned::<_, Session>(&sessions, key, tx)?
                    && filter.status.is_none_or(|st| st == v.value.status)
                {
                    items.push(v.value);
                }
                last = Some((ord, charger.to_string(), tx.to_string()));
                Ok(true)
            };
            let ten = tenant.as_str();
            match &filter.charger {
                Some(cp) => {
                    let idx = txn.open_table(SESSIONS_BY_CHARGER).map_err(e)?;
                    let start = match &after {
                        Some((o, _, tx)) => Bound::Excluded((ten, cp.as_str(), *o, tx.as_str())),
                        None => Bound::Included((ten, cp.as_str(), 0, "")),
                    };
                    for entry in idx
                        .range::<(&str, &str, u64, &str)>((start, Bound::Unbounded))
                        .map_err(e)?
                    {
                        let (k, _) = entry.map_err(e)?;
                        let (kt, kc, o, tx) = k.value();
                        if kt != ten || kc != cp.as_str() || !take(o, kc, tx)? {
                            break;
                        }
                    }
                }
                None => {
                    let idx = txn.open_table(SESSIONS_BY_TIME).map_err(e)?;
                    let start = match &after {
                        Some((o, c, tx)) => Bound::Excluded((ten, *o, c.as_str(), tx.as_str())),
                        None => Bound::Included((ten, 0, "", "")),
                    };
                    for entry in idx
                        .range::<(&str, u64, &str, &str)>((start, Bound::Unbounded))
                        .map_err(e)?
                    {
                        let (k, _) = entry.map_err(e)?;
                        let (kt, o, c, tx) = k.value();
                        if kt != ten || !take(o, c, tx)? {
                            break;
                        }
                    }
                }
            }
            let next = cursor::next_if_full(&items, page.limit, last);
            Ok(Page { items, next })
        })
    }

    async fn active(
        &self,
        tenant: &TenantId,
        charger: &ChargerId,
    ) -> Result<Vec<Session>, StoreError> {
        self.read(|txn| {
            let idx = txn.open_table(SESSIONS_ACTIVE).map_err(e)?;
            let sessions = txn.open_table(SESSIONS).map_err(e)?;
            let (ten, cp) = (tenant.as_str(), charger.as_str());
            let mut out = Vec::new();
            for entry in idx
                .range::<(&str, &str, &str)>((ten, cp, "")..)
                .map_err(e)?
            {
                let (k, _) = entry.map_err(e)?;
                let (kt, kc, tx) = k.value();
                if kt != ten || kc != cp {
                    break;
                }
                if let Some(v) = read_versioned::<_, Session>(&sessions, (kt, kc, tx), tx)? {
                    out.push(v.value);
                }
            }
            Ok(out)
        })
    }

    async fn samples(
        &self,
        tenant: &TenantId,
        id: &SessionId,
        page: &PageRequest,
    ) -> Result<Page<MeterSample>, StoreError> {
        let after: Option<(u32, usize)> = page.cursor.as_deref().map(cursor::decode).transpose()?;
        self.read(|txn| read_samples(txn, tenant, id, page.limit, after))
    }
}

fn read_samples(
    txn: &ReadTransaction,
    tenant: &TenantId,
    id: &SessionId,
    limit: usize,
    after: Option<(u32, usize)>,
) -> Result<Page<MeterSample>, StoreError> {
    let t = txn.open_table(SAMPLES).map_err(e)?;
    let (ten, cp, tx) = (
        tenant.as_str(),
        id.charger.as_str(),
        id.transaction.as_str(),
    );
    let (from_batch, skip) = after.map_or((0, 0), |(b, i)| (b, i + 1));
    let mut items = Vec::new();
    let mut last = None;
    'outer: for entry in t
        .range::<(&str, &str, &str, u32)>((ten, cp, tx, from_batch)..)
        .map_err(e)?
    {
        let (k, v) = entry.map_err(e)?;
        let (kt, kc, ktx, batch) = k.value();
        if (kt, kc, ktx) != (ten, cp, tx) {
            break;
        }
        let samples: Vec<MeterSample> = from_json(tx, v.value())?;
        let start = if batch == from_batch { skip } else { 0 };
        for (i, s) in samples.into_iter().enumerate().skip(start) {
            if items.len() >= limit {
                break 'outer;
            }
            items.push(s);
            last = Some((batch, i));
        }
    }
    let next = cursor::next_if_full(&items, limit, last);
    Ok(Page { items, next })
}
