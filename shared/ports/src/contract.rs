//! The contract every adapter of the storage ports must honour, as test functions the adapters' own tests
//! call with their implementation. Each takes a `run` tag that keeps its records apart from other runs
//! against the same backing store (a shared emulator, a persistent data dir).
//!
//! A failed expectation panics: these are test functions.

use chrono::{DateTime, Duration, TimeZone, Utc};
use cpms_domain::charger::Charger;
use cpms_domain::log::{ConnectionAttempt, LogEntry, LogKind};
use cpms_domain::meter::MeterSample;
use cpms_domain::session::{Session, SessionStatus};
use cpms_domain::token::{Token, TokenStatus, token_key};
use cpms_domain::{ChargerId, OcppVersion, SessionId, TenantId};
use rust_decimal::Decimal;

use crate::{
    AttemptStore, ChargerStore, ConnectionInfo, ConnectionRegistry, Expected, LogStore,
    PageRequest, SessionFilter, SessionStore, SessionWrite, StoreError, TokenStore,
};

fn t(min: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 5, 1, 12, 0, 0).unwrap() + Duration::minutes(min)
}

fn tenant(run: &str, n: u8) -> TenantId {
    TenantId::new(format!("{run}-t{n}")).unwrap()
}

fn charger_id(run: &str, name: &str) -> ChargerId {
    ChargerId::new(format!("{run}-{name}")).unwrap()
}

/// Conditional writes, reads and tenant-scoped, paged listing of chargers.
pub async fn charger_store(store: &dyn ChargerStore, run: &str) {
    let (a, b) = (tenant(run, 1), tenant(run, 2));
    let id = charger_id(run, "CP1");
    assert!(store.get(&id).await.unwrap().is_none());
    let mut c = Charger::register(a.clone(), id.clone(), t(0));
    assert_eq!(store.put(&c, Expected::Absent, &[]).await, Ok(1));
    assert_eq!(
        store.put(&c, Expected::Absent, &[]).await,
        Err(StoreError::Conflict)
    );
    c.name = Some("Bay 1".into());
    assert_eq!(store.put(&c, Expected::Version(1), &[]).await, Ok(2));
    assert_eq!(
        store.put(&c, Expected::Version(1), &[]).await,
        Err(StoreError::Conflict)
    );
    let got = store.get(&id).await.unwrap().unwrap();
    assert_eq!((got.version, &got.value), (2, &c));

    for n in ["CP3", "CP2", "CP4"] {
        let other = Charger::register(a.clone(), charger_id(run, n), t(1));
        store.put(&other, Expected::Absent, &[]).await.unwrap();
    }
    let elsewhere = Charger::register(b.clone(), charger_id(run, "CPX"), t(1));
    store.put(&elsewhere, Expected::Absent, &[]).await.unwrap();
    let p1 = store.list(&a, &PageRequest::first(3)).await.unwrap();
    let names: Vec<_> = p1.items.iter().map(|c| c.id.to_string()).collect();
    let expect: Vec<_> = ["CP1", "CP2", "CP3"]
        .iter()
        .map(|n| format!("{run}-{n}"))
        .collect();
    assert_eq!(names, expect);
    let p2 = store
        .list(
            &a,
            &PageRequest {
                limit: 3,
                cursor: p1.next.clone(),
            },
        )
        .await
        .unwrap();
    assert_eq!(p2.items.len(), 1);
    assert_eq!(p2.next, None);
    let only_b = store.list(&b, &PageRequest::first(10)).await.unwrap();
    assert_eq!(only_b.items, vec![elsewhere]);
}

fn sample(at: i64, wh: i64) -> MeterSample {
    MeterSample::register_wh(t(at), Decimal::from(wh))
}

fn session(tenant: &TenantId, charger: &ChargerId, tx: &str, created: i64) -> Session {
    let id = SessionId::new(charger.clone(), tx);
    Session::new(tenant.clone(), id, OcppVersion::V201, t(created))
}

fn write<'a>(s: &'a Session, expected: Expected, samples: &'a [MeterSample]) -> SessionWrite<'a> {
    SessionWrite {
        session: s,
        expected,
        new_samples: samples,
        events: &[],
    }
}

/// What a session write that fails its condition leaves of its samples.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailedWriteSamples {
    /// Nothing (the samples commit with the session).
    Dropped,
    /// They may stay stored (written first, without a transaction; see the DynamoDB adapter): the
    /// samples of a message that is retried, so a reading may be listed twice.
    MayRemain,
}

/// Conditional session writes, appended samples, listing with filters, the active set.
pub async fn session_store(store: &dyn SessionStore, run: &str, failed: FailedWriteSamples) {
    let (a, b) = (tenant(run, 1), tenant(run, 2));
    let (cp1, cp2) = (charger_id(run, "CP1"), charger_id(run, "CP2"));
    let mut s1 = session(&a, &cp1, "tx-1", 0);
    assert!(store.get(&a, &s1.id).await.unwrap().is_none());
    let first = [sample(0, 100), sample(1, 150)];
    assert_eq!(store.put(write(&s1, Expected::Absent, &first)).await, Ok(1));
    assert_eq!(
        store.put(write(&s1, Expected::Absent, &[])).await,
        Err(StoreError::Conflict)
    );
    s1.sample_count = 3;
    assert_eq!(
        store
            .put(write(&s1, Expected::Version(1), &[sample(2, 200)]))
            .await,
        Ok(2)
    );
    assert_eq!(
        store
            .put(write(&s1, Expected::Version(1), &[sample(3, 999)]))
            .await,
        Err(StoreError::Conflict)
    );
    let got = store.get(&a, &s1.id).await.unwrap().unwrap();
    assert_eq!((got.version, &got.value), (2, &s1));
    assert!(
        store.get(&b, &s1.id).await.unwrap().is_none(),
        "tenants are apart"
    );

    let p = store
        .samples(&a, &s1.id, &PageRequest::first(2))
        .await
        .unwrap();
    assert_eq!(p.items, vec![sample(0, 100), sample(1, 150)]);
    let p = store
        .samples(
            &a,
            &s1.id,
            &PageRequest {
                limit: 2,
                cursor: p.next,
            },
        )
        .await
        .unwrap();
    match failed {
        FailedWriteSamples::Dropped => {
            assert_eq!((p.items, p.next), (vec![sample(2, 200)], None));
        }
        FailedWriteSamples::MayRemain => {
            assert_eq!(p.items[0], sample(2, 200));
            assert!(p.items[1..].iter().all(|x| *x == sample(3, 999)));
        }
    }

    let mut s2 = session(&a, &cp2, "tx-2", 5);
    store.put(write(&s2, Expected::Absent, &[])).await.unwrap();
    let s3 = session(&a, &cp1, "tx-3", 10);
    store.put(write(&s3, Expected::Absent, &[])).await.unwrap();
    store
        .put(write(&session(&b, &cp1, "tx-b", 20), Expected::Absent, &[]))
        .await
        .unwrap();

    let all = store
        .list(&a, &SessionFilter::default(), &PageRequest::first(10))
        .await
        .unwrap();
    let txs: Vec<_> = all
        .items
        .iter()
        .map(|s| s.id.transaction.as_str())
        .collect();
    assert_eq!(txs, ["tx-3", "tx-2", "tx-1"], "newest first");
    let page = store
        .list(&a, &SessionFilter::default(), &PageRequest::first(2))
        .await
        .unwrap();
    let rest = store
        .list(
            &a,
            &SessionFilter::default(),
            &PageRequest {
                limit: 2,
                cursor: page.next,
            },
        )
        .await
        .unwrap();
    assert_eq!(rest.items.len(), 1);
    let by_charger = SessionFilter {
        charger: Some(cp1.clone()),
        status: None,
    };
    let got = store
        .list(&a, &by_charger, &PageRequest::first(10))
        .await
        .unwrap();
    let txs: Vec<_> = got
        .items
        .iter()
        .map(|s| s.id.transaction.as_str())
        .collect();
    assert_eq!(txs, ["tx-3", "tx-1"]);

    s2.status = SessionStatus::Completed;
    s2.ended_at = Some(t(30));
    store
        .put(write(&s2, Expected::Version(1), &[]))
        .await
        .unwrap();
    let completed = SessionFilter {
        charger: None,
        status: Some(SessionStatus::Completed),
    };
    let got = store
        .list(&a, &completed, &PageRequest::first(10))
        .await
        .unwrap();
    assert_eq!(got.items, vec![s2.clone()]);
    let active: Vec<_> = store
        .active(&a, &cp1)
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.id)
        .collect();
    assert_eq!(active.len(), 2);
    assert!(store.active(&a, &cp2).await.unwrap().is_empty());
    assert!(
        store
            .list(
                &a,
                &SessionFilter::default(),
                &PageRequest {
                    limit: 2,
                    cursor: Some("not a cursor".into())
                }
            )
            .await
            .is_err()
    );
}

/// Tokens: conditional writes, case-insensitive keys, tenant-scoped listing.
pub async fn token_store(store: &dyn TokenStore, run: &str) {
    let (a, b) = (tenant(run, 1), tenant(run, 2));
    let mut tok = Token::new(a.clone(), "04a1b2c3", TokenStatus::Accepted, t(0));
    assert_eq!(store.put(&tok, Expected::Absent).await, Ok(1));
    assert_eq!(
        store.put(&tok, Expected::Absent).await,
        Err(StoreError::Conflict)
    );
    tok.status = TokenStatus::Blocked;
    assert_eq!(store.put(&tok, Expected::Version(1)).await, Ok(2));
    let got = store
        .get(&a, &token_key("04A1B2C3"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!((got.version, got.value.status), (2, TokenStatus::Blocked));
    assert!(
        store
            .get(&b, &token_key("04A1B2C3"))
            .await
            .unwrap()
            .is_none()
    );
    let mut other = tok.clone();
    other.id = "AAA".into();
    store.put(&other, Expected::Absent).await.unwrap();
    let list = store.list(&a, &PageRequest::first(1)).await.unwrap();
    assert_eq!(list.items[0].id, "04a1b2c3");
    let rest = store
        .list(
            &a,
            &PageRequest {
                limit: 5,
                cursor: list.next,
            },
        )
        .await
        .unwrap();
    assert_eq!(rest.items[0].id, "AAA");
    assert!(
        store
            .list(&b, &PageRequest::first(5))
            .await
            .unwrap()
            .items
            .is_empty()
    );
}

/// The charger log and the connection attempts: append and list newest first.
pub async fn log_store(log: &dyn LogStore, attempts: &dyn AttemptStore, run: &str) {
    let a = tenant(run, 1);
    let cp = charger_id(run, "CP1");
    for i in 0..3 {
        let e = LogEntry {
            tenant: a.clone(),
            charger_id: cp.clone(),
            at: t(i),
            kind: LogKind::SecurityEvent,
            summary: format!("event {i}"),
            data: serde_json::json!({"i": i}),
        };
        log.append(&e).await.unwrap();
    }
    let p = log.list(&a, &cp, &PageRequest::first(2)).await.unwrap();
    let s: Vec<_> = p.items.iter().map(|e| e.summary.as_str()).collect();
    assert_eq!(s, ["event 2", "event 1"]);
    let p = log
        .list(
            &a,
            &cp,
            &PageRequest {
                limit: 2,
                cursor: p.next,
            },
        )
        .await
        .unwrap();
    assert_eq!(p.items[0].summary, "event 0");
    assert!(
        log.list(&tenant(run, 2), &cp, &PageRequest::first(5))
            .await
            .unwrap()
            .items
            .is_empty()
    );

    // Attempts are recent by nature (adapters may expire them after days): use the current time.
    let attempt = ConnectionAttempt {
        identity: format!("{run}-unknown"),
        at: Utc::now(),
        reason: "unknown charger".into(),
        remote_addr: Some("10.0.0.1".into()),
    };
    attempts.record(&attempt).await.unwrap();
    let got = attempts.list(&PageRequest::first(50)).await.unwrap();
    assert!(got.items.contains(&attempt));
}

/// The connection registry: put, get, remove.
pub async fn connection_registry(reg: &dyn ConnectionRegistry, run: &str) {
    let info = ConnectionInfo {
        connection_id: format!("{run}-conn"),
        tenant: tenant(run, 1),
        charger_id: charger_id(run, "CP1"),
        version: OcppVersion::V16,
        connected_at: t(0),
        accepted: false,
        remote_addr: None,
        last_seen_written: None,
    };
    assert!(reg.get(&info.connection_id).await.unwrap().is_none());
    reg.put(&info).await.unwrap();
    let mut accepted = info.clone();
    accepted.accepted = true;
    reg.put(&accepted).await.unwrap();
    assert_eq!(
        reg.get(&info.connection_id).await.unwrap(),
        Some(accepted.clone())
    );
    assert_eq!(
        reg.remove(&info.connection_id).await.unwrap(),
        Some(accepted)
    );
    assert!(reg.get(&info.connection_id).await.unwrap().is_none());
    assert_eq!(reg.remove(&info.connection_id).await.unwrap(), None);
}

/// Conditional single and batch puts, reads, tenant isolation, id and index listings of documents.
pub async fn document_store(store: &dyn crate::DocumentStore, run: &str) {
    use crate::documents::{Doc, DocQuery, DocWrite, IndexKey};
    let (a, b) = (tenant(run, 1), tenant(run, 2));
    let doc = |tenant: &TenantId, id: &str, body: &str, queue: Option<&str>| Doc {
        tenant: tenant.clone(),
        kind: "thing",
        id: id.into(),
        body: format!("{{\"v\":\"{body}\"}}"),
        index: [
            queue.map(|q| IndexKey {
                partition: q.into(),
                sort: format!("s-{id}"),
            }),
            None,
        ],
        expires_at: None,
    };
    let put = |d: Doc, expected: Expected| DocWrite {
        doc: d,
        expected,
        events: Vec::new(),
    };

    assert!(store.get(&a, "thing", "x1").await.unwrap().is_none());
    assert_eq!(
        store
            .write(&[put(doc(&a, "x1", "one", Some("q1")), Expected::Absent)])
            .await,
        Ok(vec![1])
    );
    assert_eq!(
        store
            .write(&[put(doc(&a, "x1", "again", None), Expected::Absent)])
            .await,
        Err(StoreError::Conflict)
    );
    assert_eq!(
        store
            .write(&[put(doc(&a, "x1", "two", Some("q1")), Expected::Version(1))])
            .await,
        Ok(vec![2])
    );
    let got = store.get(&a, "thing", "x1").await.unwrap().unwrap();
    assert_eq!(
        (got.version, got.value.body.as_str()),
        (2, "{\"v\":\"two\"}")
    );
    assert!(
        store.get(&b, "thing", "x1").await.unwrap().is_none(),
        "tenants are apart"
    );
    assert!(
        store.get(&a, "other", "x1").await.unwrap().is_none(),
        "kinds are apart"
    );

    // A batch is all or nothing.
    let batch = [
        put(doc(&a, "x2", "new", Some("q1")), Expected::Absent),
        put(doc(&a, "x1", "stale", None), Expected::Version(1)),
    ];
    assert_eq!(store.write(&batch).await, Err(StoreError::Conflict));
    assert!(store.get(&a, "thing", "x2").await.unwrap().is_none());
    let batch = [
        put(doc(&a, "x2", "new", Some("q1")), Expected::Absent),
        put(doc(&a, "x1", "three", None), Expected::Version(2)),
    ];
    assert_eq!(store.write(&batch).await, Ok(vec![1, 3]));

    for id in ["x3", "x5", "x4"] {
        store
            .write(&[put(doc(&a, id, id, Some("q2")), Expected::Absent)])
            .await
            .unwrap();
    }
    store
        .write(&[put(doc(&b, "x9", "b", Some("q1")), Expected::Absent)])
        .await
        .unwrap();

    // By id, paged, both directions, with a range.
    let ids = |p: &crate::Page<crate::Versioned<Doc>>| {
        p.items
            .iter()
            .map(|d| d.value.id.clone())
            .collect::<Vec<_>>()
    };
    let p1 = store
        .query(&a, &DocQuery::by_id("thing", PageRequest::first(3)))
        .await
        .unwrap();
    assert_eq!(ids(&p1), ["x1", "x2", "x3"]);
    let p2 = store
        .query(
            &a,
            &DocQuery::by_id(
                "thing",
                PageRequest {
                    limit: 3,
                    cursor: p1.next.clone(),
                },
            ),
        )
        .await
        .unwrap();
    assert_eq!(ids(&p2), ["x4", "x5"]);
    assert_eq!(p2.next, None);
    let desc = store
        .query(
            &a,
            &DocQuery::by_id("thing", PageRequest::first(2)).descending(),
        )
        .await
        .unwrap();
    assert_eq!(ids(&desc), ["x5", "x4"]);
    let ranged = store
        .query(
            &a,
            &DocQuery::by_id("thing", PageRequest::first(10))
                .range(Some("x2".into()), Some("x4".into())),
        )
        .await
        .unwrap();
    assert_eq!(ids(&ranged), ["x2", "x3"]);
    let ranged_desc = store
        .query(
            &a,
            &DocQuery::by_id("thing", PageRequest::first(10))
                .range(Some("x2".into()), Some("x4".into()))
                .descending(),
        )
        .await
        .unwrap();
    assert_eq!(ids(&ranged_desc), ["x3", "x2"]);

    // Index listings are sparse: x1 left q1 when it was written without it.
    let q1 = store
        .query(
            &a,
            &DocQuery::by_index("thing", 0, "q1", PageRequest::first(10)),
        )
        .await
        .unwrap();
    assert_eq!(ids(&q1), ["x2"]);
    assert_eq!(q1.items[0].version, 1);
    let q2 = store
        .query(
            &a,
            &DocQuery::by_index("thing", 0, "q2", PageRequest::first(2)),
        )
        .await
        .unwrap();
    assert_eq!(ids(&q2), ["x3", "x4"]);
    let q2b = store
        .query(
            &a,
            &DocQuery::by_index(
                "thing",
                0,
                "q2",
                PageRequest {
                    limit: 2,
                    cursor: q2.next.clone(),
                },
            ),
        )
        .await
        .unwrap();
    assert_eq!(ids(&q2b), ["x5"]);
    let q2d = store
        .query(
            &a,
            &DocQuery::by_index("thing", 0, "q2", PageRequest::first(10)).descending(),
        )
        .await
        .unwrap();
    assert_eq!(ids(&q2d), ["x5", "x4", "x3"]);
    let other_slot = store
        .query(
            &a,
            &DocQuery::by_index("thing", 1, "q2", PageRequest::first(10)),
        )
        .await
        .unwrap();
    assert!(other_slot.items.is_empty());
    let b_q1 = store
        .query(
            &b,
            &DocQuery::by_index("thing", 0, "q1", PageRequest::first(10)),
        )
        .await
        .unwrap();
    assert_eq!(ids(&b_q1), ["x9"]);

    // A cursor of one list is refused by another.
    let foreign = store
        .query(
            &b,
            &DocQuery::by_id(
                "thing",
                PageRequest {
                    limit: 3,
                    cursor: p1.next.clone(),
                },
            ),
        )
        .await;
    assert_eq!(foreign.err(), Some(StoreError::BadCursor));
    let junk = store
        .query(
            &a,
            &DocQuery::by_id(
                "thing",
                PageRequest {
                    limit: 3,
                    cursor: Some("not a cursor".into()),
                },
            ),
        )
        .await;
    assert_eq!(junk.err(), Some(StoreError::BadCursor));

    // Delete: the document and its index entries go; deleting again, or another tenant's, finds none.
    assert_eq!(store.delete(&b, "thing", "x3").await, Ok(false));
    assert_eq!(store.delete(&a, "thing", "x3").await, Ok(true));
    assert!(store.get(&a, "thing", "x3").await.unwrap().is_none());
    assert_eq!(store.delete(&a, "thing", "x3").await, Ok(false));
    // A conditional delete: refused once the document moved on, done at its version.
    let v = store
        .write(&[put(doc(&a, "x9", "nine", Some("q9")), Expected::Absent)])
        .await
        .unwrap()[0];
    let v2 = store
        .write(&[put(
            doc(&a, "x9", "nine again", Some("q9")),
            Expected::Version(v),
        )])
        .await
        .unwrap()[0];
    assert_eq!(
        store.delete_if(&a, "thing", "x9", v).await,
        Err(StoreError::Conflict)
    );
    assert_eq!(store.delete_if(&a, "thing", "x9", v2).await, Ok(true));
    assert_eq!(store.delete_if(&a, "thing", "x9", v2).await, Ok(false));
    let q9 = store
        .query(
            &a,
            &DocQuery::by_index("thing", 0, "q9", PageRequest::first(10)),
        )
        .await
        .unwrap();
    assert!(q9.items.is_empty());
    let q2 = store
        .query(
            &a,
            &DocQuery::by_index("thing", 0, "q2", PageRequest::first(10)),
        )
        .await
        .unwrap();
    assert_eq!(ids(&q2), ["x4", "x5"]);
    assert_eq!(
        store
            .write(&[put(doc(&a, "x3", "again", Some("q2")), Expected::Absent)])
            .await,
        Ok(vec![1]),
        "a deleted id can be created again"
    );
}
