//! `publish`: create, update and delete round trips; refusals that name the property.

use super::*;

#[tokio::test]
async fn create_update_delete_round_trip() {
    let sandbox = sandbox().await;
    let control = sandbox.control();
    let context = logged_in(&sandbox).await;

    let created = ok(
        &context,
        "exact_online.publish",
        json!({ "action": "create", "entity": "crm/Accounts",
                "payload": { "Name": "Flowrun Test BV", "Email": "test@flowrun.example", "Status": "C" } }),
    )
    .await;
    assert_output("publish", &created);
    let id = created["ID"].as_str().unwrap().to_owned();
    assert_eq!(created["Name"], "Flowrun Test BV");
    assert_eq!(
        created["Code"].as_str().unwrap().len(),
        18,
        "Exact pads codes: {created}"
    );
    assert!(created["Created"].as_str().unwrap().ends_with('Z'), "{created}");
    assert!(control.exact_find("crm/Accounts", &id).is_some());

    // Update: only the properties given change; the id may be written in braces.
    let updated = ok(
        &context,
        "exact_online.publish",
        json!({ "action": "update", "entity": "crm/Accounts", "id": format!("{{{}}}", id.to_uppercase()),
                "payload": { "Name": "Flowrun Test NV" } }),
    )
    .await;
    assert_output("publish", &updated);
    let stored = control.exact_find("crm/Accounts", &id).unwrap();
    assert_eq!(stored["Name"], "Flowrun Test NV");
    assert_eq!(stored["Email"], "test@flowrun.example");

    let deleted = ok(
        &context,
        "exact_online.publish",
        json!({ "action": "delete", "entity": "crm/Accounts", "id": id }),
    )
    .await;
    assert_eq!(deleted["ID"], json!(id));
    assert!(control.exact_find("crm/Accounts", &id).is_none());
    let gone = call(
        &context,
        "exact_online.publish",
        json!({ "action": "delete", "entity": "crm/Accounts", "id": id }),
    )
    .await
    .unwrap_err();
    assert_eq!(gone.status, Some(404));
    assert!(
        gone.message.contains("Exact Online cannot delete `crm/Accounts`"),
        "{}",
        gone.message
    );

    // The deletion shows on sync/Deleted.
    let deletions = rows(
        &context,
        json!({ "entity": "sync/Deleted", "select": ["EntityKey", "EntityType", "Timestamp"], "filter": "Timestamp gt 1L" }),
    )
    .await;
    assert!(
        deletions.iter().any(|row| row["EntityKey"] == json!(id)),
        "{deletions:?}"
    );
}

#[tokio::test]
async fn a_refused_write_names_the_property() {
    let sandbox = sandbox().await;
    let context = logged_in(&sandbox).await;
    let error = call(
        &context,
        "exact_online.publish",
        json!({ "action": "create", "entity": "crm/Accounts", "payload": { "Email": "x@y.example" } }),
    )
    .await
    .unwrap_err();
    assert_eq!(error.status, Some(400));
    assert!(
        error.message.contains("Exact Online refused to create `crm/Accounts`"),
        "{}",
        error.message
    );
    assert!(error.message.contains("Name"), "names the property: {}", error.message);

    let error = call(
        &context,
        "exact_online.publish",
        json!({ "action": "create", "entity": "crm/Accounts", "payload": { "Name": "Bad", "Email": "not-an-address@" } }),
    )
    .await
    .unwrap_err();
    assert!(error.message.contains("Email"), "{}", error.message);
}

#[tokio::test]
async fn an_id_that_is_not_a_guid_is_refused_before_sending() {
    let sandbox = sandbox().await;
    let context = logged_in(&sandbox).await;
    let before = sandbox.control().exact_counts().requests;
    let error = call(
        &context,
        "exact_online.publish",
        json!({ "action": "update", "entity": "crm/Accounts", "id": "1024", "payload": { "Name": "X" } }),
    )
    .await
    .unwrap_err();
    assert!(error.message.contains("`id` `1024` is not a GUID"), "{}", error.message);
    assert_eq!(sandbox.control().exact_counts().requests, before, "nothing was sent");
}
