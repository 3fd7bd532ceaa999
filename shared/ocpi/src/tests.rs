//! Unit tests of the envelope, status codes, authorization, pagination, versions and the checks of what
//! partners send.

use chrono::{TimeZone, Utc};
use rust_decimal::Decimal;
use serde_json::json;

use crate::auth;
use crate::credentials::{Credentials, CredentialsV211};
use crate::page::{PageParams, next_from_link};
use crate::tokens::Token;
use crate::types::GeoLocation;
use crate::versions::{Version, VersionNumber, best_common};
use crate::{Envelope, StatusCode};

fn t0() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 1, 10, 0, 0).unwrap()
}

#[test]
fn the_envelope_carries_data_or_a_status_and_reads_back() {
    // GIVEN a success and an error
    let ok = Envelope::ok(json!([1, 2]), t0());
    let err: Envelope<()> = Envelope::error(StatusCode::UnknownLocation, "no location X", t0());
    // THEN they are written as the specification shows them
    assert_eq!(
        serde_json::to_value(&ok).unwrap(),
        json!({"data": [1, 2], "status_code": 1000, "timestamp": "2026-12-01T10:00:00.000Z"})
    );
    let e = serde_json::to_value(&err).unwrap();
    assert_eq!(e["status_code"], 2003);
    assert_eq!(e["status_message"], "no location X");
    assert!(e.get("data").is_none());
    // AND a partner's envelope reads with its data typed (a time without a zone is UTC)
    let body = br#"{"data": {"version": "2.2.1", "url": "http://x/2.2.1"}, "status_code": 1000,
        "timestamp": "2026-12-01T10:00:00"}"#;
    let read = Envelope::read::<Version>(body).unwrap();
    assert_eq!(read.data.unwrap().version, VersionNumber::V2_2_1);
    assert_eq!(read.timestamp, t0());
    assert!(Envelope::read::<Version>(b"<html>").is_err());
    assert!(
        Envelope::read::<Version>(
            br#"{"data": 3, "status_code": 1000, "timestamp": "2026-12-01T10:00:00Z"}"#
        )
        .is_err()
    );
}

#[test]
fn status_codes_map_to_their_http_status() {
    for (code, http) in [
        (1000, 200),
        (2001, 400),
        (2003, 404),
        (2004, 404),
        (3001, 500),
        (4001, 500),
    ] {
        let s = StatusCode::from(code);
        assert_eq!((s.code(), s.http_status()), (code, http));
    }
    assert_eq!(StatusCode::from(2999), StatusCode::Other(2999));
    assert!(!StatusCode::from(2999).is_success());
}

#[test]
fn tokens_are_base64_in_221_and_plain_in_211_and_both_are_read() {
    let h = auth::header_value("token-c-123", VersionNumber::V2_2_1);
    assert_eq!(h, "Token dG9rZW4tYy0xMjM=");
    assert_eq!(
        auth::header_value("token-c-123", VersionNumber::V2_1_1),
        "Token token-c-123"
    );
    let raw = auth::parse(Some(&h)).unwrap();
    assert_eq!(auth::candidates(&raw), ["token-c-123", "dG9rZW4tYy0xMjM="]);
    // a 2.1.1 token that does not decode is taken as sent
    assert_eq!(auth::candidates("plain-token"), ["plain-token"]);
    assert_eq!(auth::parse(None), Err(auth::AuthError::Missing));
    for bad in ["Bearer abc", "Token", "Token ", "abc"] {
        assert_eq!(
            auth::parse(Some(bad)),
            Err(auth::AuthError::Malformed),
            "{bad}"
        );
    }
    assert_eq!(
        auth::parse(Some(&format!("Token {}", "a".repeat(200)))),
        Err(auth::AuthError::Malformed)
    );
}

#[test]
fn pagination_reads_its_parameters_and_links_the_next_page() {
    let p = PageParams::parse(Some(
        "offset=10&limit=500&date_from=2026-12-01T10:00:00Z&date_to=2026-12-01T11%3A00%3A00Z",
    ))
    .unwrap();
    assert_eq!((p.offset, p.limit), (10, crate::page::MAX_LIMIT));
    assert!(p.covers(t0()), "date_from is inclusive");
    assert!(
        !p.covers(t0() + chrono::Duration::hours(1)),
        "date_to is exclusive"
    );
    let link = p
        .next_link("https://cpo/ocpi/2.2.1/locations", 250)
        .unwrap();
    assert_eq!(
        link,
        "<https://cpo/ocpi/2.2.1/locations?offset=110&limit=100&date_from=2026-12-01T10:00:00.000Z&date_to=2026-12-01T11:00:00.000Z>; rel=\"next\""
    );
    assert_eq!(
        next_from_link(&link).as_deref(),
        Some(
            "https://cpo/ocpi/2.2.1/locations?offset=110&limit=100&date_from=2026-12-01T10:00:00.000Z&date_to=2026-12-01T11:00:00.000Z"
        )
    );
    assert_eq!(
        p.next_link("https://cpo/x", 110),
        None,
        "the last page has no next"
    );
    for bad in [
        "offset=-1",
        "limit=x",
        "date_from=yesterday",
        "offset=1&offset=2",
        "date_from=2026-12-02T00:00:00Z&date_to=2026-12-01T00:00:00Z",
    ] {
        assert!(PageParams::parse(Some(bad)).is_err(), "{bad}");
    }
    assert_eq!(PageParams::parse(None).unwrap(), PageParams::default());
}

#[test]
fn the_best_common_version_prefers_221() {
    let v = |n: VersionNumber| Version {
        version: n,
        url: format!("http://e/{}", n.as_str()),
    };
    let both = [v(VersionNumber::V2_1_1), v(VersionNumber::V2_2_1)];
    assert_eq!(best_common(&both).unwrap().version, VersionNumber::V2_2_1);
    assert_eq!(
        best_common(&[v(VersionNumber::V2_1_1)]).unwrap().version,
        VersionNumber::V2_1_1
    );
    assert!(best_common(&[v(VersionNumber::V2_0)]).is_none());
}

#[test]
fn credentials_are_checked_and_211_ones_become_an_emsp_role() {
    let c: Credentials = serde_json::from_value(json!({
        "token": "abc", "url": "http://emsp/versions",
        "roles": [{"role": "EMSP", "party_id": "EXA", "country_code": "NL",
            "business_details": {"name": "Example eMSP"}}]
    }))
    .unwrap();
    assert!(c.check().is_ok());
    let mut bad = c.clone();
    bad.roles[0].party_id = "TOOLONG".into();
    bad.token = "x".repeat(65);
    let why = bad.check().unwrap_err();
    assert!(why.contains("token") && why.contains("party_id"), "{why}");
    let old: CredentialsV211 = serde_json::from_value(json!({
        "token": "abc", "url": "http://emsp/versions", "party_id": "EXA", "country_code": "NL",
        "business_details": {"name": "Example eMSP"}
    }))
    .unwrap();
    assert_eq!(Credentials::from(old.clone()), c);
    assert_eq!(c.to_v211().unwrap(), old);
}

#[test]
fn a_pushed_token_is_checked_against_the_field_lengths() {
    let mut t: Token = serde_json::from_value(json!({
        "country_code": "NL", "party_id": "EXA", "uid": "012345678", "type": "RFID",
        "contract_id": "NL-EXA-C12345678-X", "issuer": "Example", "valid": true,
        "whitelist": "ALLOWED", "last_updated": "2026-12-01T10:00:00Z"
    }))
    .unwrap();
    assert!(t.check().is_ok());
    t.uid = "u".repeat(37);
    assert!(t.check().unwrap_err().contains("uid"));
    assert!(serde_json::from_value::<Token>(json!({"uid": "x"})).is_err());
}

#[test]
fn coordinates_follow_the_specifications_pattern() {
    assert!(GeoLocation::from_degrees(52.1, 5.1).is_valid());
    assert!(GeoLocation::from_degrees(-33.86, 151.2).is_valid());
    let bad = GeoLocation {
        latitude: "52.1".into(),
        longitude: "5.100000".into(),
    };
    assert!(!bad.is_valid());
}

#[test]
fn money_and_energy_keep_their_exact_values() {
    let p: crate::types::Price =
        serde_json::from_value(json!({"excl_vat": 2.1, "incl_vat": 2.541})).unwrap();
    assert_eq!(p.incl_vat, Some(Decimal::new(2541, 3)));
    assert_eq!(
        serde_json::to_value(p).unwrap(),
        json!({"excl_vat": 2.1, "incl_vat": 2.541})
    );
}

proptest::proptest! {
    /// Whatever a partner puts in a query string or an Authorization header is answered, never a panic.
    #[test]
    fn junk_queries_and_headers_are_refused_or_read(s in ".{0,300}") {
        let _ = PageParams::parse(Some(&s));
        if let Ok(raw) = auth::parse(Some(&s)) {
            for t in auth::candidates(&raw) {
                proptest::prop_assert!(t.len() <= auth::MAX_TOKEN_LEN);
            }
        }
        let _ = next_from_link(&s);
        let _ = Envelope::read::<Version>(s.as_bytes());
    }
}

/// Examples of what this crate sends, one per object (also read by `tests/python` peers' checks).
pub(crate) fn examples() -> serde_json::Value {
    use crate::cdrs::*;
    use crate::locations::*;
    use crate::sessions::*;
    use crate::tariffs::*;
    use crate::tokens::TokenType;
    use crate::types::Price;
    let connector = Connector {
        id: "1".into(),
        standard: "IEC_62196_T2".into(),
        format: ConnectorFormat::Socket,
        power_type: PowerType::Ac3Phase,
        max_voltage: 230,
        max_amperage: 32,
        max_electric_power: Some(22080),
        tariff_ids: vec!["standard".into()],
        terms_and_conditions: None,
        last_updated: t0(),
    };
    let place = crate::types::Place {
        address: "1 Road".into(),
        city: "Utrecht".into(),
        postal_code: Some("3511AA".into()),
        state: None,
        country: "NLD".into(),
        coordinates: GeoLocation::from_degrees(52.1, 5.1),
    };
    let location = Location {
        country_code: "NL".into(),
        party_id: "CPO".into(),
        id: "depot".into(),
        publish: true,
        name: Some("Depot".into()),
        place: place.clone(),
        parking_type: Some("PARKING_LOT".into()),
        evses: vec![Evse {
            uid: "CP1-1".into(),
            evse_id: Some("NL*CPO*ECP1*1".into()),
            status: EvseStatus::Available,
            capabilities: vec!["REMOTE_START_STOP_CAPABLE".into(), "RFID_READER".into()],
            connectors: vec![connector],
            coordinates: None,
            physical_reference: Some("1".into()),
            last_updated: t0(),
        }],
        directions: vec![],
        operator: None,
        time_zone: "Europe/Amsterdam".into(),
        last_updated: t0(),
    };
    let token = CdrToken {
        country_code: "NL".into(),
        party_id: "EXA".into(),
        uid: "012345678".into(),
        kind: TokenType::Rfid,
        contract_id: "NL-EXA-C12345678-X".into(),
    };
    let period = ChargingPeriod {
        start_date_time: t0(),
        dimensions: vec![CdrDimension {
            kind: CdrDimensionType::Energy,
            volume: Decimal::new(1234, 2),
        }],
        tariff_id: Some("standard".into()),
    };
    let price = Price {
        excl_vat: Decimal::new(432, 2),
        incl_vat: Some(Decimal::new(523, 2)),
    };
    let session = Session {
        country_code: "NL".into(),
        party_id: "CPO".into(),
        id: "s1".into(),
        start_date_time: t0(),
        end_date_time: None,
        kwh: Decimal::new(1234, 2),
        cdr_token: token.clone(),
        auth_method: AuthMethod::Whitelist,
        authorization_reference: None,
        location_id: "depot".into(),
        evse_uid: "CP1-1".into(),
        connector_id: "1".into(),
        meter_id: None,
        currency: "EUR".into(),
        charging_periods: vec![period.clone()],
        total_cost: Some(price),
        status: SessionStatus::Active,
        last_updated: t0(),
    };
    let tariff = Tariff {
        country_code: "NL".into(),
        party_id: "CPO".into(),
        id: "standard".into(),
        currency: "EUR".into(),
        kind: None,
        tariff_alt_text: vec![],
        min_price: None,
        max_price: None,
        elements: vec![TariffElement {
            price_components: vec![PriceComponent {
                kind: TariffDimensionType::Energy,
                price: Decimal::new(35, 2),
                vat: Some(Decimal::from(21)),
                step_size: 1,
            }],
            restrictions: None,
        }],
        start_date_time: None,
        end_date_time: None,
        last_updated: t0(),
    };
    let cdr = Cdr {
        country_code: "NL".into(),
        party_id: "CPO".into(),
        id: "c1".into(),
        start_date_time: t0(),
        end_date_time: t0() + chrono::Duration::hours(1),
        session_id: Some("s1".into()),
        cdr_token: token,
        auth_method: AuthMethod::Whitelist,
        authorization_reference: None,
        cdr_location: CdrLocation {
            id: "depot".into(),
            name: Some("Depot".into()),
            place,
            evse_uid: "CP1-1".into(),
            evse_id: "NL*CPO*ECP1*1".into(),
            connector_id: "1".into(),
            connector_standard: "IEC_62196_T2".into(),
            connector_format: ConnectorFormat::Socket,
            connector_power_type: PowerType::Ac3Phase,
        },
        meter_id: None,
        currency: "EUR".into(),
        tariffs: vec![tariff.clone()],
        charging_periods: vec![period],
        total_cost: price,
        total_fixed_cost: None,
        total_energy: Decimal::new(1234, 2),
        total_energy_cost: Some(price),
        total_time: Decimal::ONE,
        total_time_cost: None,
        total_parking_time: Some(Decimal::ZERO),
        total_parking_cost: None,
        remark: None,
        credit: None,
        credit_reference_id: None,
        last_updated: t0(),
    };
    json!({"location": location, "session": session, "cdr": cdr, "tariff": tariff})
}

#[test]
fn examples_are_written() {
    let e = examples();
    if let Ok(path) = std::env::var("CPMS_OCPI_EXAMPLES") {
        std::fs::write(path, serde_json::to_string_pretty(&e).unwrap()).unwrap();
    }
    assert_eq!(
        e["location"]["evses"][0]["connectors"][0]["max_electric_power"],
        22080
    );
    assert_eq!(e["cdr"]["total_cost"]["excl_vat"], 4.32);
}
