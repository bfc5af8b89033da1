#![allow(clippy::unwrap_used)]

use flowrun_connect::schema::{instance_problems, spec_problems};
use flowrun_connect::testing::{assert_accepts, assert_rejects};
use serde_json::json;

use crate::spec;

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
    assert_accepts(
        &spec(),
        "search_records",
        json!({ "module": "Account", "filter_text": "{{ inputs.since }}",
                "fields": ["name", "email1", "date_modified"], "limit": 500 }),
    );
    assert_accepts(
        &spec(),
        "search_records",
        json!({ "module": "Contact", "filters": { "filter_owner": "mine", "address_city": "Amsterdam" },
                "order": "date_modified desc", "offset": 100, "limit": "{{ inputs.limit }}" }),
    );
    assert_accepts(
        &spec(),
        "get_record",
        json!({ "module": "Account", "id": "{{ trigger.id }}" }),
    );
    assert_accepts(
        &spec(),
        "create_record",
        json!({ "module": "Account", "data": { "name": "Acme", "email1": "info@acme.example" } }),
    );
    assert_accepts(
        &spec(),
        "update_record",
        json!({ "module": "Account", "id": "7eba2a01-6cb6-f38c-d4c2-5a8fc2def9d2",
                "data": { "phone_office": "+31 20 555 0100" }, "create": true }),
    );
    assert_accepts(
        &spec(),
        "delete_record",
        json!({ "module": "Note", "id": "{{ item.id }}" }),
    );

    assert_rejects(&spec(), "search_records", json!({ "fields": ["name"] }));
    assert_rejects(&spec(), "search_records", json!({ "module": "Account", "limit": 0 }));
    assert_rejects(&spec(), "create_record", json!({ "module": "Account" }));
    assert_rejects(&spec(), "update_record", json!({ "module": "Account", "data": {} }));
    assert_rejects(&spec(), "delete_record", json!({ "id": "x" }));
}

#[test]
fn metadata_files_calls_and_trigger() {
    assert_accepts(&spec(), "list_modules", json!({}));
    assert_accepts(&spec(), "get_my_info", json!({}));
    assert_accepts(&spec(), "list_fields", json!({ "module": "Account" }));
    assert_accepts(
        &spec(),
        "upload_file",
        json!({ "file_name": "PO-55871.pdf", "content": "{{ steps.pdf.output.body }}",
                "mime_type": "application/pdf" }),
    );
    assert_accepts(
        &spec(),
        "upload_file",
        json!({ "file_name": "logo.png", "path": "assets/logo.png" }),
    );
    assert_accepts(
        &spec(),
        "api_call",
        json!({ "path": "/data/Account/{{ item.id }}/contacts", "query": { "fields": ["name"] } }),
    );
    assert_accepts(
        &spec(),
        "api_call",
        json!({ "method": "POST", "path": "/data/Account/1/contacts",
                "body": { "records": ["id1"] } }),
    );
    assert_accepts(
        &spec(),
        "new_event",
        json!({ "connection": "crm", "module": "Account", "type": "created" }),
    );
    assert_accepts(&spec(), "new_event", json!({ "module": "Lead", "type": "updated" }));

    assert_rejects(&spec(), "list_fields", json!({}));
    assert_rejects(&spec(), "upload_file", json!({ "file_name": "a.txt" }));
    assert_rejects(
        &spec(),
        "upload_file",
        json!({ "file_name": "a.txt", "content": "YQ==", "path": "a.txt" }),
    );
    assert_rejects(&spec(), "new_event", json!({ "module": "Account", "type": "deleted" }));
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

#[test]
fn the_runtime_has_every_step_module_of_the_catalog() {
    use crate::run::ModuleOp;
    let spec = spec();
    let connector = crate::connector();
    for module in &spec.modules {
        let runtime = connector.module(&module.name);
        if module.kind == flowrun_flow::catalog::ModuleKind::Trigger {
            assert!(runtime.is_none(), "{} is a trigger", module.name);
            continue;
        }
        let runtime = runtime.unwrap_or_else(|| panic!("{} has no runtime", module.name));
        assert_eq!(runtime.kind(), module.kind, "{}", module.name);
        assert!(runtime.retries_itself(), "{}", module.name);
    }
    assert_eq!(ModuleOp::ALL.len(), spec.modules.len() - 1);
    assert!(connector.module("nope").is_none());
}

#[test]
fn domains_without_a_scheme() {
    use crate::run::domain;
    assert_eq!(domain("crm.example.com"), Ok("crm.example.com"));
    assert_eq!(domain(" host:8443/1crm/ "), Ok("host:8443/1crm"));
    let error = domain("https://crm.example.com/1crm").unwrap_err();
    assert!(error.contains("write `crm.example.com/1crm`"), "{error}");
    assert!(domain("").is_err());
    assert!(domain("crm.example.com?x=1").is_err());
}

#[test]
fn queries_are_written_the_php_way() {
    use crate::run::append_php;
    let mut url = url::Url::parse("http://h/api.php/data/Account").unwrap_or_else(|_| unreachable!());
    let query = json!({ "fields": ["name", "email1"], "filters": { "city": "San Jose", "mine": true, "no": null },
                        "limit": 5 });
    for (name, value) in query.as_object().into_iter().flatten() {
        append_php(&mut url, name, value, "onecrm.api_call").unwrap_or_else(|error| panic!("{error}"));
    }
    let pairs: Vec<(String, String)> = url
        .query_pairs()
        .map(|(n, v)| (n.into_owned(), v.into_owned()))
        .collect();
    let expected = [
        ("fields[]", "name"),
        ("fields[]", "email1"),
        ("filters[city]", "San Jose"),
        ("filters[mine]", "1"),
        ("limit", "5"),
    ];
    let expected: Vec<(String, String)> = expected.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect();
    assert_eq!(pairs, expected);
    let error = append_php(&mut url, "x", &json!([[1]]), "onecrm.api_call").unwrap_err();
    assert!(
        error.message.contains("strings, numbers or booleans"),
        "{}",
        error.message
    );
}
