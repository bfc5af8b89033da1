use flowrun_connect::schema::{instance_problems, spec_problems};
use flowrun_connect::testing::{assert_accepts, assert_rejects};
use serde_json::json;

use crate::spec;

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
    assert_accepts(&spec(), "request", json!({ "url": "https://api.example.com/health" }));
    assert_accepts(
        &spec(),
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
    assert_accepts(
        &spec(),
        "request",
        json!({ "url": "items", "paginate": { "kind": "offset", "param": "offset",
                                              "limit_param": "limit", "page_size": 100,
                                              "items": "$.data" } }),
    );
    assert_accepts(
        &spec(),
        "request",
        json!({ "url": "items", "paginate": { "kind": "link_header" } }),
    );
    assert_accepts(
        &spec(),
        "request",
        json!({ "method": "HEAD", "url": "x", "response": "bytes", "body": "raw" }),
    );

    assert_rejects(&spec(), "request", json!({ "method": "GET" }));
    assert_rejects(&spec(), "request", json!({ "url": "x", "method": "FETCH" }));
    assert_rejects(&spec(), "request", json!({ "url": "x", "response": "xml" }));
    assert_rejects(
        &spec(),
        "request",
        json!({ "url": "x", "paginate": { "kind": "cursor", "next": "$.n" } }),
    );
    assert_rejects(
        &spec(),
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
