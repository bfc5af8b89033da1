//! `onecrm.new_event`, the instant trigger of `flowrun serve`, against the simulator: the
//! webhook subscribed once per callback URL, a real delivery (the simulator POSTs to a small
//! receiver of the test's) turned into an event with the record read again, deliveries of
//! records since deleted or of another event dropped, and the subscription removed.

use std::sync::Arc;
use std::time::Duration;

use flowrun_connect::module::{CallContext, ErrorKind};
use flowrun_connect::trigger::{Trigger, TriggerMode};
use serde_json::{Value as Json, json};
use tokio::sync::mpsc;

use super::{admin, ok, sandbox};

fn trigger() -> Arc<dyn Trigger> {
    flowrun_connector_onecrm::connector().trigger("new_event").unwrap()
}

/// A receiver of webhook deliveries on a free port: every POSTed JSON body goes to the channel.
/// Returns the callback URL (with a token, as `flowrun serve` makes them).
async fn receiver() -> (String, mpsc::UnboundedReceiver<Json>) {
    let (sender, received) = mpsc::unbounded_channel();
    let app = axum::Router::new().route(
        "/hooks/{token}",
        axum::routing::post(move |axum::Json(body): axum::Json<Json>| {
            let sender = sender.clone();
            async move {
                let _ = sender.send(body);
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{address}/hooks/s3cr3t-token"), received)
}

/// The simulator's subscriptions, through `api_call`.
async fn subscriptions(crm: &CallContext) -> Vec<Json> {
    let listed = ok(crm, "onecrm.api_call", json!({ "path": "webhooks" })).await;
    listed["body"]["records"].as_array().unwrap().clone()
}

async fn next_delivery(received: &mut mpsc::UnboundedReceiver<Json>) -> Json {
    tokio::time::timeout(Duration::from_secs(10), received.recv())
        .await
        .expect("a delivery within 10 s")
        .unwrap()
}

#[tokio::test]
async fn a_subscription_delivers_created_records_read_again() {
    let sandbox = sandbox().await;
    let crm = admin(&sandbox);
    let trigger = trigger();
    let params = json!({ "connection": "crm", "module": "Account", "type": "created" });
    assert_eq!(trigger.mode(&params), TriggerMode::Instant);
    let (url, mut received) = receiver().await;

    // Subscribed once: with the "not deleted" filter, for creates of the module.
    let first = trigger.subscribe(&crm, &params, &url).await.unwrap();
    assert!(!first.existing);
    let listed = subscriptions(&crm).await;
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0]["id"], first.id.as_str());
    assert_eq!(listed[0]["url"], url.as_str());
    assert_eq!(listed[0]["model"], "Account");
    assert_eq!(listed[0]["type"], "create");
    assert_eq!(listed[0]["filters"]["conditions"][0]["field"], "deleted");

    // A restart finds its subscription and keeps it.
    let again = trigger.subscribe(&crm, &params, &url).await.unwrap();
    assert!(again.existing);
    assert_eq!(again.id, first.id);
    assert_eq!(subscriptions(&crm).await.len(), 1);

    // A record created: the simulator POSTs it to the receiver; the event reads it again.
    let created = ok(
        &crm,
        "onecrm.create_record",
        json!({ "module": "Account", "data": { "name": "Webhook Trading" } }),
    )
    .await;
    let id = created["id"].as_str().unwrap().to_owned();
    let body = next_delivery(&mut received).await;
    assert_eq!(body["id"], id.as_str());
    let deliveries = sandbox
        .control()
        .wait_for_onecrm_webhook_deliveries(1, Duration::from_secs(5))
        .await;
    assert_eq!(deliveries.len(), 1);
    assert_eq!(deliveries[0].status, Some(200));
    assert_eq!(deliveries[0].event, "create");

    let event = trigger.event(&crm, &params, body.clone()).await.unwrap().unwrap();
    let record = ok(&crm, "onecrm.get_record", json!({ "module": "Account", "id": id })).await;
    let modified = record["date_modified"].as_str().unwrap();
    assert_eq!(event.key, format!("{id}:{modified}"));
    assert_eq!(event.event["module"], "Account");
    assert_eq!(event.event["type"], "created");
    assert_eq!(event.event["id"], id.as_str());
    assert_eq!(event.event["record"], record);
    flowrun_connect::testing::assert_output(&flowrun_connector_onecrm::spec(), "new_event", event.event.clone());

    // The delivery is a hint: what the run sees is the record as it is now.
    let hint = json!({ "id": id, "name": "Forged name" });
    let event = trigger.event(&crm, &params, hint).await.unwrap().unwrap();
    assert_eq!(event.event["record"]["name"], "Webhook Trading");

    // Wrapped deliveries are read too, and one that names another event starts nothing.
    let wrapped = json!({ "type": "create", "model": "Account", "record": { "id": id } });
    let event = trigger.event(&crm, &params, wrapped).await.unwrap().unwrap();
    assert_eq!(event.event["id"], id.as_str());
    let other = json!({ "type": "update", "model": "Account", "data": { "id": id } });
    assert_eq!(trigger.event(&crm, &params, other).await.unwrap(), None);
    let contact = json!({ "type": "create", "model": "Contact", "data": { "id": id } });
    assert_eq!(trigger.event(&crm, &params, contact).await.unwrap(), None);

    // Deleted since the delivery, or never there: no run.
    ok(&crm, "onecrm.delete_record", json!({ "module": "Account", "id": id })).await;
    assert_eq!(trigger.event(&crm, &params, body).await.unwrap(), None);
    let unknown = json!({ "id": "00000000-0000-0000-0000-000000000000" });
    assert_eq!(trigger.event(&crm, &params, unknown).await.unwrap(), None);

    // A delivery without an id is an error, and so is an unknown module.
    let error = trigger
        .event(&crm, &params, json!({ "name": "no id" }))
        .await
        .unwrap_err();
    assert_eq!(error.kind, ErrorKind::Invalid);
    assert!(error.message.contains("without a record `id`"), "{}", error.message);
    let typo = json!({ "module": "Acount", "type": "created" });
    let error = trigger.event(&crm, &typo, json!({ "id": "x" })).await.unwrap_err();
    assert!(error.message.contains("no module `Acount`"), "{}", error.message);

    // Unsubscribed: gone; a second unsubscribe is not an error.
    trigger.unsubscribe(&crm, &params, &first.id).await.unwrap();
    assert!(subscriptions(&crm).await.is_empty());
    trigger.unsubscribe(&crm, &params, &first.id).await.unwrap();
}

#[tokio::test]
async fn updates_only_and_a_changed_type_replaces_the_subscription() {
    let sandbox = sandbox().await;
    let crm = admin(&sandbox);
    let trigger = trigger();
    let (url, mut received) = receiver().await;
    let created_params = json!({ "module": "Account", "type": "created" });
    let created = trigger.subscribe(&crm, &created_params, &url).await.unwrap();

    // The flow now asks for updates at the same URL: the old subscription goes.
    let params = json!({ "module": "Account", "type": "updated" });
    let updated = trigger.subscribe(&crm, &params, &url).await.unwrap();
    assert!(!updated.existing);
    assert_ne!(updated.id, created.id);
    let listed = subscriptions(&crm).await;
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0]["type"], "update");

    // A create is not delivered; the update after it is.
    let record = ok(
        &crm,
        "onecrm.create_record",
        json!({ "module": "Account", "data": { "name": "Update Watch" } }),
    )
    .await;
    let id = record["id"].as_str().unwrap().to_owned();
    ok(
        &crm,
        "onecrm.update_record",
        json!({ "module": "Account", "id": id, "data": { "name": "Update Watched" } }),
    )
    .await;
    let body = next_delivery(&mut received).await;
    let event = trigger.event(&crm, &params, body).await.unwrap().unwrap();
    assert_eq!(event.event["type"], "updated");
    assert_eq!(event.event["record"]["name"], "Update Watched");
    assert!(event.key.starts_with(&format!("{id}:")), "{}", event.key);
    let deliveries = sandbox
        .control()
        .wait_for_onecrm_webhook_deliveries(1, Duration::from_secs(5))
        .await;
    assert_eq!(deliveries.len(), 1, "{deliveries:?}");
    assert_eq!(deliveries[0].event, "update");
}
