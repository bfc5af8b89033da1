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
#[derive(Debug, Default, Serialize)]
pub struct Catalog {
    pub connectors: Vec<ConnectorSpec>,
    /// Compiled schemas by `connector` (its connection) and `connector.module`, each compiled
    /// on its first use: validating many files compiles each schema once, and validating one
    /// flow (as `flowrun run` does first) compiles only the schemas it uses.
    #[serde(skip)]
    validators: OnceLock<HashMap<String, LazyValidator>>,
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
    pub fn new(connectors: Vec<ConnectorSpec>) -> Catalog {
        Catalog {
            connectors,
            validators: OnceLock::new(),
        }
    }

    /// The compiled schema of a connection (`key` = connector) or a module's parameters
    /// (`key` = `connector.module`). None when the schema does not compile, a connector bug
    /// that the connector's own tests catch.
    pub fn validator(&self, key: &str) -> Option<&jsonschema::Validator> {
        let validators = self.validators.get_or_init(|| {
            let mut validators = HashMap::new();
            for connector in &self.connectors {
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
            }
            validators
        });
        validators.get(key)?.get()
    }

    pub fn connector(&self, name: &str) -> Option<&ConnectorSpec> {
        self.connectors.iter().find(|connector| connector.name == name)
    }

    /// `connector.module` for every module a step may use (triggers excluded).
    pub fn step_module_names(&self) -> Vec<String> {
        self.connectors
            .iter()
            .flat_map(|connector| {
                connector
                    .modules
                    .iter()
                    .filter(|module| module.kind != ModuleKind::Trigger)
                    .map(move |module| format!("{}.{}", connector.name, module.name))
            })
            .collect()
    }

    pub fn connector_names(&self) -> impl Iterator<Item = &str> {
        self.connectors.iter().map(|connector| connector.name.as_str())
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
