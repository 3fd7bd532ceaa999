//! The embedded store against the port contracts, plus what is particular to it: durability across a
//! reopen, group commit under concurrency, the outbox.

use std::sync::Arc;

use chrono::{TimeZone, Utc};
use cpms_domain::charger::Charger;
use cpms_domain::events;
use cpms_domain::{ChargerId, TenantId};
use cpms_ports::{ChargerStore, Expected, contract};

use super::{Durability, EmbeddedStore};

fn open(dir: &tempfile::TempDir) -> EmbeddedStore {
    EmbeddedStore::open(dir.path(), Durability::Immediate).unwrap()
}

#[tokio::test]
async fn honours_the_store_contracts() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    contract::charger_store(&store, "emb").await;
    contract::session_store(&store, "emb", contract::FailedWriteSamples::Dropped).await;
    contract::token_store(&store, "emb").await;
    contract::document_store(&store, "emb").await;
    contract::log_store(&store, &store, "emb").await;
}

fn charger(n: usize) -> Charger {
    let at = Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap();
    Charger::register(
        TenantId::default_tenant(),
        ChargerId::new(format!("CP{n}")).unwrap(),
        at,
    )
}

#[tokio::test]
async fn what_was_acknowledged_survives_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = open(&dir);
        store.put(&charger(1), Expected::Absent, &[]).await.unwrap();
    }
    let store = open(&dir);
    assert_eq!(store.get(&charger(1).id).await.unwrap().unwrap().version, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writes_share_commits_and_conflicts_stay_per_write() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(open(&dir));
    let mut tasks = Vec::new();
    for n in 0..200 {
        let s = store.clone();
        tasks.push(tokio::spawn(async move {
            s.put(&charger(n % 100), Expected::Absent, &[]).await
        }));
    }
    let mut ok = 0;
    let mut conflicts = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(1) => ok += 1,
            Err(cpms_ports::StoreError::Conflict) => conflicts += 1,
            other => panic!("{other:?}"),
        }
    }
    assert_eq!((ok, conflicts), (100, 100));
}

#[tokio::test]
async fn events_written_with_a_change_reach_the_outbox_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    let old = charger(1);
    let mut new = old.clone();
    new.connection = Some(cpms_domain::charger::Connection {
        id: "c1".into(),
        version: cpms_domain::OcppVersion::V16,
        connected_at: new.created_at,
    });
    let evs = events::for_charger(Some(&old), &new);
    store.put(&new, Expected::Absent, &evs).await.unwrap();
    let out = store.outbox_peek(10).unwrap();
    assert_eq!(out.iter().map(|(_, e)| e.clone()).collect::<Vec<_>>(), evs);
    store
        .outbox_ack(out.iter().map(|(s, _)| *s).collect())
        .await
        .unwrap();
    assert!(store.outbox_peek(10).unwrap().is_empty());
}

fn connected(n: usize) -> (Charger, Vec<events::DomainEvent>) {
    let old = charger(n);
    let mut new = old.clone();
    new.connection = Some(cpms_domain::charger::Connection {
        id: format!("c{n}"),
        version: cpms_domain::OcppVersion::V201,
        connected_at: new.created_at,
    });
    let evs = events::for_charger(Some(&old), &new);
    (new, evs)
}

#[tokio::test]
async fn an_event_leaves_the_outbox_only_when_every_consumer_is_done_with_it() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    let bus = Arc::new(crate::InProcessBus::new());
    let mut a = bus.subscribe("a", 16);
    let mut b = bus.subscribe("b", 16);
    let (c, evs) = connected(2);
    store.put(&c, Expected::Absent, &evs).await.unwrap();
    let mut relay = crate::OutboxRelay::new(store.clone(), bus.clone());
    assert_eq!(relay.drain_once().await.unwrap(), 1);
    assert_eq!(relay.drain_once().await.unwrap(), 0, "handed out once");
    let da = a.recv().await.unwrap();
    assert_eq!(da.event, evs[0]);
    da.done();
    relay.settle_pending().await.unwrap();
    assert_eq!(store.outbox_peek(10).unwrap().len(), 1, "b is not done yet");
    b.recv().await.unwrap().done();
    relay.settle_pending().await.unwrap();
    assert!(store.outbox_peek(10).unwrap().is_empty());
}

#[tokio::test]
async fn what_was_handed_out_but_not_done_is_handed_out_again_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let (c, evs) = connected(3);
    {
        let store = open(&dir);
        store.put(&c, Expected::Absent, &evs).await.unwrap();
        let bus = Arc::new(crate::InProcessBus::new());
        let mut rx = bus.subscribe("billing", 16);
        let mut relay = crate::OutboxRelay::new(store.clone(), bus.clone());
        relay.drain_once().await.unwrap();
        // The process dies with the event in the consumer's queue: it is never settled.
        std::mem::forget(rx.recv().await.unwrap());
    }
    let store = open(&dir);
    let bus = Arc::new(crate::InProcessBus::new());
    let mut rx = bus.subscribe("billing", 16);
    let mut relay = crate::OutboxRelay::new(store.clone(), bus.clone());
    assert_eq!(relay.drain_once().await.unwrap(), 1);
    assert_eq!(rx.recv().await.unwrap().event, evs[0]);
}

#[tokio::test]
async fn a_failed_event_is_delivered_again_and_then_kept_as_a_dead_letter() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    let bus = Arc::new(crate::InProcessBus::new());
    let mut rx = bus.subscribe("billing", 16);
    let (c, evs) = connected(4);
    store.put(&c, Expected::Absent, &evs).await.unwrap();
    let (stop_tx, stop) = tokio::sync::watch::channel(false);
    let relay = crate::OutboxRelay::new(store.clone(), bus.clone()).with_retry_delays(
        std::time::Duration::from_millis(1),
        std::time::Duration::from_millis(5),
    );
    let relay = tokio::spawn(relay.run(stop));
    for _ in 0..crate::bus::MAX_ATTEMPTS {
        let d = tokio::time::timeout(std::time::Duration::from_secs(5), rx.recv())
            .await
            .expect("delivered again")
            .unwrap();
        assert_eq!(d.event, evs[0]);
        drop(d); // failed
    }
    for _ in 0..100 {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        if store.outbox_peek(10).unwrap().is_empty() {
            break;
        }
    }
    assert!(store.outbox_peek(10).unwrap().is_empty());
    assert_eq!(store.dead_letters("billing", 10).unwrap(), evs);
    stop_tx.send(true).unwrap();
    relay.await.unwrap();
}

#[tokio::test]
async fn expired_documents_are_purged_with_their_index_entries() {
    use cpms_ports::{Doc, DocQuery, DocWrite, DocumentStore, IndexKey, PageRequest};
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    let t = TenantId::default_tenant();
    let now = Utc.with_ymd_and_hms(2026, 6, 1, 0, 0, 0).unwrap();
    let doc = |id: &str, expires: Option<chrono::DateTime<Utc>>| DocWrite {
        doc: Doc {
            tenant: t.clone(),
            kind: "thing",
            id: id.into(),
            body: "{}".into(),
            index: [
                Some(IndexKey {
                    partition: "p".into(),
                    sort: id.into(),
                }),
                None,
            ],
            expires_at: expires,
        },
        expected: Expected::Absent,
        events: Vec::new(),
    };
    let past = Some(now - chrono::Duration::days(1));
    let later = Some(now + chrono::Duration::days(1));
    DocumentStore::write(
        &store,
        &[doc("old", past), doc("new", later), doc("kept", None)],
    )
    .await
    .unwrap();
    // "new" is rewritten with an earlier expiry, which is now due too.
    let mut again = doc("new", past);
    again.expected = Expected::Version(1);
    DocumentStore::write(&store, &[again]).await.unwrap();
    assert_eq!(store.purge_expired(now, 1000).await.unwrap(), 2);
    assert_eq!(store.purge_expired(now, 1000).await.unwrap(), 0);
    assert!(
        DocumentStore::get(&store, &t, "thing", "old")
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        DocumentStore::get(&store, &t, "thing", "kept")
            .await
            .unwrap()
            .is_some()
    );
    let listed = DocumentStore::query(
        &store,
        &t,
        &DocQuery::by_index("thing", 0, "p", PageRequest::first(10)),
    )
    .await
    .unwrap();
    let ids: Vec<&str> = listed.items.iter().map(|d| d.value.id.as_str()).collect();
    assert_eq!(ids, ["kept"]);
}

#[tokio::test]
async fn a_consumer_gets_only_the_types_routed_to_it_and_an_event_nobody_wants_leaves_at_once() {
    // GIVEN the reconciler subscribed by the routing table (it takes session starts only)
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    let bus = Arc::new(crate::InProcessBus::new());
    let mut rx = bus.subscribe_routed("session-reconciler", 16);
    // WHEN a charger.connected event is committed
    let (c, evs) = connected(4);
    store.put(&c, Expected::Absent, &evs).await.unwrap();
    let mut relay = crate::OutboxRelay::new(store.clone(), bus.clone());
    assert_eq!(relay.drain_once().await.unwrap(), 1);
    // THEN the reconciler is not handed it, and the outbox is empty without anyone settling it
    assert!(rx.try_recv().is_err());
    assert!(store.outbox_peek(10).unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_a_commit_window_writes_share_commits_and_keep_every_contract() {
    // GIVEN a store whose idle writes wait 5 ms for company
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(
        EmbeddedStore::open_with_window(
            dir.path(),
            Durability::Immediate,
            std::time::Duration::from_millis(5),
        )
        .unwrap(),
    );
    // THEN the contracts hold (each write is answered after its commit)
    contract::charger_store(&*store, "win").await;
    contract::session_store(&*store, "win", contract::FailedWriteSamples::Dropped).await;
    // AND concurrent writes all land, and survive a reopen
    let mut tasks = Vec::new();
    for n in 0..50 {
        let s = store.clone();
        tasks.push(tokio::spawn(async move {
            s.put(&charger(1000 + n), Expected::Absent, &[]).await
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), Ok(1));
    }
    drop(store);
    let store = open(&dir);
    for n in 0..50 {
        assert!(store.get(&charger(1000 + n).id).await.unwrap().is_some());
    }
}
