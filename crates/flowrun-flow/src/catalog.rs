//! The module catalog: plain data describing every connector and module the validator and the
//! schema generator may refer to.
//!
//! `flowrun-flow` knows no connector by name. The binary builds a [`Catalog`] from the connector
//! crates (later, from the registry) and passes it to the validator; tests write catalogs by hand.

use std::collections::HashMap;
use std::sync::OnceLock;

use serde::Serialize;
use serde_json::Value;

/// Every connector known to one validation run.
///
/// A connector's spec is built on its first use when the catalog is [`Catalog::lazy`]: the
/// schemas of six connectors take a millisecond of every `flowrun run`, and a flow uses one or
/// two of them. Listing every connector (`connectors()`, the editor schema, a did-you-mean
/// over all modules) builds them all.
#[derive(Debug, Default)]
pub struct Catalog {
    entries: Vec<Entry>,
}

/// Returns one connector's spec (each connector crate's `spec`).
pub type BuildSpec = fn() -> ConnectorSpec;

/// One connector of the catalog: its name, its spec once built, and the compiled schemas of its
/// connection and modules, each compiled on its first use: validating many files compiles each
/// schema once, and validating one flow (as `flowrun run` does first) compiles only the
/// schemas it uses.
struct Entry {
    name: String,
    build: Option<BuildSpec>,
    spec: OnceLock<ConnectorSpec>,
    /// By `connector` (its connection) and `connector.module` (with ` without connection`).
    validators: OnceLock<HashMap<String, LazyValidator>>,
}

impl std::fmt::Debug for Entry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Entry")
            .field("name", &self.name)
            .field("built", &self.spec.get().is_some())
            .finish_non_exhaustive()
    }
}

impl Entry {
    fn spec(&self) -> &ConnectorSpec {
        self.spec.get_or_init(|| {
            let build = self.build.expect("a catalog entry without a spec has a builder");
            let spec = build();
            assert_eq!(
                spec.name, self.name,
                "a lazy catalog entry's name is the name of the connector its builder returns"
            );
            spec
        })
    }

    fn validators(&self) -> &HashMap<String, LazyValidator> {
        self.validators.get_or_init(|| {
            let connector = self.spec();
            let mut validators = HashMap::new();
            validators.insert(connector.name.clone(), LazyValidator::new(&connector.connection_schema));
            for module in &connector.modules {
                validators.insert(
                    format!("{}.{}", connector.name, module.name),
                    LazyValidator::new(&module.params_schema),
                );
                if let Some(schema) = &module.without_connection_schema {
                    validators.insert(
                        format!("{}.{} without connection", connector.name, module.name),
                        LazyValidator::new(schema),
                    );
                }
            }
            validators
        })
    }
}

/// A schema and, once asked for, its compiled validator (`None` when it does not compile).
#[derive(Debug)]
struct LazyValidator {
    schema: Value,
    compiled: OnceLock<Option<jsonschema::Validator>>,
}

impl LazyValidator {
    fn new(schema: &Value) -> LazyValidator {
        LazyValidator {
            schema: schema.clone(),
            compiled: OnceLock::new(),
        }
    }

    fn get(&self) -> Option<&jsonschema::Validator> {
        self.compiled
            .get_or_init(|| jsonschema::draft7::new(&self.schema).ok())
            .as_ref()
    }
}

impl Catalog {
    /// A catalog of specs already built.
    pub fn new(connectors: Vec<ConnectorSpec>) -> Catalog {
        let entries = connectors
            .into_iter()
            .map(|spec| Entry {
                name: spec.name.clone(),
                build: None,
                spec: OnceLock::from(spec),
                validators: OnceLock::new(),
            })
            .collect();
        Catalog { entries }
    }

    /// A catalog whose specs are built on first use: `(name, builder)` per connector, where
    /// `builder()` returns the spec of the connector called `name`.
    pub fn lazy(connectors: Vec<(&str, BuildSpec)>) -> Catalog {
        let entries = connectors
            .into_iter()
            .map(|(name, build)| Entry {
                name: name.to_owned(),
                build: Some(build),
                spec: OnceLock::new(),
                validators: OnceLock::new(),
            })
            .collect();
        Catalog { entries }
    }

    /// Every connector, in the catalog's order (builds every spec).
    pub fn connectors(&self) -> impl Iterator<Item = &ConnectorSpec> {
        self.entries.iter().map(Entry::spec)
    }

    /// The compiled schema of a connection (`key` = connector) or a module's parameters
    /// (`key` = `connector.module`). None when the schema does not compile, a connector bug
    /// that the connector's own tests catch.
    pub fn validator(&self, key: &str) -> Option<&jsonschema::Validator> {
        let connector = key.split(['.', ' ']).next().unwrap_or(key);
        self.entry(connector)?.validators().get(key)?.get()
    }

    fn entry(&self, name: &str) -> Option<&Entry> {
        self.entries.iter().find(|entry| entry.name == name)
    }

    pub fn connector(&self, name: &str) -> Option<&ConnectorSpec> {
        self.entry(name).map(Entry::spec)
    }

    /// `connector.module` for every module a step may use (triggers excluded).
    pub fn step_module_names(&self) -> Vec<String> {
        self.connectors()
            .flat_map(|connector| {
                connector
                    .modules
                    .iter()
                    .filter(|module| module.kind != ModuleKind::Trigger)
                    .map(move |module| format!("{}.{}", connector.name, module.name))
            })
            .collect()
    }

    /// The connectors' names (builds no spec).
    pub fn connector_names(&self) -> impl Iterator<Item = &str> {
        self.entries.iter().map(|entry| entry.name.as_str())
    }
}

impl Serialize for Catalog {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let connectors: Vec<&ConnectorSpec> = self.connectors().collect();
        let mut state = serializer.serialize_struct("Catalog", 1)?;
        state.serialize_field("connectors", &connectors)?;
        state.end()
    }
}

/// One connector: its connection schema and its modules (triggers included).
#[derive(Debug, Clone, Serialize)]
pub struct ConnectorSpec {
    /// The name used in `uses: <connector>.<module>` and `connections.*.connector`.
    pub name: String,
    /// One paragraph for `flowrun connectors`.
    pub description: String,
    /// JSON Schema of a connection's `config` block.
    pub connection_schema: Value,
    /// True when a module may run without a connection (`http.request` with an absolute URL).
    pub connection_optional: bool,
    pub modules: Vec<ModuleSpec>,
}

impl ConnectorSpec {
    pub fn module(&self, name: &str) -> Option<&ModuleSpec> {
        self.modules.iter().find(|module| module.name == name)
    }
}

/// One module of a connector.
#[derive(Debug, Clone, Serialize)]
pub struct ModuleSpec {
    /// The name after the dot in `uses:`.
    pub name: String,
    pub kind: ModuleKind,
    /// One paragraph for `flowrun connectors` and the editor.
    pub description: String,
    /// JSON Schema of the step's `with:` block (of the trigger's block for triggers).
    pub params_schema: Value,
    /// JSON Schema of the module's output.
    pub output_schema: Value,
    /// Further rules for `with:` when the step has no connection (connectors whose connection
    /// is optional): `http.request` then needs an absolute `url`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub without_connection_schema: Option<Value>,
}

impl ModuleSpec {
    /// The module with rules for `with:` that apply when the step has no connection.
    pub fn without_connection(mut self, schema: Value) -> ModuleSpec {
        self.without_connection_schema = Some(schema);
        self
    }
}

/// What a module does; the engine and `--dry-run` treat reads and writes differently.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ModuleKind {
    Trigger,
    Search,
    Get,
    List,
    Create,
    Update,
    Delete,
    Action,
    ApiCall,
}

impl ModuleKind {
    /// True for modules that only read (they run under `--dry-run=reads`).
    pub fn is_read_only(self) -> bool {
        matches!(self, ModuleKind::Search | ModuleKind::Get | ModuleKind::List)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ModuleKind::Trigger => "trigger",
            ModuleKind::Search => "search",
            ModuleKind::Get => "get",
            ModuleKind::List => "list",
            ModuleKind::Create => "create",
            ModuleKind::Update => "update",
            ModuleKind::Delete => "delete",
            ModuleKind::Action => "action",
            ModuleKind::ApiCall => "api_call",
        }
    }
}

#[cfg(test)]
mod tests;
