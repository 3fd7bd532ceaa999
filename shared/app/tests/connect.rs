//! `$connect` / `$disconnect`: identity, Basic auth, subprotocol negotiation, attempts recorded.

mod common;

use common::{Harness, PASSWORD};
use cpms_app::ConnectOutcome;
use cpms_domain::OcppVersion;
use cpms_ports::{AttemptStore, PageRequest};

fn status(o: &ConnectOutcome) -> u16 {
    match o {
        ConnectOutcome::Reject { status, .. } => *status,
        ConnectOutcome::Accept { .. } => 101,
        ConnectOutcome::Unsupported { .. } => 0,
    }
}

#[tokio::test]
async fn unknown_chargers_and_bad_passwords_are_refused_and_recorded() {
    let h = Harness::new().await;
    h.register("CP1").await;
    let ok = Some(Harness::basic("CP1", PASSWORD));
    assert_eq!(
        status(&h.try_connect("NOPE", "c0", &["ocpp1.6"], ok.clone()).await),
        404
    );
    assert_eq!(
        status(
            &h.try_connect("bad/id", "c0", &["ocpp1.6"], ok.clone())
                .await
        ),
        404
    );
    assert_eq!(
        status(&h.try_connect("CP1", "c1", &["ocpp1.6"], None).await),
        401
    );
    let wrong = Some(Harness::basic("CP1", "not-the-password"));
    assert_eq!(
        status(&h.try_connect("CP1", "c2", &["ocpp1.6"], wrong).await),
        401
    );
    assert_eq!(
        status(
            &h.try_connect("CP1", "c3", &["ocpp1.6"], Some("Basic %%%".into()))
                .await
        ),
        401
    );
    assert_eq!(
        status(&h.try_connect("CP1", "c4", &["ocpp1.6"], ok).await),
        101
    );
    let attempts = h.store.list(&PageRequest::first(10)).await.unwrap();
    let ids: Vec<_> = attempts.items.iter().map(|a| a.identity.as_str()).collect();
    assert_eq!(ids, ["bad/id", "NOPE"]);
    let cp = h.charger("CP1").await;
    let log = cpms_ports::LogStore::list(&h.store, &cp.tenant, &cp.id, &PageRequest::first(10))
        .await
        .unwrap();
    assert_eq!(log.items.len(), 3, "three refusals in the charger's log");
}

#[tokio::test]
async fn subprotocols_are_negotiated_and_unsupported_offers_refused() {
    let h = Harness::new().await;
    h.register("CP1").await;
    let ok = || Some(Harness::basic("CP1", PASSWORD));
    let o = h
        .try_connect("CP1", "c1", &[",ocpp1.6, ocpp2.0.1"], ok())
        .await;
    assert_eq!(
        o,
        ConnectOutcome::Accept {
            subprotocol: Some("ocpp2.0.1".into()),
            version: OcppVersion::V201
        }
    );
    let o = h.try_connect("CP1", "c2", &["ocpp2.0"], ok()).await;
    assert!(matches!(o, ConnectOutcome::Unsupported { .. }));
    let o = h.try_connect("CP1", "c3", &[], ok()).await;
    assert_eq!(
        o,
        ConnectOutcome::Accept {
            subprotocol: None,
            version: OcppVersion::V16
        }
    );
}

#[tokio::test]
async fn a_user_name_other_than_the_identity_is_refused_unless_the_charger_allows_it() {
    let h = Harness::new().await;
    h.register("CP1").await;
    let other = || Some(Harness::basic("someone-else", PASSWORD));
    let o = h.try_connect("CP1", "c1", &["ocpp1.6"], other()).await;
    assert_eq!(status(&o), 401, "{o:?}");
    let cp = h.charger("CP1").await;
    let log = cpms_ports::LogStore::list(&h.store, &cp.tenant, &cp.id, &PageRequest::first(10))
        .await
        .unwrap();
    assert!(
        log.items
            .iter()
            .any(|e| e.summary.contains("user name") && e.summary.contains("refused")),
        "{:?}",
        log.items
    );
    h.update_charger("CP1", |c| c.allow_username_mismatch = true)
        .await;
    let o = h.try_connect("CP1", "c2", &["ocpp1.6"], other()).await;
    assert!(matches!(o, ConnectOutcome::Accept { .. }), "{o:?}");
}

#[tokio::test]
async fn raw_key_bytes_are_tolerated() {
    let h = Harness::new().await;
    h.register("CP1").await;
    // the password 0123456789abcdef is hex: some chargers send the bytes it encodes
    let raw = hex::decode(PASSWORD).unwrap();
    let mut creds = b"CP1:".to_vec();
    creds.extend_from_slice(&raw);
    use base64::Engine;
    let header = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(creds)
    );
    let o = h.try_connect("CP1", "c2", &["ocpp1.6"], Some(header)).await;
    assert!(matches!(o, ConnectOutcome::Accept { .. }), "{o:?}");
}

#[tokio::test]
async fn disconnect_clears_the_connection_and_frames_from_unknown_connections_close_them() {
    let h = Harness::new().await;
    h.register("CP1").await;
    let c = h.connect("CP1", OcppVersion::V16).await;
    assert!(h.charger("CP1").await.connection.is_some());
    h.csms.disconnect(&c.id).await;
    assert!(h.charger("CP1").await.connection.is_none());
    let out = h.csms.message(&c.id, br#"[2,"1","Heartbeat",{}]"#).await;
    assert!(out.close && out.reply.is_none());
}

#[tokio::test]
async fn a_reconnect_storm_is_spread_with_pending() {
    let config = cpms_app::CsmsConfig {
        boot_rate_per_second: 0.0,
        boot_burst: 2.0,
        ..Default::default()
    };
    let h = Harness::with_config(config).await;
    let mut statuses = Vec::new();
    for i in 0..4 {
        let id = format!("CP{i}");
        h.register(&id).await;
        let c = h.connect(&id, OcppVersion::V16).await;
        let r = h
            .call(
                &c,
                "BootNotification",
                serde_json::json!({"chargePointVendor": "A", "chargePointModel": "B"}),
            )
            .await;
        statuses.push((
            r[2]["status"].as_str().unwrap().to_string(),
            r[2]["interval"].as_i64().unwrap(),
        ));
        if i == 3 {
            // a Pending charger's status is still recorded
            let s = h.call(&c, "StatusNotification", serde_json::json!({"connectorId": 1, "status": "Available", "errorCode": "NoError"})).await;
            assert_eq!(s[0], 3);
            let hb = h.call(&c, "Heartbeat", serde_json::json!({})).await;
            assert_eq!(hb[2], "SecurityError");
        }
    }
    let accepted = statuses.iter().filter(|s| s.0 == "Accepted").count();
    assert_eq!(accepted, 2, "{statuses:?}");
    assert!(
        statuses
            .iter()
            .filter(|s| s.0 == "Pending")
            .all(|s| (10..=60).contains(&s.1))
    );
}
