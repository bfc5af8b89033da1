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
    assert_eq!(spec_problems(&spec()), Vec::<String>::new());
    assert!(spec().connection_optional);
}

#[test]
fn connection_config() {
    let schema = spec().connection_schema;
    let config = json!({
        "base_url": "https://api.example.com/v2",
        "auth": { "kind": "oauth2", "grant": "client_credentials",
                  "token_url": "https://api.example.com/oauth/token",
                  "client_id": "{{ env.SHOP_CLIENT_ID }}", "client_secret": "{{ secrets.SHOP_SECRET }}" },
        "rate_limit": { "requests": 60, "per": "1m" },
    });
    assert_eq!(instance_problems(&schema, &config), Vec::<String>::new());
    assert_eq!(instance_problems(&schema, &json!({})), Vec::<String>::new());
    assert!(!instance_problems(&schema, &json!({ "base_uri": "https://x" })).is_empty());
}

#[test]
fn request() {
    check("request", json!({ "url": "https://api.example.com/health" }));
    check(
        "request",
        json!({
            "method": "POST",
            "url": "orders",
            "headers": { "X-Request-Id": "{{ run.id }}" },
            "query": { "dry_run": false, "tag": ["a", "b"] },
            "body": { "customer": "{{ item.id }}", "lines": [] },
            "response": "json",
            "ok_status": [404, 409],
        }),
    );
    check(
        "request",
        json!({ "url": "items", "paginate": { "kind": "offset", "param": "offset",
                                              "limit_param": "limit", "page_size": 100,
                                              "items": "$.data" } }),
    );
    check(
        "request",
        json!({ "url": "items", "paginate": { "kind": "link_header" } }),
    );
    check(
        "request",
        json!({ "method": "HEAD", "url": "x", "response": "bytes", "body": "raw" }),
    );

    check_invalid("request", json!({ "method": "GET" }));
    check_invalid("request", json!({ "url": "x", "method": "FETCH" }));
    check_invalid("request", json!({ "url": "x", "response": "xml" }));
    check_invalid(
        "request",
        json!({ "url": "x", "paginate": { "kind": "cursor", "next": "$.n" } }),
    );
    check_invalid(
        "request",
        json!({ "url": "x", "paginate": { "kind": "link_header", "page_size": 10 } }),
    );
}

#[test]
fn request_output_matches_what_the_spec_promises() {
    let spec = spec();
    let schema = &spec.module("request").expect("module exists").output_schema;
    let output = json!({ "status": 200, "headers": { "content-type": "application/json" },
                         "body": { "ok": true } });
    assert_eq!(instance_problems(schema, &output), Vec::<String>::new());
}
