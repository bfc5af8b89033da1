//! Refusals and faults: said in Conexiom's terms, retried when the step's policy allows.

use flowrun_sandbox::{Fault, FaultRule};
use serde_json::json;

use super::*;

#[tokio::test]
async fn another_hubco_is_forbidden_and_unknown_ids_are_not_found() {
    let sandbox = sandbox().await;
    let mut config = connection(&sandbox);
    config["hubco_id"] = json!(flowrun_sandbox::conexiom_credentials::OTHER_HUBCO_ID);
    let error = call(&context(config), "conexiom.spokecos", json!({}))
        .await
        .unwrap_err();
    assert_eq!(error.status, Some(403));
    assert!(
        error.message.contains("may not read HubCo `18`") && error.message.contains("check `hubco_id`"),
        "{}",
        error.message
    );

    let context = context(connection(&sandbox));
    let error = call(
        &context,
        "conexiom.document_data",
        json!({ "document_id": 999_999_999 }),
    )
    .await
    .unwrap_err();
    assert_eq!(error.status, Some(404));
    assert!(
        error.message.contains("no document with id `999999999`"),
        "{}",
        error.message
    );
    let error = call(&context, "conexiom.buyers", json!({ "spokeco_id": "nope" }))
        .await
        .unwrap_err();
    assert!(error.message.contains("no SpokeCo with id `nope`"), "{}", error.message);
}

#[tokio::test]
async fn a_429_is_waited_out_and_a_500_retried() {
    let sandbox = sandbox().await;
    let control = sandbox.control();
    let path = api_path(&sandbox, "api/hubcos/17/alerts");
    control.add_fault(
        FaultRule::new(
            path.clone(),
            Fault::Status {
                status: 429,
                retry_after: Some("1".to_owned()),
                body: None,
            },
        )
        .times(1),
    );
    control.add_fault(FaultRule::new(path.clone(), Fault::status(500)).times(1));
    let started = std::time::Instant::now();
    let alerts = list(&context(connection(&sandbox)), "conexiom.alerts", json!({})).await;
    assert!(!alerts.is_empty());
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "Retry-After: 1 was honoured"
    );
    assert_eq!(control.request_count("GET", &path), 3);
}

#[tokio::test]
async fn a_list_that_is_no_list_says_what_came() {
    let sandbox = sandbox().await;
    let control = sandbox.control();
    let path = api_path(&sandbox, "api/hubcos/17/alerts");
    control.add_fault(FaultRule::new(
        path,
        Fault::Status {
            status: 200,
            retry_after: None,
            body: Some(r#"{"Total": 3}"#.to_owned()),
        },
    ));
    let error = call(&context(connection(&sandbox)), "conexiom.alerts", json!({}))
        .await
        .unwrap_err();
    assert!(error.message.contains("expected a list"), "{}", error.message);
    assert!(error.message.contains(r#"{"Total":3}"#), "{}", error.message);
}
