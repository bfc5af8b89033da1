//! Records: create, read, update (and upsert), search with every page, delete.

use std::collections::HashSet;

use serde_json::json;

use super::{admin, assert_output, call, ok, sandbox};

#[tokio::test]
async fn a_record_is_created_read_updated_found_and_deleted() {
    let sandbox = sandbox().await;
    let crm = admin(&sandbox);
    let created = ok(
        &crm,
        "onecrm.create_record",
        json!({ "module": "Account", "data": { "name": "Zyxwv Trading", "phone_office": "+31 20 555 0100" } }),
    )
    .await;
    assert_output("create_record", &created);
    let id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(id.len(), 36, "{id}");

    let record = ok(&crm, "onecrm.get_record", json!({ "module": "Account", "id": id })).await;
    assert_output("get_record", &record);
    assert_eq!(record["id"], id.as_str());
    assert_eq!(record["name"], "Zyxwv Trading");
    assert!(record["date_entered"].is_string(), "{record}");
    let some = ok(
        &crm,
        "onecrm.get_record",
        json!({ "module": "Account", "id": id, "fields": ["name"] }),
    )
    .await;
    assert_eq!(some["name"], "Zyxwv Trading");

    let updated = ok(
        &crm,
        "onecrm.update_record",
        json!({ "module": "Account", "id": id, "data": { "phone_office": "+31 20 555 0199" } }),
    )
    .await;
    assert_output("update_record", &updated);
    assert_eq!(updated, json!({ "id": id, "result": true }));
    let record = ok(&crm, "onecrm.get_record", json!({ "module": "Account", "id": id })).await;
    assert_eq!(record["phone_office"], "+31 20 555 0199");
    assert_eq!(
        record["name"], "Zyxwv Trading",
        "fields not in `data` keep their values"
    );

    let found = ok(
        &crm,
        "onecrm.search_records",
        json!({ "module": "Account", "filter_text": "Zyxwv", "fields": ["name", "phone_office"] }),
    )
    .await;
    assert_output("search_records", &found);
    assert_eq!(found["total_results"], 1, "{found}");
    assert_eq!(found["records"][0]["id"], id.as_str());
    assert_eq!(found["records"][0]["phone_office"], "+31 20 555 0199");

    let deleted = ok(&crm, "onecrm.delete_record", json!({ "module": "Account", "id": id })).await;
    assert_eq!(deleted, json!({ "id": id, "result": true }));
    let error = call(&crm, "onecrm.get_record", json!({ "module": "Account", "id": id }))
        .await
        .unwrap_err();
    assert_eq!(error.status, Some(404));
    assert!(
        error
            .message
            .starts_with(&format!("no `Account` record with id `{id}`")),
        "{}",
        error.message
    );
    let error = call(&crm, "onecrm.delete_record", json!({ "module": "Account", "id": id }))
        .await
        .unwrap_err();
    assert_eq!(error.status, Some(404), "{}", error.message);
}

#[tokio::test]
async fn update_with_create_upserts() {
    let sandbox = sandbox().await;
    let crm = admin(&sandbox);
    let id = "0f2c6a55-1d3e-4c1b-9a51-3d1f00c0ffee";
    let error = call(
        &crm,
        "onecrm.update_record",
        json!({ "module": "Contact", "id": id, "data": { "last_name": "Upsert" } }),
    )
    .await
    .unwrap_err();
    assert_eq!(error.status, Some(404), "{}", error.message);
    let out = ok(
        &crm,
        "onecrm.update_record",
        json!({ "module": "Contact", "id": id, "data": { "first_name": "Ulla", "last_name": "Upsert" }, "create": true }),
    )
    .await;
    assert_eq!(out, json!({ "id": id, "result": true }));
    let record = ok(&crm, "onecrm.get_record", json!({ "module": "Contact", "id": id })).await;
    assert_eq!(record["last_name"], "Upsert");
}

/// The 3,000 seeded contacts: 30 requests of 100, every record once, in the order asked for;
/// `offset` and `limit` cut the same list.
#[tokio::test]
async fn search_reads_every_page_past_a_thousand_records() {
    let sandbox = sandbox().await;
    let crm = admin(&sandbox);
    let path = format!(
        "{}/api.php/data/Contact",
        sandbox.onecrm_url().trim_start_matches(&sandbox.base_url())
    );
    let started = std::time::Instant::now();
    let found = ok(
        &crm,
        "onecrm.search_records",
        json!({ "module": "Contact", "fields": ["last_name", "first_name"], "order": "last_name desc" }),
    )
    .await;
    let elapsed = started.elapsed();
    let requests = sandbox.control().request_count("GET", &path);
    let records = found["records"].as_array().unwrap();
    eprintln!(
        "search of {} records: {requests} requests in {elapsed:?}",
        records.len()
    );
    let total = found["total_results"].as_u64().unwrap();
    assert!(total > 1_000, "{total}");
    assert_eq!(records.len() as u64, total);
    assert_eq!(requests, total.div_ceil(100), "pages of 100");
    let ids: HashSet<&str> = records.iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len() as u64, total, "every record once");
    let names: Vec<String> = records
        .iter()
        .map(|r| r["last_name"].as_str().unwrap_or_default().to_lowercase())
        .collect();
    assert!(names.windows(2).all(|pair| pair[0] >= pair[1]), "the order asked for");

    let cut = ok(
        &crm,
        "onecrm.search_records",
        json!({ "module": "Contact", "fields": ["last_name", "first_name"], "order": "last_name desc",
                "offset": 1_050, "limit": 130 }),
    )
    .await;
    assert_eq!(cut["total_results"].as_u64(), Some(total), "the count of every match");
    assert_eq!(cut["records"].as_array().unwrap()[..], records[1_050..1_180]);
    assert_eq!(
        sandbox.control().request_count("GET", &path),
        requests + 2,
        "100, then the 30 still wanted"
    );

    let tail = ok(
        &crm,
        "onecrm.search_records",
        json!({ "module": "Contact", "fields": ["last_name", "first_name"], "order": "last_name desc",
                "offset": total - 7, "limit": 500 }),
    )
    .await;
    assert_eq!(tail["records"].as_array().unwrap()[..], records[records.len() - 7..]);
    let none = ok(
        &crm,
        "onecrm.search_records",
        json!({ "module": "Contact", "filter_text": "no such contact anywhere" }),
    )
    .await;
    assert_eq!(none, json!({ "records": [], "total_results": 0 }));
}

#[tokio::test]
async fn search_sends_named_filters_the_php_way() {
    let sandbox = sandbox().await;
    let crm = admin(&sandbox);
    let fields = ok(&crm, "onecrm.list_fields", json!({ "module": "Account" })).await;
    let filters = fields["filters"].as_object().unwrap();
    assert!(filters.contains_key("address_city"), "{filters:?}");
    for (name, city) in [("Qwerty North", "Utrecht"), ("Qwerty South", "Eindhoven")] {
        ok(
            &crm,
            "onecrm.create_record",
            json!({ "module": "Account", "data": { "name": name, "billing_address_city": city } }),
        )
        .await;
    }
    let found = ok(
        &crm,
        "onecrm.search_records",
        json!({ "module": "Account", "filter_text": "Qwerty", "filters": { "address_city": "Utrecht" } }),
    )
    .await;
    assert_eq!(found["total_results"], 1, "{found}");
    assert_eq!(found["records"][0]["name"], "Qwerty North");
}
