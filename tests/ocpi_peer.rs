//! The OCPI partner client against a real eMSP this project did not write (extrawest-ocpi, started
//! by the test: tests/python/ocpi_emsp.py): its versions and details are read with token A in 2.2.1's
//! Base64 form through the envelope and objects of cpms-ocpi; a wrong token and an unreachable partner
//! are told apart.

use cpms_notify::partner::NetPartnerClient;
use cpms_ocpi::Envelope;
use cpms_ocpi::versions::{InterfaceRole, ModuleId, Version, VersionDetails, VersionNumber};
use cpms_ports::partner_client::Method;
use cpms_ports::{PartnerClient, PartnerError, PartnerRequest};

fn get(url: &str, token: &str) -> PartnerRequest {
    PartnerRequest {
        method: Method::Get,
        url: url.into(),
        headers: vec![
            (
                "authorization".into(),
                cpms_ocpi::auth::header_value(token, VersionNumber::V2_2_1),
            ),
            (cpms_ocpi::headers::REQUEST_ID.into(), "req-1".into()),
            (cpms_ocpi::headers::CORRELATION_ID.into(), "corr-1".into()),
        ],
        body: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_client_reads_a_real_emsps_versions_and_endpoints() {
    let emsp = cpms_tests::ocpi::Emsp::start("registration-token-a").await;
    let client = NetPartnerClient::new().unwrap();

    // Its versions, then the details of the best one both speak.
    let url = format!("{}/ocpi/versions", emsp.base);
    let r = client
        .send(get(&url, "registration-token-a"))
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let versions = Envelope::read::<Vec<Version>>(&r.body).unwrap();
    assert!(versions.status_code.is_success());
    let list = versions.data.unwrap();
    let best = cpms_ocpi::versions::best_common(&list).expect("a version both speak");
    assert_eq!(best.version, VersionNumber::V2_2_1);
    let r = client
        .send(get(&best.url, "registration-token-a"))
        .await
        .unwrap();
    let details = Envelope::read::<VersionDetails>(&r.body)
        .unwrap()
        .data
        .unwrap();
    for module in [
        ModuleId::Credentials,
        ModuleId::Locations,
        ModuleId::Sessions,
        ModuleId::Cdrs,
        ModuleId::Tariffs,
    ] {
        let url = details
            .endpoint(module, InterfaceRole::Receiver)
            .unwrap_or_else(|| panic!("no {} receiver in {details:?}", module.as_str()));
        assert!(url.starts_with(&emsp.base), "{url}");
    }
    assert!(
        details
            .endpoint(ModuleId::Tokens, InterfaceRole::Sender)
            .is_some()
    );

    // A token it does not know is refused; a partner that is not there is unreachable.
    let r = client.send(get(&url, "not-the-token")).await.unwrap();
    assert!(
        r.status >= 400
            || !Envelope::read::<serde_json::Value>(&r.body)
                .is_ok_and(|e| e.status_code.is_success()),
        "{} {}",
        r.status,
        String::from_utf8_lossy(&r.body)
    );
    let gone = format!("http://127.0.0.1:{}/ocpi/versions", cpms_tests::free_port());
    assert!(matches!(
        client.send(get(&gone, "x")).await,
        Err(PartnerError::Unreachable(_))
    ));
    let bad = client.send(get("not a url", "x")).await;
    assert!(
        matches!(
            bad,
            Err(PartnerError::Invalid(_) | PartnerError::Unreachable(_))
        ),
        "{bad:?}"
    );
}
