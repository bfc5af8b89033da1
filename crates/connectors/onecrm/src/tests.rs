use flowrun_connect::schema::{instance_problems, spec_problems};
use serde_json::{Value, json};

use crate::spec;

/// `with` is accepted by the module's schema, and rejected once it carries an unknown key.
#[track_caller]
fn check(module: &str, with: Value) {
    let spec = spec();
    let schema = &spec.module(module).expect("module exists").params_schema;
    assert_eq!(
        instance_problems(schema, &with),
        Vec::<String>::new(),
        "{module}: {with}"
    );
    let mut with_typo = with;
    with_typo["unknown_key"] = json!(1);
    assert!(
        !instance_problems(schema, &with_typo).is_empty(),
        "{module} accepts unknown keys"
    );
}

#[track_caller]
fn check_invalid(module: &str, with: Value) {
    let spec = spec();
    let schema = &spec.module(module).expect("module exists").params_schema;
    assert!(!instance_problems(schema, &with).is_empty(), "{module} accepts {with}");
}

#[test]
fn spec_is_well_formed() {
    let spec = spec();
    assert_eq!(spec_problems(&spec), Vec::<String>::new());
    assert_eq!(spec.modules.len(), 11);
}

#[test]
fn connection_config() {
    let schema = spec().connection_schema;
    let valid = [
        json!({ "domain": "{{ env.ONECRM_DOMAIN }}", "username": "{{ env.ONECRM_USER }}",
                "password": "{{ secrets.ONECRM_PASSWORD }}" }),
        json!({ "domain": "portaldemo.1crmcloud.com/1crm", "username": "admin", "password": "x",
                "base_url": "http://127.0.0.1:8080/api.php", "timeout": "10s" }),
        json!({ "domain": "crm.example.com",
                "auth": { "kind": "bearer", "token": "{{ secrets.ONECRM_TOKEN }}" } }),
    ];
    for config in valid {
        assert_eq!(instance_problems(&schema, &config), Vec::<String>::new(), "{config}");
    }
    let invalid = [
        json!({ "domain": "crm.example.com", "username": "admin" }),
        json!({ "domain": "https://crm.example.com", "username": "a", "password": "p" }),
        json!({ "username": "a", "password": "p" }),
        json!({ "domain": "crm.example.com", "username": "a", "password": "p", "user": "a" }),
    ];
    for config in invalid {
        assert!(!instance_problems(&schema, &config).is_empty(), "accepted {config}");
    }
}

#[test]
fn records() {
    check(
        "search_records",
        json!({ "module": "Account", "filter_text": "{{ inputs.since }}",
                "fields": ["name", "email1", "date_modified"], "limit": 500 }),
    );
    check(
        "search_records",
        json!({ "module": "Contact", "filters": { "filter_owner": "mine", "address_city": "Amsterdam" },
                "order": "date_modified desc", "offset": 100, "limit": "{{ inputs.limit }}" }),
    );
    check("get_record", json!({ "module": "Account", "id": "{{ trigger.id }}" }));
    check(
        "create_record",
        json!({ "module": "Account", "data": { "name": "Acme", "email1": "info@acme.example" } }),
    );
    check(
        "update_record",
        json!({ "module": "Account", "id": "7eba2a01-6cb6-f38c-d4c2-5a8fc2def9d2",
                "data": { "phone_office": "+31 20 555 0100" }, "create": true }),
    );
    check("delete_record", json!({ "module": "Note", "id": "{{ item.id }}" }));

    check_invalid("search_records", json!({ "fields": ["name"] }));
    check_invalid("search_records", json!({ "module": "Account", "limit": 0 }));
    check_invalid("create_record", json!({ "module": "Account" }));
    check_invalid("update_record", json!({ "module": "Account", "data": {} }));
    check_invalid("delete_record", json!({ "id": "x" }));
}

#[test]
fn metadata_files_calls_and_trigger() {
    check("list_modules", json!({}));
    check("get_my_info", json!({}));
    check("list_fields", json!({ "module": "Account" }));
    check(
        "upload_file",
        json!({ "file_name": "PO-55871.pdf", "content": "{{ steps.pdf.output.body }}",
                "mime_type": "application/pdf" }),
    );
    check(
        "upload_file",
        json!({ "file_name": "logo.png", "path": "assets/logo.png" }),
    );
    check(
        "api_call",
        json!({ "path": "/data/Account/{{ item.id }}/contacts", "query": { "fields": ["name"] } }),
    );
    check(
        "api_call",
        json!({ "method": "POST", "path": "/data/Account/1/contacts",
                "body": { "records": ["id1"] } }),
    );
    check(
        "new_event",
        json!({ "connection": "crm", "module": "Account", "type": "created" }),
    );
    check("new_event", json!({ "module": "Lead", "type": "updated" }));

    check_invalid("list_fields", json!({}));
    check_invalid("upload_file", json!({ "file_name": "a.txt" }));
    check_invalid(
        "upload_file",
        json!({ "file_name": "a.txt", "content": "YQ==", "path": "a.txt" }),
    );
    check_invalid("new_event", json!({ "module": "Account", "type": "deleted" }));
}

#[test]
fn outputs_describe_api_records() {
    let spec = spec();
    let output = |name: &str| spec.module(name).expect("module exists").output_schema.clone();
    let record = json!({ "id": "7eba2a01-6cb6-f38c-d4c2-5a8fc2def9d2", "name": "Acme",
                         "deleted": "0", "date_modified": "2018-02-23 07:28:28", "parent_id": null });
    let search = json!({ "records": [record.clone()], "total_results": 200 });
    assert_eq!(
        instance_problems(&output("search_records"), &search),
        Vec::<String>::new()
    );
    assert_eq!(instance_problems(&output("get_record"), &record), Vec::<String>::new());
    let me = json!({ "id": "Users:1", "name": "admin", "first_name": "", "last_name": "Administrator",
                     "role": "user", "groups": [], "email": "admin@example.com", "timezone": "UTC" });
    assert_eq!(instance_problems(&output("get_my_info"), &me), Vec::<String>::new());
    let fields = json!({ "fields": { "title": { "name": "title", "vname": "Title", "type": "varchar",
                                                "len": 50, "required": false } },
                         "filters": { "filter_text": {} } });
    assert_eq!(instance_problems(&output("list_fields"), &fields), Vec::<String>::new());
    assert!(!instance_problems(&output("get_record"), &json!({ "name": "no id" })).is_empty());
}
