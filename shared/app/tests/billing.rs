//! A month of sessions, through the OCPP handlers and the operator API on the embedded store with an
//! injected clock: every session becomes a CDR by the site's time-of-day tariff (or its fleet's contract
//! tariff), the billing run turns the month into invoices and statements, and every total matches the
//! CDRs to the cent. Running the month again changes nothing.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::body::Body;
use chrono::{DateTime, Duration, Utc};
use common::Harness;
use cpms_app::api::{AdminKey, ApiState, router};
use cpms_domain::token::TokenStatus;
use cpms_domain::{ChargerId, OcppVersion, SessionId, TenantId};
use rust_decimal::Decimal;
use serde_json::{Value, json};
use tower::ServiceExt;

const KEY: &str = "billing-test-admin-key";

async fn api(h: &Harness, method: &str, path: &str, body: Option<Value>) -> (u16, Value, String) {
    let app = router(ApiState {
        csms: h.csms.clone(),
        admin_key: Arc::new(AdminKey::new(KEY)),
        roaming: Arc::new(cpms_roaming::Roaming::new(
            h.csms
                .ports()
                .roaming(Arc::new(cpms_ports::partner_client::NoPartners)),
            Default::default(),
        )),
    });
    let mut req = http::Request::builder()
        .method(method)
        .uri(path)
        .header("authorization", format!("Bearer {KEY}"));
    let body = match body {
        Some(b) => {
            req = req.header("content-type", "application/json");
            Body::from(b.to_string())
        }
        None => Body::empty(),
    };
    let r = app.oneshot(req.body(body).unwrap()).await.unwrap();
    let status = r.status().as_u16();
    let bytes = axum::body::to_bytes(r.into_body(), 1 << 24).await.unwrap();
    let text = String::from_utf8_lossy(&bytes).to_string();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::Null),
        text,
    )
}

fn d(v: &Value) -> Decimal {
    v.to_string()
        .trim_matches('"')
        .parse()
        .unwrap_or_else(|_| panic!("not a number: {v}"))
}

fn tou_tariff() -> Value {
    json!({"id": "ams-tou", "name": "Amsterdam time of use", "currency": "EUR", "elements": [
        {"price_components": [{"type": "FLAT", "price": 0.35, "vat": 21, "step_size": 1}]},
        {"price_components": [{"type": "ENERGY", "price": 0.49, "vat": 21, "step_size": 1},
                              {"type": "PARKING_TIME", "price": 6.0, "vat": 21, "step_size": 300}],
         "restrictions": {"start_time": "17:00", "end_time": "21:00", "day_of_week": ["MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY"]}},
        {"price_components": [{"type": "ENERGY", "price": 0.39, "vat": 21, "step_size": 1}],
         "restrictions": {"start_time": "07:00", "end_time": "17:00"}},
        {"price_components": [{"type": "ENERGY", "price": 0.25, "vat": 21, "step_size": 1}],
         "restrictions": {"start_time": "23:00", "end_time": "06:00"}},
        {"price_components": [{"type": "ENERGY", "price": 0.33, "vat": 21, "step_size": 100},
                              {"type": "TIME", "price": 0.60, "vat": 9, "step_size": 60}]}]})
}

async fn session(
    h: &Harness,
    c: &common::Conn,
    token: &str,
    start: DateTime<Utc>,
    minutes: i64,
    wh: i64,
) -> String {
    let ts = |t: DateTime<Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    h.clock.set(start);
    let s = h
        .call(
            c,
            "StartTransaction",
            json!({"connectorId": 1, "idTag": token, "meterStart": 1000, "timestamp": ts(start)}),
        )
        .await;
    let tx = s[2]["transactionId"].as_i64().unwrap();
    let mid = start + Duration::minutes(minutes / 2);
    h.clock.set(mid);
    h.call(c, "MeterValues", json!({"connectorId": 1, "transactionId": tx, "meterValue": [{"timestamp": ts(mid),
        "sampledValue": [{"value": (1000 + wh / 2).to_string(), "measurand": "Energy.Active.Import.Register"}]}]})).await;
    let end = start + Duration::minutes(minutes);
    h.clock.set(end);
    h.call(
        c,
        "StopTransaction",
        json!({"transactionId": tx, "meterStop": 1000 + wh, "timestamp": ts(end), "idTag": token}),
    )
    .await;
    tx.to_string()
}

#[tokio::test]
async fn a_month_of_sessions_becomes_invoices_that_match_the_cdrs_to_the_cent() {
    let h = Harness::new().await;
    let site = json!({"id": "ams-1", "name": "Depot", "address": {"street": "1 Kade", "city": "Amsterdam", "country": "NLD"},
        "coordinates": {"latitude": 52.37, "longitude": 4.89}, "time_zone": "Europe/Amsterdam"});
    assert_eq!(api(&h, "POST", "/v1/sites", Some(site)).await.0, 201);
    let (s, t, _) = api(&h, "POST", "/v1/tariffs", Some(tou_tariff())).await;
    assert_eq!(s, 201, "{t}");
    // Energy has a default element; parking is priced only at peak, which the check points out.
    let warnings = t["warnings"].as_array().unwrap();
    assert_eq!(warnings.len(), 1, "{t}");
    assert!(warnings[0].as_str().unwrap().starts_with("PARKING_TIME: no element covers MONDAY, TUESDAY, WEDNESDAY, THURSDAY, FRIDAY 00:00-17:00, 21:00-24:00; SATURDAY, SUNDAY 00:00-24:00"), "{t}");
    let fleet = json!({"id": "fleet-a", "name": "Fleet A contract", "currency": "EUR", "elements": [
        {"price_components": [{"type": "ENERGY", "price": 0.28, "vat": 21, "step_size": 1}]}]});
    assert_eq!(api(&h, "POST", "/v1/tariffs", Some(fleet)).await.0, 201);
    assert_eq!(
        api(
            &h,
            "PUT",
            "/v1/tariff-assignments/site:ams-1",
            Some(json!({"tariff_id": "ams-tou"}))
        )
        .await
        .0,
        200
    );
    assert_eq!(
        api(
            &h,
            "PUT",
            "/v1/tariff-assignments/group:FLEET-A",
            Some(json!({"tariff_id": "fleet-a"}))
        )
        .await
        .0,
        200
    );
    let split = json!({"shares": [{"partner": "host-bv", "role": "site_host", "percent": 30},
                                  {"partner": "investor", "percent": 12.5}]});
    assert_eq!(
        api(&h, "PUT", "/v1/sites/ams-1/revenue-split", Some(split))
            .await
            .0,
        200
    );
    for d in ["D1", "D2", "D3"] {
        h.token(d, TokenStatus::Accepted).await;
    }
    for f in ["F1", "F2"] {
        let (s, b, _) = api(
            &h,
            "POST",
            "/v1/tokens",
            Some(json!({"id": f, "group_id": "FLEET-A"})),
        )
        .await;
        assert_eq!(s, 201, "{b}");
    }
    let mut conns = Vec::new();
    for i in 0..3 {
        let id = format!("CP-B{i}");
        h.register(&id).await;
        let (s, b, _) = api(
            &h,
            "PATCH",
            &format!("/v1/chargers/{id}"),
            Some(json!({"site_id": "ams-1"})),
        )
        .await;
        assert_eq!(s, 200, "{b}");
        let c = h.connect(&id, OcppVersion::V16).await;
        h.boot(&c).await;
        conns.push((id, c));
    }

    // October 2026 (the clocks go back on the 25th): 150 sessions at every hour of the day.
    let month_start: DateTime<Utc> = "2026-10-01T00:00:00Z".parse().unwrap();
    let tokens = ["D1", "D2", "D3", "F1", "F2"];
    let mut sessions = Vec::new();
    for i in 0..150i64 {
        let start = month_start + Duration::minutes(i * 293 + 7);
        let (cid, c) = &conns[(i % 3) as usize];
        let tx = session(
            &h,
            c,
            tokens[(i % 5) as usize],
            start,
            20 + (i * 37) % 400,
            500 + (i * 7919) % 60_000,
        )
        .await;
        let sid = SessionId::new(ChargerId::new(cid.clone()).unwrap(), tx);
        let billed = h
            .csms
            .bill_session(&TenantId::default_tenant(), &sid)
            .await
            .unwrap();
        assert!(matches!(billed, cpms_app::Billed::Created(_)), "{billed:?}");
        // Priced again (a redelivered event): nothing changes.
        let again = h
            .csms
            .bill_session(&TenantId::default_tenant(), &sid)
            .await
            .unwrap();
        assert!(matches!(again, cpms_app::Billed::Unchanged(_)), "{again:?}");
        sessions.push(sid);
    }

    // One session whose end never reached billing (its event lost): the run prices it.
    let (cid, c) = &conns[0];
    let lost = session(
        &h,
        c,
        "D1",
        "2026-10-31T20:00:00Z".parse().unwrap(),
        30,
        4000,
    )
    .await;
    let lost = SessionId::new(ChargerId::new(cid.clone()).unwrap(), lost);

    // The fleet has a subscription: a fee, 50 kWh included and 10 % off.
    let sub = json!({"party": "fleet:FLEET-A", "plan": "Fleet Plus", "currency": "EUR", "monthly_fee": 9.99,
        "fee_vat": 21, "included_kwh": 50, "discount_percent": 10, "valid_from": "2026-09-01T00:00:00Z"});
    let (s, b, _) = api(&h, "POST", "/v1/subscriptions", Some(sub)).await;
    assert_eq!(s, 201, "{b}");
    for bad in [
        json!({"party": "nobody", "plan": "x", "currency": "EUR"}),
        json!({"party": "fleet:F", "plan": "x", "currency": "EUR", "discount_percent": 120}),
        json!({"party": "site:F", "plan": "x", "currency": "EUR"}),
    ] {
        let (s, b, _) = api(&h, "POST", "/v1/subscriptions", Some(bad)).await;
        assert_eq!(s, 400, "{b}");
    }

    // The month is not over yet: no run.
    let (s, b, _) = api(
        &h,
        "POST",
        "/v1/billing-runs",
        Some(json!({"period": "2026-10"})),
    )
    .await;
    assert_eq!(s, 409, "{b}");
    h.clock.set("2026-11-01T02:00:00Z".parse().unwrap());
    let (s, run, _) = api(
        &h,
        "POST",
        "/v1/billing-runs",
        Some(json!({"period": "2026-10"})),
    )
    .await;
    assert_eq!(s, 201, "{run}");
    assert_eq!(run["cdr_count"], 150);
    assert_eq!(run["late_cdrs"], 1, "{run}");
    let (s, late, _) = api(&h, "GET", &format!("/v1/sessions/{lost}/cost"), None).await;
    assert_eq!(s, 200);
    assert!(d(&late["total_cost"]["excl_vat"]) > Decimal::ZERO, "{late}");

    // The CDRs, summed per billed party.
    let mut cdrs: Vec<Value> = Vec::new();
    let mut cursor = String::new();
    loop {
        let (s, page, _) = api(
            &h,
            "GET",
            &format!("/v1/cdrs?from=2026-10-01T00:00:00Z&to=2026-11-01T00:00:00Z&limit=40{cursor}"),
            None,
        )
        .await;
        assert_eq!(s, 200, "{page}");
        cdrs.extend(page["items"].as_array().unwrap().iter().cloned());
        match page["next_cursor"].as_str() {
            Some(n) => cursor = format!("&cursor={n}"),
            None => break,
        }
    }
    assert_eq!(cdrs.len(), 150);
    let mut by_party: BTreeMap<String, (Decimal, Decimal, usize)> = BTreeMap::new();
    let mut revenue = Decimal::ZERO;
    for c in &cdrs {
        let key = format!(
            "{}:{}",
            c["billed_party"]["kind"].as_str().unwrap(),
            c["billed_party"]["id"].as_str().unwrap()
        );
        let e = by_party.entry(key).or_default();
        e.0 += d(&c["pricing"]["total_cost"]["excl_vat"]);
        e.1 += d(&c["pricing"]["total_cost"]["incl_vat"]);
        e.2 += 1;
        revenue += d(&c["pricing"]["total_cost"]["excl_vat"]);
        let fleet = c["token_group"] == "FLEET-A";
        assert_eq!(
            c["tariff_id"],
            if fleet { "fleet-a" } else { "ams-tou" },
            "{c}"
        );
        assert!(d(&c["pricing"]["total_cost"]["excl_vat"]).scale() <= 2);
    }
    assert_eq!(
        by_party.len(),
        4,
        "three drivers and one fleet: {by_party:?}"
    );

    let (_, invoices, _) = api(&h, "GET", "/v1/invoices?run=2026-10", None).await;
    let invoices = invoices["items"].as_array().unwrap().clone();
    assert_eq!(invoices.len(), 4);
    for inv in &invoices {
        let key = format!(
            "{}:{}",
            inv["party"]["kind"].as_str().unwrap(),
            inv["party"]["id"].as_str().unwrap()
        );
        let (excl, incl, n) = by_party[&key];
        let total = (d(&inv["total"]["excl_vat"]), d(&inv["total"]["incl_vat"]));
        let sessions = (
            d(&inv["sessions_total"]["excl_vat"]),
            d(&inv["sessions_total"]["incl_vat"]),
        );
        assert_eq!(
            sessions,
            (excl, incl),
            "the sessions are the CDRs to the cent: {inv}"
        );
        assert_eq!(inv["cdr_count"], n);
        let lines = inv["lines"].as_array().unwrap();
        let line_excl: Decimal = lines.iter().map(|l| d(&l["excl_vat"])).sum();
        let line_vat: Decimal = lines.iter().map(|l| d(&l["vat"])).sum();
        assert_eq!(
            (line_excl, line_excl + line_vat),
            total,
            "the lines add up: {inv}"
        );
        let summary = inv["vat_summary"].as_array().unwrap();
        let vat_excl: Decimal = summary.iter().map(|l| d(&l["excl_vat"])).sum();
        let vat: Decimal = summary.iter().map(|l| d(&l["vat"])).sum();
        assert_eq!(
            (vat_excl, vat_excl + vat),
            total,
            "the VAT summary adds up: {inv}"
        );
        let kinds: Vec<&str> = lines.iter().map(|l| l["kind"].as_str().unwrap()).collect();
        if key == "fleet:FLEET-A" {
            for k in ["subscription_fee", "included_energy", "discount"] {
                assert!(kinds.contains(&k), "{kinds:?}");
            }
            assert!(
                total.0 < excl,
                "50 kWh and 10 % off outweigh the fee: {inv}"
            );
        } else {
            assert!(kinds.iter().all(|k| *k == "sessions"), "{kinds:?}");
            assert_eq!(
                total,
                (excl, incl),
                "without a subscription the invoice is its CDRs: {inv}"
            );
        }
        let (_, lines, _) = api(
            &h,
            "GET",
            &format!(
                "/v1/invoices/{}/cdrs?limit=500",
                inv["id"].as_str().unwrap()
            ),
            None,
        )
        .await;
        assert_eq!(lines["items"].as_array().unwrap().len(), n);
    }

    // Statements: the partners' shares and the operator's rest add up to the revenue.
    let (_, statements, _) = api(&h, "GET", "/v1/statements?run=2026-10", None).await;
    let statements = statements["items"].as_array().unwrap().clone();
    let partners: Vec<&str> = statements
        .iter()
        .map(|s| s["partner"].as_str().unwrap())
        .collect();
    assert_eq!(partners, ["host-bv", "investor", "operator"]);
    let shared: Decimal = statements.iter().map(|s| d(&s["total"])).sum();
    assert_eq!(shared, revenue);
    let host = statements
        .iter()
        .find(|s| s["partner"] == "host-bv")
        .unwrap();
    assert_eq!(
        d(&host["total"]),
        cpms_domain::tariff::round_money(revenue * Decimal::new(30, 2), "EUR")
    );

    // A second run of the month changes nothing.
    let (s, again, _) = api(
        &h,
        "POST",
        "/v1/billing-runs",
        Some(json!({"period": "2026-10"})),
    )
    .await;
    assert_eq!((s, &again), (200, &run));
    let (_, after, _) = api(&h, "GET", "/v1/invoices?run=2026-10", None).await;
    assert_eq!(after["items"].as_array().unwrap(), &invoices);

    // CSV exports.
    let (s, _, csv) = api(&h, "GET", "/v1/invoices.csv?run=2026-10", None).await;
    assert_eq!(s, 200);
    assert!(csv.starts_with("invoice_id,run,party_kind"), "{csv}");
    assert!(csv.lines().count() > 4);
    let (s, _, csv) = api(&h, "GET", "/v1/cdrs.csv?limit=100", None).await;
    assert_eq!(s, 200);
    assert_eq!(csv.lines().count(), 101, "a header and 100 rows");
}

#[tokio::test]
async fn tariffs_are_checked_and_previews_use_the_same_engine() {
    let h = Harness::new().await;
    let mut bad = tou_tariff();
    bad["elements"][1]["price_components"][0]["step_size"] = json!(0);
    bad["elements"][2]["restrictions"] = json!({"min_kwh": 10, "max_kwh": 5});
    let (s, b, _) = api(&h, "POST", "/v1/tariffs", Some(bad)).await;
    assert_eq!(s, 422, "{b}");
    let detail = b["detail"].as_str().unwrap();
    assert!(
        detail.contains("elements[1].price_components[0].step_size") && detail.contains("min_kwh"),
        "{detail}"
    );
    let mut extra = tou_tariff();
    extra["colour"] = json!("red");
    assert_eq!(
        api(&h, "POST", "/v1/tariffs", Some(extra)).await.0,
        422,
        "unknown fields are refused"
    );
    // A peak/off-peak pair that leaves 06:00-07:00 uncovered is stored, with the gap explained.
    let gap = json!({"id": "gap", "name": "Gap", "currency": "EUR", "elements": [
        {"price_components": [{"type": "ENERGY", "price": 0.40, "vat": 21, "step_size": 1}], "restrictions": {"start_time": "07:00", "end_time": "18:00"}},
        {"price_components": [{"type": "ENERGY", "price": 0.20, "vat": 21, "step_size": 1}], "restrictions": {"start_time": "18:00", "end_time": "06:00"}}]});
    let (s, b, _) = api(&h, "POST", "/v1/tariffs", Some(gap)).await;
    assert_eq!(s, 201);
    assert!(
        b["warnings"][0].as_str().unwrap().contains("06:00-07:00"),
        "{b}"
    );
    // Preview in Amsterdam: 20 kWh from 17:00 to 19:00 local (16:00-18:00 UTC): 10 kWh at 0.40, 10 at 0.20.
    let (s, p, _) = api(
        &h,
        "POST",
        "/v1/price-preview",
        Some(json!({"tariff_id": "gap", "start": "2026-01-05T16:00:00Z",
        "time_zone": "Europe/Amsterdam", "charging_minutes": 120, "energy_kwh": 20})),
    )
    .await;
    assert_eq!(s, 200, "{p}");
    assert_eq!(p["time_zone"], "Europe/Amsterdam");
    assert_eq!(
        d(&p["pricing"]["total_cost"]["excl_vat"]),
        Decimal::new(600, 2),
        "{p}"
    );
    assert_eq!(p["pricing"]["periods"].as_array().unwrap().len(), 2);
    // Without a time zone the times of day are UTC: all of it at peak.
    let (_, p, _) = api(
        &h,
        "POST",
        "/v1/price-preview",
        Some(json!({"tariff_id": "gap", "start": "2026-01-05T16:00:00Z",
        "charging_minutes": 120, "energy_kwh": 20})),
    )
    .await;
    assert_eq!(
        d(&p["pricing"]["total_cost"]["excl_vat"]),
        Decimal::new(800, 2),
        "{p}"
    );
    for body in [
        json!({"charging_minutes": 10, "energy_kwh": 1}),
        json!({"tariff_id": "gap", "charging_minutes": 0, "energy_kwh": 1}),
        json!({"tariff_id": "gap", "charging_minutes": 10, "energy_kwh": -1}),
        json!({"tariff_id": "gap", "charging_minutes": 10, "energy_kwh": 1, "time_zone": "Mars/Olympus"}),
    ] {
        let (s, b, _) = api(&h, "POST", "/v1/price-preview", Some(body)).await;
        assert_eq!(s, 400, "{b}");
    }
    assert_eq!(
        api(
            &h,
            "PUT",
            "/v1/tariff-assignments/moon:1",
            Some(json!({"tariff_id": "gap"}))
        )
        .await
        .0,
        400
    );
    assert_eq!(
        api(
            &h,
            "PUT",
            "/v1/tariff-assignments/default",
            Some(json!({"tariff_id": "nope"}))
        )
        .await
        .0,
        422
    );
    assert_eq!(
        api(
            &h,
            "PUT",
            "/v1/tariff-assignments/default",
            Some(json!({"tariff_id": "gap"}))
        )
        .await
        .0,
        200
    );
    h.register("CP-P").await;
    h.clock.set("2026-01-05T16:30:00Z".parse().unwrap());
    let (s, price, _) = api(&h, "GET", "/v1/chargers/CP-P/price", None).await;
    assert_eq!(s, 200, "{price}");
    // No site: UTC. 16:30 is peak: 0.40 + 21 % VAT.
    assert_eq!(
        d(&price["per_kwh_incl_vat"]),
        Decimal::new(484, 3),
        "{price}"
    );
    // The same price without a key, for drivers.
    let app = router(ApiState {
        csms: h.csms.clone(),
        admin_key: Arc::new(AdminKey::new(KEY)),
        roaming: Arc::new(cpms_roaming::Roaming::new(
            h.csms
                .ports()
                .roaming(Arc::new(cpms_ports::partner_client::NoPartners)),
            Default::default(),
        )),
    });
    let req = http::Request::get("/v1/public/chargers/CP-P/price")
        .body(Body::empty())
        .unwrap();
    let r = app.oneshot(req).await.unwrap();
    assert_eq!(r.status(), 200);
    let bytes = axum::body::to_bytes(r.into_body(), 1 << 20).await.unwrap();
    let public: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(public, price);
    assert_eq!(
        api(&h, "DELETE", "/v1/tariff-assignments/default", None)
            .await
            .0,
        204
    );
    assert_eq!(api(&h, "GET", "/v1/chargers/CP-P/price", None).await.0, 404);
}
