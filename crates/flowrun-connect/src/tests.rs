use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::config::{ApiKeyLocation, Auth, ByteSize, HttpConnectionConfig, OAuth2Grant};
use crate::schema::{input_schema, instance_problems, is_snake_case};

/// A connection type shaped like every connector's: its own keys plus the shared ones.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
struct ExampleConnection {
    /// The API root.
    base_url: String,
    #[serde(flatten)]
    http: HttpConnectionConfig,
}

fn full_config() -> Value {
    json!({
        "base_url": "https://api.example.com/v2",
        "auth": {
            "kind": "oauth2",
            "grant": "client_credentials",
            "token_url": "https://api.example.com/oauth/token",
            "client_id": "{{ env.SHOP_CLIENT_ID }}",
            "client_secret": "{{ secrets.SHOP_SECRET }}",
            "scopes": ["read", "write"],
        },
        "rate_limit": { "requests": 60, "per": "1m" },
        "timeout": "30s",
        "max_response_size": "10MB",
    })
}

#[track_caller]
fn check_schema(config: Value, expect_valid: bool) {
    let problems = instance_problems(&input_schema::<ExampleConnection>(), &config);
    assert_eq!(problems.is_empty(), expect_valid, "{config}: {problems:?}");
}

#[test]
fn flatten_keeps_unknown_keys_out_of_schema_and_serde() {
    check_schema(full_config(), true);
    check_schema(json!({ "base_url": "https://x" }), true);
    check_schema(json!({ "base_url": "https://x", "timeot": "5s" }), false);
    check_schema(json!({ "timeout": "5s" }), false);

    let config: ExampleConnection = serde_json::from_value(full_config()).unwrap();
    assert_eq!(config.base_url, "https://api.example.com/v2");
    assert_eq!(config.http.max_response_size, Some(ByteSize(10_000_000)));
    assert!(matches!(
        config.http.auth,
        Some(Auth::OAuth2 {
            grant: OAuth2Grant::ClientCredentials,
            ..
        })
    ));
    let unknown = json!({ "base_url": "https://x", "timeot": "5s" });
    assert!(serde_json::from_value::<ExampleConnection>(unknown).is_err());
}

#[test]
fn every_auth_kind_has_its_own_keys() {
    let valid = [
        json!({ "kind": "basic", "username": "u", "password": "{{ secrets.P }}" }),
        json!({ "kind": "bearer", "token": "t" }),
        json!({ "kind": "api_key", "name": "X-Api-Key", "value": "k" }),
        json!({ "kind": "api_key", "name": "key", "value": "k", "in": "query" }),
        json!({ "kind": "oauth2", "grant": "password", "token_url": "https://t", "client_id": "c",
                "username": "u", "password": "p" }),
    ];
    for auth in valid {
        check_schema(json!({ "base_url": "https://x", "auth": auth.clone() }), true);
        let _: Auth = serde_json::from_value(auth).unwrap();
    }
    let invalid = [
        json!({ "kind": "basic", "username": "u" }),
        json!({ "kind": "bearer", "token": "t", "username": "u" }),
        json!({ "kind": "api_key", "name": "k", "value": "v", "in": "cookie" }),
        json!({ "kind": "oauth2", "grant": "implicit", "token_url": "https://t", "client_id": "c" }),
        json!({ "kind": "digest" }),
    ];
    for auth in invalid {
        check_schema(json!({ "base_url": "https://x", "auth": auth.clone() }), false);
        assert!(serde_json::from_value::<Auth>(auth).is_err());
    }
    let api_key: Auth = serde_json::from_value(json!({ "kind": "api_key", "name": "k", "value": "v" })).unwrap();
    assert!(matches!(
        api_key,
        Auth::ApiKey {
            location: ApiKeyLocation::Header,
            ..
        }
    ));
}

#[test]
fn rate_limit_and_sizes_are_checked() {
    for (rate_limit, expect_valid) in [
        (json!({ "requests": 10, "per": "1s" }), true),
        (json!({ "requests": 0, "per": "1s" }), false),
        (json!({ "requests": 10, "per": "1 second" }), false),
        (json!({ "requests": 10 }), false),
    ] {
        check_schema(
            json!({ "base_url": "https://x", "rate_limit": rate_limit }),
            expect_valid,
        );
    }
    for (size, bytes) in [("512B", 512), ("2KB", 2_000), ("10MB", 10_000_000), ("1GiB", 1 << 30)] {
        assert_eq!(size.parse::<ByteSize>(), Ok(ByteSize(bytes)));
        check_schema(json!({ "base_url": "https://x", "max_response_size": size }), true);
    }
    for size in ["", "10", "10 MB", "10mb", "1.5MB", "99999999999999999999GB"] {
        assert!(size.parse::<ByteSize>().is_err(), "{size:?} parsed");
    }
    check_schema(json!({ "base_url": "https://x", "max_response_size": 4096 }), true);
    check_schema(json!({ "base_url": "https://x", "max_response_size": "10 MB" }), false);
    let config: HttpConnectionConfig = serde_json::from_value(json!({ "max_response_size": 4096 })).unwrap();
    assert_eq!(config.max_response_size, Some(ByteSize(4096)));
}

#[test]
fn snake_case_names() {
    for name in ["http", "exact_online", "get_record", "v2"] {
        assert!(is_snake_case(name), "{name}");
    }
    for name in ["", "Http", "exact-online", "_x", "2x", "getRecord"] {
        assert!(!is_snake_case(name), "{name}");
    }
}

mod runtime {
    use std::sync::Arc;

    use flowrun_flow::catalog::{ConnectorSpec, ModuleKind};
    use serde_json::{Value, json};

    use crate::module::{CallContext, Connector, ErrorKind, Module, ModuleError};
    use crate::registry::Registry;

    /// A module that echoes its parameters, or fails when asked to.
    struct Echo;

    #[async_trait::async_trait]
    impl Module for Echo {
        fn name(&self) -> &str {
            "echo"
        }

        fn kind(&self) -> ModuleKind {
            ModuleKind::Action
        }

        async fn call(&self, context: &CallContext, params: Value) -> Result<Value, ModuleError> {
            if params["fail"] == json!(true) {
                return Err(ModuleError::new(ErrorKind::Server, "the test service answered 503").with_status(503));
            }
            Ok(json!({ "params": params, "step": context.step_id, "attempt": context.attempt }))
        }
    }

    struct Test;

    impl Connector for Test {
        fn name(&self) -> &str {
            "test"
        }

        fn spec(&self) -> ConnectorSpec {
            ConnectorSpec {
                name: "test".into(),
                description: "a connector written in the test".into(),
                connection_schema: json!({ "type": "object" }),
                connection_optional: true,
                modules: Vec::new(),
            }
        }

        fn module(&self, name: &str) -> Option<Arc<dyn Module>> {
            (name == "echo").then(|| Arc::new(Echo) as Arc<dyn Module>)
        }
    }

    fn context() -> CallContext {
        CallContext::new("run-1", "send").with_connection("crm", json!({ "password": "hunter2-canary" }))
    }

    #[tokio::test]
    async fn the_registry_finds_modules_by_uses() {
        let mut registry = Registry::default();
        registry.register(Arc::new(Test));
        let module = registry.module("test.echo").expect("registered");
        let output = module.call(&context(), json!({ "x": 1 })).await.unwrap();
        assert_eq!(output, json!({ "params": { "x": 1 }, "step": "send", "attempt": 1 }));
        let error = module.call(&context(), json!({ "fail": true })).await.unwrap_err();
        assert_eq!((error.kind, error.status), (ErrorKind::Server, Some(503)));
        assert!(registry.module("test.nope").is_none());
        assert!(registry.module("nope.echo").is_none());
        assert!(registry.module("no-dot").is_none());
        assert_eq!(registry.catalog().connector_names().collect::<Vec<_>>(), ["test"]);
    }

    #[test]
    fn a_call_context_never_prints_its_connection() {
        assert!(!format!("{:?}", context()).contains("hunter2"));
    }
}

#[test]
fn output_headers_join_repeated_names_in_order_and_hide_cookies() {
    use reqwest::header::{HeaderMap, HeaderValue};

    let mut headers = HeaderMap::new();
    headers.append("x-b", HeaderValue::from_static("2"));
    headers.append("set-cookie", HeaderValue::from_static("session=s3cr3t-canary"));
    headers.append("x-a", HeaderValue::from_static("first"));
    headers.append("set-cookie", HeaderValue::from_static("other=s3cr3t-canary"));
    headers.append("x-a", HeaderValue::from_static("second"));
    let response = crate::client::Response {
        status: 200,
        headers,
        body: bytes::Bytes::new(),
        method: crate::http::Method::Get,
        url: "https://example.test/".to_owned(),
    };
    let expected = json!({ "x-b": "2", "set-cookie": "***, ***", "x-a": "first, second" });
    assert_eq!(Value::Object(response.headers_object()), expected);
    let as_text: Vec<(String, String)> = response.headers_json().into_iter().collect();
    assert_eq!(
        as_text,
        [("x-b", "2"), ("set-cookie", "***, ***"), ("x-a", "first, second")]
            .map(|(name, value)| (name.to_owned(), value.to_owned()))
    );
}

/// A body is kept as text only when parsing it later cannot fail: a number whose range
/// serde_json checks only when building the value (`1e400`), or nesting past its depth limit,
/// makes it parsed on arrival, which fails the step then, as before.
#[test]
fn a_body_that_may_not_parse_into_a_value_is_parsed_on_arrival_and_fails() {
    let response = response_with_body;
    let long = "9".repeat(400);
    let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
    for body in [r#"{"a": 1e400}"#, "[1.5E-3]", "[2e1]", long.as_str(), deep.as_str()] {
        assert!(response(body).raw_json().unwrap().is_none(), "{body}");
    }
    let error = response(r#"{"a": 1e400}"#).json().unwrap_err();
    assert!(error.message.contains("number out of range"), "{}", error.message);
    let error = response(&deep).json().unwrap_err();
    assert!(error.message.contains("recursion limit"), "{}", error.message);
    let nested = format!("{}{}", "[".repeat(100), "]".repeat(100));
    assert!(response(&nested).raw_json().unwrap().is_some(), "100 deep parses");
    for body in [
        r#"{"id": "3e4f-1e400", "n": -12.5, "s": "\\\"e"}"#,
        "[0, 1.25]",
        r#""E""#,
    ] {
        let raw = response(body)
            .raw_json()
            .unwrap()
            .unwrap_or_else(|| panic!("kept as text: {body}"));
        assert_eq!(raw.get(), body);
    }
    assert!(response(" ").raw_json().unwrap().is_none());
    assert!(response("<html>").raw_json().is_err());
}

/// The body of the proptests below, as a response would carry it.
fn response_with_body(body: &str) -> crate::client::Response {
    crate::client::Response {
        status: 200,
        headers: reqwest::header::HeaderMap::new(),
        body: bytes::Bytes::from(body.to_owned()),
        method: crate::http::Method::Get,
        url: "https://example.test/".to_owned(),
    }
}

/// A body kept as text parses into the value `json()` gives.
fn check_kept_text_parses(body: &str) -> Result<(), proptest::test_runner::TestCaseError> {
    let response = response_with_body(body);
    if let Ok(Some(raw)) = response.raw_json() {
        let parsed: Result<Value, _> = serde_json::from_str(raw.get());
        proptest::prop_assert!(parsed.is_ok(), "kept as text but does not parse: {body}");
        proptest::prop_assert_eq!(parsed.ok(), response.json().ok());
    }
    Ok(())
}

proptest::proptest! {
    /// Whatever a body holds, reading it does not panic, and a body kept as text parses.
    #[test]
    fn any_body_kept_as_text_parses(body in proptest::prop_oneof!["[\\[\\]{}\"\\\\:,0-9eE.+ -]{0,60}", "\\PC{0,40}"]) {
        check_kept_text_parses(&body)?;
    }

    /// Valid JSON of numbers with and without exponents (some out of range), nested lists
    /// and strings with escapes: kept as text only when it parses, to the same value.
    #[test]
    fn json_kept_as_text_parses_to_what_json_gives(
        depth in 0usize..140,
        text in "[a-z 0-9eE]{0,6}(\\\\\"|\\\\n)?",
        number in "-?[0-9]{1,4}(\\.[0-9]{1,3})?([eE][+-]?[0-9]{1,3})?",
    ) {
        let body = format!(r#"{}{{"s": "{text}", "n": {number}}}{}"#, "[".repeat(depth), "]".repeat(depth));
        check_kept_text_parses(&body)?;
    }
}
