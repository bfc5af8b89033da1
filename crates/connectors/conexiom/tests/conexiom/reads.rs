//! Every module reads what the simulator holds, in the shapes the catalog declares.

use serde_json::json;

use super::*;

#[tokio::test]
async fn the_nine_modules_walk_the_hubco() {
    let sandbox = sandbox().await;
    let context = context(connection(&sandbox));
    let counts = sandbox.control().conexiom_counts();

    let spokecos = list(&context, "conexiom.spokecos", json!({})).await;
    assert_eq!(spokecos.len(), counts.spokecos);
    assert_output("spokecos", &json!(spokecos));
    let first = spokecos[0]["SpokeCoId"].clone();
    let one = ok(&context, "conexiom.spokeco", json!({ "spokeco_id": first })).await;
    assert_eq!(one, spokecos[0]);
    assert_output("spokeco", &one);

    let (mut documents, mut buyers, mut addresses) = (Vec::new(), 0, 0);
    for spokeco in &spokecos {
        let id = spokeco["SpokeCoId"].clone();
        documents.extend(list(&context, "conexiom.documents", json!({ "spokeco_id": id })).await);
        let found = list(&context, "conexiom.buyers", json!({ "spokeco_id": id })).await;
        assert!(found.iter().all(|buyer| buyer["SpokeCoId"] == id));
        buyers += found.len();
        addresses += list(&context, "conexiom.addresses", json!({ "spokeco_id": id }))
            .await
            .len();
    }
    assert_eq!(documents.len(), counts.documents);
    assert_eq!((buyers, addresses), (counts.buyers, counts.addresses));
    assert_output("documents", &json!(documents));

    let processed = documents
        .iter()
        .find(|document| !document["ProcessedOn"].is_null())
        .unwrap();
    let id = processed["DocumentId"].clone();
    let data = ok(&context, "conexiom.document_data", json!({ "document_id": id })).await;
    assert_eq!(data["DocumentId"], id);
    assert!(!data["Lines"].as_array().unwrap().is_empty());
    assert_output("document_data", &data);
    // A document not processed yet has empty data, which the output schema allows too.
    let unprocessed = documents
        .iter()
        .find(|document| document["ProcessedOn"].is_null())
        .unwrap();
    let empty = ok(
        &context,
        "conexiom.document_data",
        json!({ "document_id": unprocessed["DocumentId"] }),
    )
    .await;
    assert!(empty["PONumber"].is_null(), "{empty}");
    assert_output("document_data", &empty);
    let files = ok(&context, "conexiom.file_list", json!({ "document_id": id })).await;
    assert!(files.as_array().unwrap().iter().all(|file| file["DocumentId"] == id));
    assert_output("file_list", &files);

    let alerts = list(&context, "conexiom.alerts", json!({})).await;
    assert_eq!(alerts.len(), counts.alerts);
    assert_output("alerts", &json!(alerts));
    let alert = ok(&context, "conexiom.alert", json!({ "alert_id": alerts[0]["AlertId"] })).await;
    assert_eq!(alert["AlertId"], alerts[0]["AlertId"]);
    assert_output("alert", &alert);

    // One token for the whole walk.
    assert_eq!(sandbox.control().token_grants("password"), 1);
}

#[tokio::test]
async fn ids_given_as_strings_read_the_same_records() {
    let sandbox = sandbox().await;
    let context = context(connection(&sandbox));
    let spokecos = list(&context, "conexiom.spokecos", json!({})).await;
    let id = spokecos[0]["SpokeCoId"].as_i64().unwrap();
    let by_number = ok(&context, "conexiom.spokeco", json!({ "spokeco_id": id })).await;
    let by_text = ok(&context, "conexiom.spokeco", json!({ "spokeco_id": id.to_string() })).await;
    assert_eq!(by_number, by_text);
}

#[tokio::test]
async fn wrapped_and_paged_lists_are_read_to_the_end() {
    let sandbox = sandbox().await;
    let context = context(connection(&sandbox));
    let bare = list(&context, "conexiom.alerts", json!({})).await;
    assert!(bare.len() > 7, "the seed has more alerts than a page: {}", bare.len());

    let control = sandbox.control();
    let mut settings = control.conexiom_settings();
    settings.paged = true;
    settings.page_size = 7;
    control.set_conexiom_settings(settings);
    let before = requests_under(&sandbox, "GET ");
    let paged = list(&context, "conexiom.alerts", json!({})).await;
    assert_eq!(paged, bare);
    let pages = requests_under(&sandbox, "GET ") - before;
    assert_eq!(pages as usize, bare.len().div_ceil(7));
}
