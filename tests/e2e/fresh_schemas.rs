//! The committed schemas equal what `flowrun schema` prints, and the examples satisfy them.

use crate::support::{flowrun, repo_root};

#[test]
fn committed_schemas_are_fresh() {
    let root = repo_root();
    for (kind, file) in [
        ("flow", "schemas/flow.schema.json"),
        ("project", "schemas/project.schema.json"),
    ] {
        let printed = flowrun(&root, &["schema", kind]).stdout;
        let committed = std::fs::read_to_string(root.join(file)).unwrap_or_default();
        if printed != committed {
            if std::env::var_os("UPDATE_SCHEMAS").is_some() {
                std::fs::write(root.join(file), &printed).unwrap();
                continue;
            }
            panic!(
                "{file} is stale: run `cargo run -p flowrun -- schema {kind} > {file}` (or UPDATE_SCHEMAS=1 cargo test -p flowrun --test e2e)"
            );
        }
        let schema: serde_json::Value = serde_json::from_str(&printed).unwrap();
        assert_eq!(schema["$schema"], "http://json-schema.org/draft-07/schema#");
    }
}

#[test]
fn example_flows_satisfy_the_editor_schema() {
    let root = repo_root();
    let schema: serde_json::Value = serde_json::from_str(&flowrun(&root, &["schema"]).stdout).unwrap();
    let validator = jsonschema::draft7::new(&schema).unwrap();
    for entry in std::fs::read_dir(root.join("flows")).unwrap() {
        let path = entry.unwrap().path();
        if path.file_name().unwrap() == "flowrun.yaml" {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let tree = flowrun_flow::yaml::parse(&text, Default::default()).0.unwrap();
        let errors: Vec<String> = validator
            .iter_errors(&tree.to_json())
            .map(|error| error.to_string())
            .collect();
        assert!(errors.is_empty(), "{}: {errors:#?}", path.display());
    }
}
