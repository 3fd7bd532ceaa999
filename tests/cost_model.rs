//! The cost model on the emulator: units per message kind are measured on the DynamoDB adapter, and the
//! write budget holds (one write request per state-changing charger message, two for a status report
//! and a connection, which also go on the status timeline; two units for a MeterValues, none for a
//! Heartbeat beyond the throttled last-seen).

use cpms_lambda::{AwsSettings, aws_csms_metered};
use cpms_tests::moto::{moto, sdk_config, unique};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn units_per_message_and_the_monthly_cost() {
    let m = moto();
    let sdk = sdk_config(&m.endpoint).await;
    let table = unique("cost");
    cpms_aws::dynamodb::table::create(&aws_sdk_dynamodb::Client::new(&sdk), &table)
        .await
        .unwrap();
    let (csms, meter) = aws_csms_metered(
        &sdk,
        &AwsSettings {
            table,
            ..Default::default()
        },
    );
    let model = cpms::cost::run(csms, meter).await.unwrap();
    let per = &model.per_message;
    assert_eq!(per["Heartbeat"].writes, 0.0, "{}", model.text());
    // A status report also goes on the charger's status timeline: its state and the timeline's day.
    for (k, budget) in [
        ("StatusNotification", 2.0),
        ("StartTransaction", 1.0),
        ("StopTransaction", 1.0),
    ] {
        assert!(per[k].writes > 0.0, "{k} is stored: {}", model.text());
        assert!(
            per[k].write_requests <= budget,
            "{k} takes {budget} writes: {}",
            model.text()
        );
    }
    // The samples item and the session, each under 1 KiB, without a transaction.
    assert!(
        per["MeterValues"].writes <= 2.0,
        "MeterValues in at most 2 write units: {}",
        model.text()
    );
    assert_eq!(
        per["Authorize"].write_requests, 0.0,
        "Authorize writes nothing"
    );
    assert!(
        per["$connect"].write_requests <= 3.0,
        "connection record, charger and timeline"
    );
    assert!(
        // Alerting adds about $0.005 (its consumer and the offline checks of the sweeper).
        model.total_usd > 0.04 && model.total_usd < 0.075,
        "{}",
        model.text()
    );
    println!("{}", model.text());
}
