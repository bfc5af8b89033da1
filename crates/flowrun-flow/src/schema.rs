//! JSON Schemas: the structural schema the validator checks against, and the editor schema
//! (`flowrun schema`, `schemas/flow.schema.json`) that also embeds every module's parameters.

use schemars::generate::SchemaSettings;
use serde_json::{Map, Value, json};

use crate::catalog::{Catalog, ModuleKind};
use crate::model::{Flow, Project, TestFile};

/// The flow file's schema from the model alone (draft-07, which yaml-language-server reads).
pub fn flow_schema() -> Value {
    let schema = SchemaSettings::draft07()
        .into_generator()
        .into_root_schema_for::<Flow>();
    Value::from(schema)
}

/// The project file's schema (draft-07).
pub fn project_schema() -> Value {
    let schema = SchemaSettings::draft07()
        .into_generator()
        .into_root_schema_for::<Project>();
    Value::from(schema)
}

/// The flow test file's schema (`*.test.yaml`, draft-07). The rules that span several keys
/// (one of `output`, `outputs` or `error` in a mock) and those that need the flow are the
/// validator's, so editors are not shown a second, vaguer wording of them.
pub fn test_schema() -> Value {
    let schema = SchemaSettings::draft07()
        .into_generator()
        .into_root_schema_for::<TestFile>();
    Value::from(schema)
}

/// The flow schema for editors: `uses` completes from the catalog, and `with` (or a
/// connection's `config`) is checked against the schema of the module (or connector) named.
pub fn editor_flow_schema(catalog: &Catalog) -> Value {
    let mut schema = flow_schema();
    let module_names = catalog.step_module_names();
    let module_rules: Vec<Value> = catalog
        .connectors()
        .flat_map(|connector| connector.modules.iter().map(move |module| (connector, module)))
        .filter(|(_, module)| module.kind != ModuleKind::Trigger)
        .map(|(connector, module)| {
            json!({
                "if": { "properties": { "uses": { "const": format!("{}.{}", connector.name, module.name) } }, "required": ["uses"] },
                "then": { "properties": { "with": with_description(&module.params_schema, &module.description) } },
            })
        })
        .collect();
    let connector_rules: Vec<Value> = catalog
        .connectors()
        .map(|connector| {
            json!({
                "if": { "properties": { "connector": { "const": connector.name } }, "required": ["connector"] },
                "then": { "properties": { "config": templates_allowed(&connector.connection_schema) } },
            })
        })
        .collect();
    let trigger_properties: Map<String, Value> = catalog
        .connectors()
        .flat_map(|connector| connector.modules.iter().map(move |module| (connector, module)))
        .filter(|(_, module)| module.kind == ModuleKind::Trigger)
        .map(|(connector, module)| {
            (
                format!("{}.{}", connector.name, module.name),
                with_description(&module.params_schema, &module.description),
            )
        })
        .collect();

    let definitions = schema.get_mut("definitions").and_then(Value::as_object_mut);
    if let Some(definitions) = definitions {
        if let Some(step) = definitions.get_mut("Step").and_then(Value::as_object_mut) {
            if let Some(uses) = step.get_mut("properties").and_then(|p| p.get_mut("uses")) {
                let description = uses.get("description").cloned().unwrap_or(Value::Null);
                *uses = json!({
                    "description": description,
                    "anyOf": [ { "enum": module_names }, { "type": "string" } ],
                });
            }
            step.insert("allOf".into(), Value::Array(module_rules));
        }
        if let Some(connection) = definitions.get_mut("Connection").and_then(Value::as_object_mut) {
            if let Some(connector) = connection.get_mut("properties").and_then(|p| p.get_mut("connector")) {
                let names: Vec<&str> = catalog.connector_names().collect();
                connector["anyOf"] = json!([ { "enum": names }, { "type": "string" } ]);
            }
            connection.insert("allOf".into(), Value::Array(connector_rules));
        }
        if let Some(trigger) = definitions
            .get_mut("Trigger")
            .and_then(|t| t.get_mut("properties"))
            .and_then(Value::as_object_mut)
        {
            trigger.extend(trigger_properties);
        }
    }
    schema
}

fn with_description(schema: &Value, description: &str) -> Value {
    let mut schema = templates_allowed(schema);
    if let Some(object) = schema.as_object_mut() {
        object.remove("$schema");
        object
            .entry("description")
            .or_insert_with(|| Value::String(description.to_owned()));
    }
    schema
}

/// A parameter's value may be a template (`"{{ steps.a.output.id }}"`) known only at run time,
/// so the editor accepts one wherever a parameter is expected, as the validator does.
fn templates_allowed(schema: &Value) -> Value {
    let mut schema = schema.clone();
    if let Some(properties) = schema.get_mut("properties").and_then(Value::as_object_mut) {
        for property in properties.values_mut() {
            let template = json!({ "type": "string", "pattern": "\\{\\{" });
            let mut wrapped = json!({ "anyOf": [property.clone(), template] });
            if let Some(description) = property.get("description") {
                wrapped["description"] = description.clone();
            }
            *property = wrapped;
        }
    }
    schema
}
