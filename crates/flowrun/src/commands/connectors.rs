//! `flowrun connectors [NAME]`: what each connector offers, from the same catalog the
//! validator and the editor schema use.

use std::io::{self, Write};

use flowrun_flow::catalog::{ConnectorSpec, ModuleSpec};
use serde_json::Value;

use crate::cli::{ConnectorsArgs, OutputFormat};
use crate::{catalog, exit_code};

pub fn run(args: &ConnectorsArgs) -> io::Result<u8> {
    let catalog = catalog::builtin();
    let selected: Vec<&ConnectorSpec> = match &args.name {
        None => catalog.connectors().collect(),
        Some(name) => match catalog.connector(name) {
            Some(connector) => vec![connector],
            None => {
                let help = flowrun_flow::suggest::help_for_unknown(name, catalog.connector_names(), "known connectors")
                    .unwrap_or_default();
                eprintln!("error: unknown connector `{name}`\n  help: {help}");
                return Ok(exit_code::INVALID);
            }
        },
    };
    let text = match args.format {
        OutputFormat::Json => serde_json::to_string_pretty(&selected).map_err(io::Error::other)? + "\n",
        OutputFormat::Human if args.name.is_none() => overview(&selected),
        OutputFormat::Human => selected.iter().map(|connector| details(connector)).collect(),
    };
    io::stdout().lock().write_all(text.as_bytes())?;
    Ok(exit_code::SUCCESS)
}

fn overview(connectors: &[&ConnectorSpec]) -> String {
    let mut out = String::new();
    for connector in connectors {
        out.push_str(&format!(
            "{}  {}\n",
            connector.name,
            first_sentence(&connector.description)
        ));
        for module in &connector.modules {
            out.push_str(&format!(
                "    {:<22} {:<9} {}\n",
                module.name,
                module.kind.as_str(),
                first_sentence(&module.description)
            ));
        }
        out.push('\n');
    }
    out.push_str("`flowrun connectors NAME` shows a connector's parameters and outputs.\n");
    out
}

fn details(connector: &ConnectorSpec) -> String {
    let mut out = format!("{}\n{}\n\n", connector.name, connector.description);
    out.push_str("connection config:\n");
    out.push_str(&fields(&connector.connection_schema));
    if connector.connection_optional {
        out.push_str("  (a connection is optional for this connector)\n");
    }
    for module in &connector.modules {
        out.push_str(&module_details(&connector.name, module));
    }
    out
}

fn module_details(connector: &str, module: &ModuleSpec) -> String {
    let mut out = format!(
        "\n{connector}.{}  ({})\n  {}\n",
        module.name,
        module.kind.as_str(),
        module.description
    );
    out.push_str("  with:\n");
    out.push_str(&indent(&fields(&module.params_schema)));
    out.push_str("  output:\n");
    out.push_str(&indent(&fields(&module.output_schema)));
    out
}

/// One line per property: name, type, required, description.
fn fields(schema: &Value) -> String {
    let Some(properties) = schema.get("properties").and_then(Value::as_object) else {
        return format!("  {}\n", type_name(schema));
    };
    if properties.is_empty() {
        return "  (none)\n".to_owned();
    }
    let required: Vec<&str> = schema
        .get("required")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    let mut out = String::new();
    for (name, property) in properties {
        let marker = if required.contains(&name.as_str()) {
            "required"
        } else {
            ""
        };
        let description = property
            .get("description")
            .and_then(Value::as_str)
            .map(first_sentence)
            .unwrap_or_default();
        out.push_str(&format!(
            "  {name:<22} {:<16} {marker:<8} {description}\n",
            type_name(property)
        ));
    }
    out
}

fn type_name(schema: &Value) -> String {
    if let Some(values) = schema.get("enum").and_then(Value::as_array) {
        return values
            .iter()
            .map(|value| value.as_str().map_or_else(|| value.to_string(), str::to_owned))
            .collect::<Vec<_>>()
            .join("|");
    }
    match schema.get("type") {
        Some(Value::String(name)) if name == "array" => {
            let item = schema.get("items").map(type_name).unwrap_or_else(|| "any".into());
            format!("list of {item}")
        }
        Some(Value::String(name)) => name.clone(),
        Some(Value::Array(names)) => names
            .iter()
            .filter_map(Value::as_str)
            .filter(|name| *name != "null")
            .collect::<Vec<_>>()
            .join("|"),
        _ if schema.get("anyOf").is_some() || schema.get("oneOf").is_some() => "one of several".into(),
        _ => "any".into(),
    }
}

/// The first sentence of a description ("e.g." and "i.e." do not end one).
fn first_sentence(text: &str) -> &str {
    let line = text.lines().next().unwrap_or_default();
    let mut from = 0;
    while let Some(at) = line[from..].find(". ").map(|at| at + from) {
        if !line[..at].ends_with("e.g") && !line[..at].ends_with("i.e") {
            return &line[..=at];
        }
        from = at + 2;
    }
    line
}

fn indent(text: &str) -> String {
    text.lines().map(|line| format!("  {line}\n")).collect()
}
