//! Assertions for the tests of connector crates: a module's schemas against example blocks.
//! Shared so every connector checks its catalog entry the same way.

use flowrun_flow::catalog::ConnectorSpec;
use serde_json::{Value, json};

use crate::schema::instance_problems;

/// `with` is accepted by the module's parameter schema, and rejected once it carries an
/// unknown key.
#[track_caller]
pub fn assert_accepts(spec: &ConnectorSpec, module: &str, with: Value) {
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

/// `with` is rejected by the module's parameter schema.
#[track_caller]
pub fn assert_rejects(spec: &ConnectorSpec, module: &str, with: Value) {
    let schema = &spec.module(module).expect("module exists").params_schema;
    assert!(!instance_problems(schema, &with).is_empty(), "{module} accepts {with}");
}

/// `output` fits the module's output schema.
#[track_caller]
pub fn assert_output(spec: &ConnectorSpec, module: &str, output: Value) {
    let schema = &spec.module(module).expect("module exists").output_schema;
    assert_eq!(
        instance_problems(schema, &output),
        Vec::<String>::new(),
        "{module}: {output}"
    );
}
