use std::path::Path;

use flowrun_flow::model::Flow;
use proptest::prelude::*;
use serde_json::json;

use super::inputs::InputError;
use super::project::{PrepareError, Prepared};
use super::*;

fn flow(value: serde_json::Value) -> Flow {
    serde_json::from_value(value).unwrap()
}

fn typed_flow() -> Flow {
    flow(json!({
        "flow": "typed",
        "inputs": {
            "name": {"type": "string"},
            "limit": {"type": "integer"},
            "ratio": {"type": "number"},
            "dry": {"type": "boolean", "default": false},
            "filter": {"type": "object"},
            "ids": {"type": "array"},
            "mode": {"type": "string", "default": "full"},
        },
        "steps": [{"id": "a", "uses": "core.value", "with": {"value": 1}}],
    }))
}

/// The inputs as compact JSON, or every error on its own line.
#[track_caller]
fn check_inputs(flow: &Flow, given: &[&str], expected: &str) {
    let given: Vec<String> = given.iter().map(|text| (*text).to_owned()).collect();
    let actual = match parse_inputs(flow, &given) {
        Ok(inputs) => serde_json::Value::Object(inputs).to_string(),
        Err(errors) => errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"),
    };
    assert_eq!(actual, expected, "given {given:?}");
}

#[test]
fn inputs_are_typed_and_defaults_applied() {
    let flow = typed_flow();
    let cases: &[(&[&str], &str)] = &[
        (&[], r#"{"dry":false,"mode":"full"}"#),
        (
            &["name=Ada Lovelace"],
            r#"{"name":"Ada Lovelace","dry":false,"mode":"full"}"#,
        ),
        (&["name="], r#"{"name":"","dry":false,"mode":"full"}"#),
        (&["name=a=b"], r#"{"name":"a=b","dry":false,"mode":"full"}"#),
        (&["name= 42 "], r#"{"name":" 42 ","dry":false,"mode":"full"}"#),
        (&["limit=10"], r#"{"limit":10,"dry":false,"mode":"full"}"#),
        (&["limit=-3"], r#"{"limit":-3,"dry":false,"mode":"full"}"#),
        (&["limit=+7"], r#"{"limit":7,"dry":false,"mode":"full"}"#),
        (
            &["limit=18446744073709551615"],
            r#"{"limit":18446744073709551615,"dry":false,"mode":"full"}"#,
        ),
        (&["ratio=2.5"], r#"{"ratio":2.5,"dry":false,"mode":"full"}"#),
        (&["ratio=3"], r#"{"ratio":3,"dry":false,"mode":"full"}"#),
        (&["ratio=1e3"], r#"{"ratio":1000.0,"dry":false,"mode":"full"}"#),
        (&["dry=true"], r#"{"dry":true,"mode":"full"}"#),
        (&["mode=delta"], r#"{"dry":false,"mode":"delta"}"#),
        (
            &[r#"filter={"status": "open"}"#],
            r#"{"dry":false,"filter":{"status":"open"},"mode":"full"}"#,
        ),
        (&["ids=[1, 2]"], r#"{"dry":false,"ids":[1,2],"mode":"full"}"#),
        // Declaration order, whatever the command line's.
        (&["mode=x", "name=n"], r#"{"name":"n","dry":false,"mode":"x"}"#),
    ];
    for (given, expected) in cases {
        check_inputs(&flow, given, expected);
    }
}

#[test]
fn every_input_problem_is_reported_at_once() {
    let flow = typed_flow();
    let cases: &[(&[&str], &str)] = &[
        (
            &["limit=ten"],
            "input `limit` must be an integer, not `ten`; e.g. --input limit=10",
        ),
        (
            &["limit=2.5"],
            "input `limit` must be an integer, not `2.5`; e.g. --input limit=10",
        ),
        (
            &["ratio=inf"],
            "input `ratio` must be a number, not `inf`; e.g. --input ratio=2.5",
        ),
        (
            &["ratio=NaN"],
            "input `ratio` must be a number, not `NaN`; e.g. --input ratio=2.5",
        ),
        (
            &["dry=yes"],
            "input `dry` must be a boolean (`true` or `false`), not `yes`; e.g. --input dry=true",
        ),
        (
            &["filter=[1]"],
            r#"input `filter` must be a JSON object, not `[1]` (JSON array); e.g. --input filter='{"key": "value"}' (or =@file.json)"#,
        ),
        (
            &["ids={"],
            "input `ids` must be a JSON array, not `{` (not JSON: EOF while parsing an object at line 1 column 1); e.g. --input ids='[1, 2]' (or =@file.json)",
        ),
        (&["limt=3"], "unknown input `limt`; did you mean `limit`?"),
        (
            &["banana=3"],
            "unknown input `banana`; the flow's inputs: `name`, `limit`, `ratio`, `dry`, `filter`, `ids`, `mode`",
        ),
        (
            &["limit"],
            "`--input limit`: expected NAME=VALUE (e.g. --input since=2024-01-01)",
        ),
        (&["mode=a", "mode=b", "mode=c"], "input `mode` is given more than once"),
        (
            &["limit=x", "nope=1", "dry=1"],
            "input `limit` must be an integer, not `x`; e.g. --input limit=10\nunknown input `nope`; the flow's inputs: `name`, `limit`, `ratio`, `dry`, `filter`, `ids`, `mode`\ninput `dry` must be a boolean (`true` or `false`), not `1`; e.g. --input dry=true",
        ),
    ];
    for (given, expected) in cases {
        check_inputs(&flow, given, expected);
    }
}

#[test]
fn required_inputs_and_flows_without_inputs() {
    let required = flow(json!({
        "flow": "req",
        "inputs": {
            "since": {"type": "string", "required": true},
            "limit": {"type": "integer", "required": true, "default": 5},
            "count": {"type": "integer", "required": true},
        },
        "steps": [{"id": "a", "uses": "core.value"}],
    }));
    check_inputs(
        &required,
        &[],
        "missing required input `since` (string); pass --input since=text\nmissing required input `count` (integer); pass --input count=10",
    );
    // A required input given with a wrong value is reported once, as the wrong value.
    check_inputs(
        &required,
        &["since=x", "count=many"],
        "input `count` must be an integer, not `many`; e.g. --input count=10",
    );
    check_inputs(
        &required,
        &["since=x", "count=1"],
        r#"{"since":"x","limit":5,"count":1}"#,
    );

    let bare = flow(json!({"flow": "bare", "steps": [{"id": "a", "uses": "core.value"}]}));
    check_inputs(&bare, &[], "{}");
    check_inputs(&bare, &["x=1"], "unknown input `x`; the flow declares no inputs");
}

#[test]
fn object_inputs_from_files() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("filter.json");
    std::fs::write(&path, r#"{"status": ["open", "late"]}"#).unwrap();
    let flow = typed_flow();
    let given = [format!("filter=@{}", path.display())];
    let inputs = parse_inputs(&flow, &given).unwrap();
    assert_eq!(inputs["filter"], json!({"status": ["open", "late"]}));

    let missing = [format!("filter=@{}", dir.path().join("nope.json").display())];
    let errors = parse_inputs(&flow, &missing).unwrap_err();
    assert!(
        matches!(&errors[..], [InputError::File { name, .. }] if name == "filter"),
        "{errors:?}"
    );
    // A string input keeps a leading `@`.
    let inputs = parse_inputs(&flow, &["name=@ada".to_owned()]).unwrap();
    assert_eq!(inputs["name"], "@ada");
}

#[test]
fn long_values_are_shortened_in_errors() {
    let given = [format!("limit={}", "9x".repeat(100))];
    let message = parse_inputs(&typed_flow(), &given).unwrap_err()[0].to_string();
    assert!(message.contains("9x9x…`"), "{message}");
    assert!(message.len() < 200, "{message}");
}

proptest! {
    #[test]
    fn no_input_text_panics(arguments in proptest::collection::vec(".{0,40}", 0..6)) {
        let flow = typed_flow();
        let arguments: Vec<String> = arguments
            .into_iter()
            .enumerate()
            .map(|(index, value)| {
                let names = ["name", "limit", "ratio", "dry", "filter", "ids", "mode", "x"];
                format!("{}={value}", names[index % names.len()])
            })
            .collect();
        let _ = parse_inputs(&flow, &arguments);
    }

    #[test]
    fn no_argument_panics(arguments in proptest::collection::vec(any::<String>(), 0..6)) {
        let _ = parse_inputs(&typed_flow(), &arguments);
    }
}

// ---- The project file, profiles and the state store ----

const PROJECT: &str = r#"
connections:
  crm:
    connector: onecrm
    config:
      base_url: https://crm.example.com
      api_key: "{{ secrets.CRM_KEY }}"
  shop:
    connector: http
    config:
      base_url: https://shop.example.com
      timeout: 30s
  unused:
    connector: exact_online
    config:
      division: "{{ secrets.EXACT_DIVISION }}"
state: sqlite://data/state.db
secrets_file: .env
profiles:
  prod:
    state: sqlite:///var/lib/flowrun/state.db
    connections:
      shop:
        config: { base_url: https://shop.example.com/prod }
      extra:
        connector: http
        config: { base_url: https://extra.example.com }
  staging:
    connections:
      shop:
        config: { timeout: 5s }
"#;

fn project_flow() -> Flow {
    flow(json!({
        "flow": "orders",
        "connections": {
            "crm": {"connector": "onecrm", "config": {"base_url": "https://own.example.com"}},
        },
        "steps": [
            {"id": "a", "uses": "onecrm.list_records", "connection": "crm"},
            {"id": "b", "uses": "http.request", "connection": "shop"},
            {"id": "c", "uses": "core.value"},
        ],
    }))
}

/// A folder with the project file and `flows/orders.yaml`.
fn project_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("flowrun.yaml"), PROJECT).unwrap();
    std::fs::create_dir_all(dir.path().join("flows")).unwrap();
    std::fs::write(dir.path().join("flows/orders.yaml"), "flow: orders\n").unwrap();
    dir
}

fn connections_json(prepared: &Prepared) -> serde_json::Value {
    serde_json::to_value(&prepared.connections).unwrap()
}

#[test]
fn the_project_gives_connections_state_and_secrets_file() {
    let dir = project_dir();
    let root = dir.path();
    let prepared = prepare(&root.join("flows/orders.yaml"), &project_flow(), Overrides::default()).unwrap();
    // The flow's own `crm` wins whole; `shop` comes from the project; `unused` is not taken.
    assert_eq!(
        connections_json(&prepared),
        json!({
            "crm": {"connector": "onecrm", "config": {"base_url": "https://own.example.com"}},
            "shop": {"connector": "http", "config": {"base_url": "https://shop.example.com", "timeout": "30s"}},
        })
    );
    assert_eq!(
        prepared.state_url,
        format!("sqlite://{}", root.join("data/state.db").display())
    );
    assert_eq!(prepared.secrets_file, Some(root.join(".env")));
    assert_eq!(prepared.project_dir.as_deref(), Some(root));
}

#[test]
fn a_profile_overlays_config_keys_and_state() {
    let dir = project_dir();
    let file = dir.path().join("flows/orders.yaml");
    let overrides = |profile| Overrides {
        profile: Some(profile),
        ..Overrides::default()
    };
    let prod = prepare(&file, &project_flow(), overrides("prod")).unwrap();
    assert_eq!(
        connections_json(&prod)["shop"],
        json!({"connector": "http", "config": {"base_url": "https://shop.example.com/prod", "timeout": "30s"}})
    );
    assert_eq!(prod.state_url, "sqlite:///var/lib/flowrun/state.db");
    let staging = prepare(&file, &project_flow(), overrides("staging")).unwrap();
    assert_eq!(
        connections_json(&staging)["shop"]["config"],
        json!({"base_url": "https://shop.example.com", "timeout": "5s"})
    );
    assert_eq!(
        staging.state_url,
        format!("sqlite://{}", dir.path().join("data/state.db").display())
    );

    // A step without `connection:` takes the only connection of its connector; a
    // connection only the profile defines is there under the profile.
    let by_connector = flow(json!({
        "flow": "x",
        "steps": [{"id": "a", "uses": "onecrm.list_records"}, {"id": "b", "uses": "http.request", "connection": "extra"}],
    }));
    let prepared = prepare(&file, &by_connector, overrides("prod")).unwrap();
    assert_eq!(
        prepared.connections.keys().collect::<Vec<_>>(),
        ["crm", "extra"],
        "`crm` as the only onecrm connection, `extra` by name"
    );
}

#[test]
fn flags_win_and_unknown_profiles_are_named() {
    let dir = project_dir();
    let file = dir.path().join("flows/orders.yaml");
    let secrets = dir.path().join("other.env");
    std::fs::write(&secrets, "A=1\n").unwrap();
    let prepared = prepare(
        &file,
        &project_flow(),
        Overrides {
            profile: Some("prod"),
            state: Some("sqlite://here.db"),
            secrets_file: Some(&secrets),
        },
    )
    .unwrap();
    assert_eq!(prepared.state_url, "sqlite://here.db");
    assert_eq!(prepared.secrets_file.as_deref(), Some(secrets.as_path()));

    let error = |overrides| prepare(&file, &project_flow(), overrides).unwrap_err().to_string();
    assert_eq!(
        error(Overrides {
            profile: Some("prd"),
            ..Overrides::default()
        }),
        "unknown profile `prd`; did you mean `prod`?"
    );
    assert_eq!(
        error(Overrides {
            profile: Some("qa"),
            ..Overrides::default()
        }),
        format!(
            "unknown profile `qa`; {} defines `prod`, `staging`",
            dir.path().join("flowrun.yaml").display()
        )
    );
    let missing = dir.path().join("missing.env");
    assert_eq!(
        error(Overrides {
            secrets_file: Some(&missing),
            ..Overrides::default()
        }),
        format!("--secrets {}: no such file", missing.display())
    );
}

#[test]
fn without_a_project_the_flow_folder_holds_the_state() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("alone.yaml");
    std::fs::write(&file, "flow: alone\n").unwrap();
    let prepared = prepare(&file, &project_flow(), Overrides::default()).unwrap();
    assert_eq!(
        prepared.state_url,
        format!("sqlite://{}", dir.path().join(".flowrun/state.db").display())
    );
    assert_eq!((prepared.secrets_file, prepared.project_dir), (None, None));
    assert_eq!(prepared.connections.keys().collect::<Vec<_>>(), ["crm"]);
    let error = prepare(
        &file,
        &project_flow(),
        Overrides {
            profile: Some("prod"),
            ..Overrides::default()
        },
    )
    .unwrap_err();
    assert_eq!(
        error.to_string(),
        "unknown profile `prod`; there is no project file (flowrun.yaml) in this folder or above it to define profiles"
    );
    assert_eq!(
        state_url_for_folder(dir.path(), None, None).unwrap(),
        format!("sqlite://{}", dir.path().join(".flowrun/state.db").display())
    );
}

#[test]
fn runs_find_the_store_from_a_folder_inside_the_project() {
    let dir = project_dir();
    let from_flows = state_url_for_folder(&dir.path().join("flows"), None, None).unwrap();
    assert_eq!(
        from_flows,
        format!("sqlite://{}", dir.path().join("data/state.db").display())
    );
    assert_eq!(
        state_url_for_folder(dir.path(), Some("prod"), None).unwrap(),
        "sqlite:///var/lib/flowrun/state.db"
    );
    assert_eq!(
        state_url_for_folder(dir.path(), Some("prod"), Some("sqlite://x.db")).unwrap(),
        "sqlite://x.db"
    );
}

#[test]
fn auth_login_finds_its_connection_store_and_secrets_file_in_the_project() {
    let dir = project_dir();
    let found = project_connection(&dir.path().join("flows"), "shop", Overrides::default()).unwrap();
    assert_eq!(
        serde_json::to_value(&found.connection).unwrap(),
        json!({"connector": "http", "config": {"base_url": "https://shop.example.com", "timeout": "30s"}})
    );
    assert_eq!(
        found.state_url,
        format!("sqlite://{}", dir.path().join("data/state.db").display())
    );
    assert_eq!(found.secrets_file, Some(dir.path().join(".env")));

    let prod = Overrides {
        profile: Some("prod"),
        ..Overrides::default()
    };
    let found = project_connection(dir.path(), "extra", prod).unwrap();
    assert_eq!(found.connection.config["base_url"], "https://extra.example.com");
    assert_eq!(found.state_url, "sqlite:///var/lib/flowrun/state.db");

    let error = project_connection(dir.path(), "shoop", Overrides::default()).unwrap_err();
    assert_eq!(
        error.to_string(),
        format!(
            "{} has no connection `shoop`; did you mean `shop`?",
            dir.path().join("flowrun.yaml").display()
        )
    );
    let error = project_connection(dir.path(), "extra", Overrides::default()).unwrap_err();
    assert_eq!(
        error.to_string(),
        format!(
            "{} has no connection `extra`; it defines `crm`, `shop`, `unused`",
            dir.path().join("flowrun.yaml").display()
        )
    );
    let error = project_connection(dir.path(), "nope", prod).unwrap_err();
    assert!(
        error
            .to_string()
            .contains("has no connection `nope` (with profile `prod`)"),
        "{error}"
    );

    let empty = tempfile::tempdir().unwrap();
    assert_eq!(
        project_connection(empty.path(), "shop", Overrides::default()).unwrap_err(),
        PrepareError::NoProject
    );
}

#[test]
fn profile_mistakes_the_validator_reports_are_refused_here_too() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("flowrun.yaml"),
        "connections:\n  shop: { connector: http, config: { base_url: https://x.example } }\nprofiles:\n  a:\n    connections:\n      ghost: { config: { base_url: https://g.example } }\n  b:\n    connections:\n      shop: { connector: onecrm }\n",
    )
    .unwrap();
    let file = dir.path().join("f.yaml");
    let with = |profile| {
        prepare(
            &file,
            &project_flow(),
            Overrides {
                profile: Some(profile),
                ..Overrides::default()
            },
        )
        .unwrap_err()
        .to_string()
    };
    assert_eq!(
        with("a"),
        "profile `a` overlays connection `ghost`, which the project does not define; add `connector:` to define it in the profile"
    );
    assert_eq!(
        with("b"),
        "profile `b` changes the connector of `shop` from `http` to `onecrm`; use another connection name"
    );
}

// ---- Secrets ----

#[test]
fn secrets_come_from_the_file_then_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join(".env");
    std::fs::write(&file, "TOKEN=from-file\n").unwrap();
    let env = |name: &str| (name == "KEY" || name == "TOKEN").then(|| format!("env-{name}"));
    let resolved = secrets::secrets_with_env(["TOKEN", "KEY"], Some(&file), env).unwrap();
    assert_eq!(resolved["TOKEN"].expose(), "from-file");
    assert_eq!(resolved["KEY"].expose(), "env-KEY");
    // No names: the file is not even read.
    let nothing: [&str; 0] = [];
    assert!(
        secrets::secrets_with_env(nothing, Some(Path::new("/nonexistent/.env")), env)
            .unwrap()
            .is_empty()
    );
}

#[test]
fn secret_errors_name_names_never_values() {
    let dir = tempfile::tempdir().unwrap();
    let no_env = |_: &str| None;
    let absent = dir.path().join(".env");
    let errors = secrets::secrets_with_env(["B", "A"], Some(&absent), no_env).unwrap_err();
    assert_eq!(
        errors.iter().map(ToString::to_string).collect::<Vec<_>>(),
        [format!(
            "missing secrets: `A`, `B`; set them in the environment or in the secrets file (--secrets FILE, or `secrets_file` in flowrun.yaml) (the secrets file {} does not exist)",
            absent.display()
        )]
    );

    let bad = dir.path().join("bad.env");
    std::fs::write(&bad, "A=1\nhunter2-canary is not a pair\n").unwrap();
    let errors = secrets::secrets_with_env(["A"], Some(&bad), no_env).unwrap_err();
    let text = errors.iter().map(ToString::to_string).collect::<String>();
    assert!(!text.contains("hunter2"), "{text}");
    assert_eq!(
        text,
        format!(
            "{}:2: not a `NAME=value` line (its text is not shown, as it may hold a secret)",
            bad.display()
        )
    );

    let binary = dir.path().join("binary.env");
    std::fs::write(&binary, b"A=\xff\xfehunter2\n").unwrap();
    let errors = secrets::secrets_with_env(["A"], Some(&binary), |_: &str| Some("x".to_owned())).unwrap_err();
    let text = errors.iter().map(ToString::to_string).collect::<String>();
    assert_eq!(text, format!("the secrets file {} is not UTF-8 text", binary.display()));
}
