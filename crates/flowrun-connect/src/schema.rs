//! JSON Schemas of connector types, generated the same way everywhere.
//!
//! Schemas are draft-07 (what yaml-language-server reads) with every subschema inlined, so a
//! module's schema stays whole when the flow schema embeds it under another path: no `$ref`
//! points at `definitions` that would not travel with it. They carry no `$schema` (a key for
//! root documents only; compile them with `jsonschema::draft7`) and no root `title` (the Rust
//! type's name means nothing to a flow's author).

use flowrun_flow::catalog::{ConnectorSpec, ModuleKind, ModuleSpec};
use schemars::generate::SchemaSettings;
use schemars::{JsonSchema, Schema};
use serde_json::Value;

/// The draft-07 schema of what `T` deserializes from: module parameters and connection configs.
pub fn input_schema<T: JsonSchema>() -> Value {
    embeddable(
        settings()
            .for_deserialize()
            .into_generator()
            .into_root_schema_for::<T>(),
    )
}

/// The draft-07 schema of what `T` serializes to: module outputs.
pub fn output_schema<T: JsonSchema>() -> Value {
    embeddable(settings().for_serialize().into_generator().into_root_schema_for::<T>())
}

fn settings() -> SchemaSettings {
    SchemaSettings::draft07().with(|settings| {
        settings.inline_subschemas = true;
        settings.meta_schema = None;
    })
}

fn embeddable(mut schema: Schema) -> Value {
    schema.remove("title");
    schema.to_value()
}

/// A module whose `with:` block is `P` and whose output is `O`.
pub fn module<P: JsonSchema, O: JsonSchema>(name: &str, kind: ModuleKind, description: &str) -> ModuleSpec {
    ModuleSpec {
        name: name.to_owned(),
        kind,
        description: description.to_owned(),
        params_schema: input_schema::<P>(),
        output_schema: output_schema::<O>(),
        without_connection_schema: None,
    }
}

/// What is wrong with a connector's spec: names that are not snake_case or not unique, and
/// schemas that do not compile as draft-07. Connector crates assert this is empty in their tests.
pub fn spec_problems(spec: &ConnectorSpec) -> Vec<String> {
    let mut problems = Vec::new();
    if !is_snake_case(&spec.name) {
        problems.push(format!("connector name `{}` is not snake_case", spec.name));
    }
    check_schema(&mut problems, "connection", &spec.connection_schema);
    for (module_idx, module) in spec.modules.iter().enumerate() {
        if !is_snake_case(&module.name) {
            problems.push(format!("module name `{}` is not snake_case", module.name));
        }
        if spec.modules[..module_idx]
            .iter()
            .any(|earlier| earlier.name == module.name)
        {
            problems.push(format!("module name `{}` is used twice", module.name));
        }
        if module.description.is_empty() {
            problems.push(format!("module `{}` has no description", module.name));
        }
        check_schema(&mut problems, &format!("{} params", module.name), &module.params_schema);
        check_schema(&mut problems, &format!("{} output", module.name), &module.output_schema);
    }
    problems
}

/// The problems of `instance` against `schema` (empty when valid), as `path: message` lines.
///
/// Like the validator, this skips errors on template strings (values containing `{{`): a
/// template's type is known only when it is rendered.
pub fn instance_problems(schema: &Value, instance: &Value) -> Vec<String> {
    match jsonschema::draft7::new(schema) {
        Ok(validator) => validator
            .iter_errors(instance)
            .filter(|error| !is_template(error.instance()))
            .map(|error| format!("{}: {error}", error.instance_path()))
            .collect(),
        Err(error) => vec![format!("schema does not compile: {error}")],
    }
}

fn is_template(value: &Value) -> bool {
    value.as_str().is_some_and(|text| text.contains("{{"))
}

fn check_schema(problems: &mut Vec<String>, what: &str, schema: &Value) {
    if let Err(error) = jsonschema::draft7::new(schema) {
        problems.push(format!("{what} schema does not compile: {error}"));
    }
    if schema.to_string().contains("\"$ref\"") {
        problems.push(format!("{what} schema has a `$ref`: it would not survive embedding"));
    }
}

/// `[a-z][a-z0-9_]*`, the shape of connector and module names.
pub fn is_snake_case(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|first| first.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// The parameters of a module that takes none: an empty `with:` block, or none at all.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NoParams {}

/// The rendered `with:` block of module `uses` as its typed parameters, or an
/// [`ErrorKind::Invalid`](crate::module::ErrorKind::Invalid) error that names the key at fault.
///
/// serde's own messages name unknown and missing keys but not the key of a value of the wrong
/// type, so on failure the block is also checked against the module's schema (the one the
/// validator uses), whose problems below the top carry their path.
pub fn parse_params<P: serde::de::DeserializeOwned + JsonSchema>(
    uses: &str,
    params: Value,
) -> Result<P, crate::module::ModuleError> {
    // The engine always passes an object; a missing block is an empty one.
    let params = if params.is_null() {
        Value::Object(serde_json::Map::new())
    } else {
        params
    };
    P::deserialize(&params).map_err(|error| {
        let problems: Vec<String> = instance_problems(&input_schema::<P>(), &params)
            .iter()
            .filter_map(|problem| with_key(problem))
            .collect();
        if problems.is_empty() {
            invalid_params(uses, &error.to_string())
        } else {
            invalid_params(uses, &problems.join("; "))
        }
    })
}

/// An [`ErrorKind::Invalid`](crate::module::ErrorKind::Invalid) error about the `with:` block
/// of module `uses`.
pub fn invalid_params(uses: &str, why: &str) -> crate::module::ModuleError {
    crate::module::ModuleError::new(
        crate::module::ErrorKind::Invalid,
        format!("invalid `with` of {uses}: {why}"),
    )
}

/// `/when: "yes" is not of type "boolean"` as `` `when`: "yes" is not of type "boolean" ``;
/// `None` for a problem of the whole block (a missing or unknown key), which serde's message
/// tells better.
fn with_key(problem: &str) -> Option<String> {
    let (path, message) = problem.split_once(": ")?;
    let key = path.strip_prefix('/').filter(|key| !key.is_empty())?;
    Some(format!("`{}`: {message}", key.replace('/', ".")))
}
