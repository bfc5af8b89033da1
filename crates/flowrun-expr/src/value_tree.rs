//! A whole YAML value of a flow (a step's `with:`, a `map:` body, the flow `output`) compiled
//! once: every string in it a [`Template`], everything else kept as it is.

use serde_json::Value as Json;

use crate::error::{CompileError, EvalError};
use crate::scope::Scope;
use crate::secret::{REDACTED, Redacting, Redactor};
use crate::template::Template;

/// A compiled value tree.
#[derive(Debug)]
pub enum CompiledValue {
    /// Null, booleans and numbers: no template can hide in them.
    Literal(Json),
    Template(Template),
    List(Vec<CompiledValue>),
    /// Keys are literal; values are compiled.
    Map(Vec<(String, CompiledValue)>),
}

/// A rendered value, with the places that were built from a secret.
#[derive(Debug, Clone, PartialEq)]
pub struct Rendered {
    /// The value with secrets in place: for the request, never for a log.
    pub value: Json,
    /// JSON Pointers (RFC 6901) of the values rendered by a template that reads `secrets`.
    pub secret_paths: Vec<String>,
}

impl Rendered {
    /// The value to show or store: everything built from a secret replaced by `***`.
    pub fn redacted(&self) -> Json {
        let mut value = self.value.clone();
        for path in &self.secret_paths {
            if path.is_empty() {
                return Json::String(REDACTED.to_owned());
            }
            if let Some(slot) = value.pointer_mut(path) {
                *slot = Json::String(REDACTED.to_owned());
            }
        }
        value
    }

    /// Writes [`Rendered::redacted`] as JSON text, every string and key also passed through
    /// `redactor`: the text of `redactor.redact_json(&self.redacted())`, without copying the
    /// value. A step's parameters can be thousands of rows on their way to a module; their
    /// record is written from them in one pass before they go. The places built from a secret
    /// hold `***` only while it writes. Like [`crate::write_json_redacted_searched`], it writes
    /// the text as it is and searches it once when it can, string by string only when a secret
    /// is found.
    pub fn write_redacted(&mut self, redactor: &Redactor, out: &mut Vec<u8>) -> serde_json::Result<()> {
        if self.secret_paths.iter().any(String::is_empty) {
            return serde_json::to_writer(out, REDACTED);
        }
        let mut swapped = Vec::with_capacity(self.secret_paths.len());
        for path in &self.secret_paths {
            if let Some(slot) = self.value.pointer_mut(path) {
                swapped.push((path, std::mem::replace(slot, Json::String(REDACTED.to_owned()))));
            }
        }
        let json = &self.value;
        let written = crate::write::write_searched(redactor, out, |redactor, out| {
            serde_json::to_writer(out, &Redacting { json, redactor })
        });
        // Back in reverse: a path under one swapped before it is found again only once the
        // outer value is back.
        for (path, original) in swapped.into_iter().rev() {
            if let Some(slot) = self.value.pointer_mut(path) {
                *slot = original;
            }
        }
        written
    }
}

/// Where a compile error sits in the value tree: `with.payload.Name`, as a list of keys and
/// indexes, with the error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TreeCompileError {
    pub path: Vec<String>,
    pub error: CompileError,
}

impl CompiledValue {
    /// Compiles every string of the value. Every mistake is reported, each with its path.
    pub fn compile(value: &Json) -> Result<CompiledValue, Vec<TreeCompileError>> {
        let mut errors = Vec::new();
        let mut path = Vec::new();
        let compiled = compile(value, &mut path, &mut errors);
        if errors.is_empty() { Ok(compiled) } else { Err(errors) }
    }

    /// True when any template in the tree reads `secrets`.
    pub fn reads_secrets(&self) -> bool {
        match self {
            CompiledValue::Literal(_) => false,
            CompiledValue::Template(template) => template.reads_secrets(),
            CompiledValue::List(items) => items.iter().any(CompiledValue::reads_secrets),
            CompiledValue::Map(entries) => entries.iter().any(|(_, value)| value.reads_secrets()),
        }
    }

    /// The template value of the tree (typed templates keep their type).
    pub fn eval(&self, scope: &Scope) -> Result<crate::Value, EvalError> {
        Ok(match self {
            CompiledValue::Literal(json) => crate::from_json(json),
            CompiledValue::Template(template) => template.eval(scope)?,
            CompiledValue::List(items) => items
                .iter()
                .map(|item| item.eval(scope))
                .collect::<Result<Vec<_>, _>>()?
                .into_iter()
                .collect(),
            CompiledValue::Map(entries) => {
                let mut pairs = Vec::with_capacity(entries.len());
                for (key, value) in entries {
                    pairs.push((key.as_str(), value.eval(scope)?));
                }
                crate::Value::from_pairs(pairs)
            }
        })
    }

    /// Renders the tree to JSON, marking what was built from a secret.
    pub fn render(&self, scope: &Scope) -> Result<Rendered, EvalError> {
        let mut secret_paths = Vec::new();
        let value = self.render_at(scope, &mut Vec::new(), &mut secret_paths)?;
        Ok(Rendered { value, secret_paths })
    }

    /// `at` is the way from the root to this node. It is written out as a JSON Pointer only
    /// for a template that reads a secret: a `with:` is rendered for every call and item, and
    /// most never touch a secret.
    fn render_at<'a>(
        &'a self,
        scope: &Scope,
        at: &mut Vec<PathStep<'a>>,
        secrets: &mut Vec<String>,
    ) -> Result<Json, EvalError> {
        Ok(match self {
            CompiledValue::Literal(json) => json.clone(),
            CompiledValue::Template(template) => {
                if template.reads_secrets() {
                    secrets.push(json_pointer(at));
                }
                template.eval_json(scope)?
            }
            CompiledValue::List(items) => {
                let mut out = Vec::with_capacity(items.len());
                for (index, item) in items.iter().enumerate() {
                    at.push(PathStep::Index(index));
                    let rendered = item.render_at(scope, at, secrets);
                    at.pop();
                    out.push(rendered?);
                }
                Json::Array(out)
            }
            CompiledValue::Map(entries) => {
                let mut out = serde_json::Map::with_capacity(entries.len());
                for (key, value) in entries {
                    at.push(PathStep::Key(key));
                    let rendered = value.render_at(scope, at, secrets);
                    at.pop();
                    out.insert(key.clone(), rendered?);
                }
                Json::Object(out)
            }
        })
    }
}

/// One step of the way to a node of the tree.
enum PathStep<'a> {
    Key(&'a str),
    Index(usize),
}

/// The way to a node as a JSON Pointer (RFC 6901), `~` and `/` in keys escaped.
fn json_pointer(at: &[PathStep<'_>]) -> String {
    let mut pointer = String::new();
    for step in at {
        pointer.push('/');
        match step {
            PathStep::Key(key) => pointer.push_str(&key.replace('~', "~0").replace('/', "~1")),
            PathStep::Index(index) => pointer.push_str(&index.to_string()),
        }
    }
    pointer
}

fn compile(value: &Json, path: &mut Vec<String>, errors: &mut Vec<TreeCompileError>) -> CompiledValue {
    match value {
        Json::String(text) => match Template::compile(text) {
            Ok(template) => CompiledValue::Template(template),
            Err(error) => {
                errors.push(TreeCompileError {
                    path: path.clone(),
                    error,
                });
                CompiledValue::Literal(Json::Null)
            }
        },
        Json::Array(items) => CompiledValue::List(
            items
                .iter()
                .enumerate()
                .map(|(index, item)| {
                    path.push(index.to_string());
                    let compiled = compile(item, path, errors);
                    path.pop();
                    compiled
                })
                .collect(),
        ),
        Json::Object(map) => CompiledValue::Map(
            map.iter()
                .map(|(key, value)| {
                    path.push(key.clone());
                    let compiled = compile(value, path, errors);
                    path.pop();
                    (key.clone(), compiled)
                })
                .collect(),
        ),
        literal => CompiledValue::Literal(literal.clone()),
    }
}
