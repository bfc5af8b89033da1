//! The committed schemas (`schemas/*.schema.json`, used by editors through the
//! `yaml-language-server` line) equal what `flowrun schema` prints, and the examples satisfy
//! them.

use crate::util::{flowrun, repo_root};

fn check_fresh(kind: &str, file: &str) {
    let root = repo_root();
    let printed = flowrun(&root, &["schema", kind]);
    assert_eq!(printed.code, 0, "{}", printed.stderr);
    let schema: serde_json::Value = serde_json::from_str(&printed.stdout).unwrap();
    assert_eq!(schema["$schema"], "http://json-schema.org/draft-07/schema#");
    let committed = std::fs::read_to_string(root.join(file)).unwrap_or_default();
    if printed.stdout == committed {
        return;
    }
    if std::env::var_os("UPDATE_SCHEMAS").is_some_and(|value| value == "1") {
        std::fs::write(root.join(file), &printed.stdout).unwrap();
        return;
    }
    let command = if kind == "flow" {
        "schema".to_owned()
    } else {
        format!("schema {kind}")
    };
    panic!(
        "{file} is stale: run `UPDATE_SCHEMAS=1 cargo test -p flowrun --test e2e schema` or `cargo run -p flowrun -- {command} > {file}`"
    );
}

#[test]
fn flow_schema_is_fresh() {
    check_fresh("flow", "schemas/flow.schema.json");
}

#[test]
fn project_schema_is_fresh() {
    check_fresh("project", "schemas/project.schema.json");
}

#[test]
fn test_schema_is_fresh() {
    check_fresh("test", "schemas/flow-test.schema.json");
}

/// The editor schema accepts every example flow and valid corpus flow (converted to JSON), the
/// project schema the example project file, and the test schema the example test files.
#[test]
fn valid_flows_satisfy_the_schemas() {
    let root = repo_root();
    let flow_schema: serde_json::Value = serde_json::from_str(&flowrun(&root, &["schema"]).stdout).unwrap();
    let project_schema: serde_json::Value =
        serde_json::from_str(&flowrun(&root, &["schema", "project"]).stdout).unwrap();
    let flow_validator = jsonschema::draft7::new(&flow_schema).unwrap();
    let project_validator = jsonschema::draft7::new(&project_schema).unwrap();
    let test_schema: serde_json::Value = serde_json::from_str(&flowrun(&root, &["schema", "test"]).stdout).unwrap();
    let test_validator = jsonschema::draft7::new(&test_schema).unwrap();
    let mut paths = Vec::new();
    for folder in ["flows", "tests/corpus/valid"] {
        for entry in std::fs::read_dir(root.join(folder)).unwrap() {
            let path = entry.unwrap().path();
            // Only the YAML files: running an example leaves its state store (`.flowrun/`) there.
            if path
                .extension()
                .is_some_and(|extension| extension == "yaml" || extension == "yml")
            {
                paths.push(path);
            }
        }
    }
    paths.sort();
    for path in paths {
        let text = std::fs::read_to_string(&path).unwrap();
        let tree = flowrun_flow::yaml::parse(&text, Default::default()).0.unwrap();
        let name = path.file_name().unwrap().to_string_lossy();
        let validator = if name == "flowrun.yaml" {
            &project_validator
        } else if name.ends_with(".test.yaml") || name.ends_with(".test.yml") {
            &test_validator
        } else {
            &flow_validator
        };
        let errors: Vec<String> = validator
            .iter_errors(&tree.to_json())
            .map(|error| error.to_string())
            .collect();
        assert!(errors.is_empty(), "{}: {errors:#?}", path.display());
    }
}

/// And rejects what the validator rejects at the top level: an editor shows the typo too.
#[test]
fn the_flow_schema_rejects_unknown_keys() {
    let root = repo_root();
    let schema: serde_json::Value = serde_json::from_str(&flowrun(&root, &["schema"]).stdout).unwrap();
    let validator = jsonschema::draft7::new(&schema).unwrap();
    let flow = serde_json::json!({"flow": "x", "stpes": [], "steps": []});
    assert!(!validator.is_valid(&flow));
}
