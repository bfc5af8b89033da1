//! The delta parameters: only what changed since a date, in whatever form the cursor holds it.

use serde_json::json;

use super::*;

/// Every document of the HubCo processed at or after `from`.
async fn documents_since(context: &CallContext, spokecos: &[Json], from: &str) -> Vec<Json> {
    let mut documents = Vec::new();
    for spokeco in spokecos {
        let params = json!({ "spokeco_id": spokeco["SpokeCoId"], "processed_on_from": from });
        documents.extend(list(context, "conexiom.documents", params).await);
    }
    documents
}

/// The greatest `field` of `records` (dates without zone sort as text).
fn max_of(records: &[Json], field: &str) -> String {
    records
        .iter()
        .filter_map(|record| record[field].as_str())
        .max()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn a_delta_read_after_reprocessing_returns_exactly_those_documents() {
    let sandbox = sandbox().await;
    let context = context(connection(&sandbox));
    let control = sandbox.control();
    let spokecos = list(&context, "conexiom.spokecos", json!({})).await;
    let all = documents_since(&context, &spokecos, "2000-01-01T00:00:00").await;
    let processed = control.conexiom_counts().processed_documents;
    assert_eq!(
        all.len(),
        processed,
        "unprocessed documents are left out of a delta read"
    );
    let cursor = max_of(&all, "ProcessedOn");

    // Nothing changed: an inclusive read from the cursor returns the last document(s) only.
    let again = documents_since(&context, &spokecos, &cursor).await;
    assert!(again.iter().all(|document| document["ProcessedOn"] == json!(cursor)));

    let ids = control.conexiom_document_ids();
    let changed = control.conexiom_reprocess_documents(&[ids[3], ids[40], ids[100]]);
    // The cursor as a flow may keep it, RFC 3339 with a zone; the filter is inclusive, so the
    // documents processed at the cursor itself come again too.
    let delta = documents_since(&context, &spokecos, &format!("{cursor}Z")).await;
    let mut got: Vec<i64> = delta
        .iter()
        .filter(|document| document["ProcessedOn"] != json!(cursor))
        .map(|document| document["DocumentId"].as_i64().unwrap())
        .collect();
    got.sort_unstable();
    let mut want = changed;
    want.sort_unstable();
    assert_eq!(got, want);
}

#[tokio::test]
async fn spokecos_modified_since_a_date() {
    let sandbox = sandbox().await;
    let context = context(connection(&sandbox));
    let control = sandbox.control();
    let spokecos = list(&context, "conexiom.spokecos", json!({})).await;
    let cursor = max_of(&spokecos, "LastModifiedOn");
    let touched = spokecos[1]["SpokeCoId"].as_i64().unwrap();
    control.conexiom_touch_spokeco(touched);
    let since = list(
        &context,
        "conexiom.spokecos",
        json!({ "last_modified_from": format!("{}.5", cursor) }),
    )
    .await;
    let ids: Vec<i64> = since
        .iter()
        .map(|spokeco| spokeco["SpokeCoId"].as_i64().unwrap())
        .collect();
    // `.5` is dropped (the filter is inclusive), so the last SpokeCo of the cursor comes again.
    assert!(ids.contains(&touched), "{ids:?}");
    assert!(
        since
            .iter()
            .all(|spokeco| spokeco["LastModifiedOn"].as_str().unwrap() >= cursor.as_str())
    );
}

#[tokio::test]
async fn late_processed_and_new_documents_show_up_in_the_next_delta() {
    let sandbox = sandbox().await;
    let context = context(connection(&sandbox));
    let control = sandbox.control();
    let spokecos = list(&context, "conexiom.spokecos", json!({})).await;
    let all = documents_since(&context, &spokecos, "2000-01-01").await;
    let cursor = max_of(&all, "ProcessedOn");
    let pending = control.conexiom_process_pending();
    assert!(!pending.is_empty(), "the seed has unprocessed documents");
    let added = control.conexiom_add_document(spokecos[0]["SpokeCoId"].as_i64().unwrap());
    let delta = documents_since(&context, &spokecos, &cursor).await;
    let ids: Vec<i64> = delta
        .iter()
        .map(|document| document["DocumentId"].as_i64().unwrap())
        .collect();
    for id in pending.iter().chain([&added]) {
        assert!(ids.contains(id), "{id} missing from {ids:?}");
    }
}

#[tokio::test]
async fn a_date_the_api_would_not_read_is_refused_before_sending() {
    let sandbox = sandbox().await;
    let context = context(connection(&sandbox));
    let error = call(
        &context,
        "conexiom.documents",
        json!({ "spokeco_id": 1, "processed_on_from": "last tuesday" }),
    )
    .await
    .unwrap_err();
    assert!(
        error
            .message
            .contains("`processed_on_from` `last tuesday` is not a date"),
        "{}",
        error.message
    );
    assert_eq!(requests_under(&sandbox, "GET "), 0);
}
