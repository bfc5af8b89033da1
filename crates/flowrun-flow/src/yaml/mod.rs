//! YAML 1.2 (core schema) into a tree that remembers where every node came from.
//!
//! Serde stops at the first error and forgets positions, so the validator works on this tree:
//! it reports every problem with a line and column, then the typed model is deserialized from
//! [`Node::to_json`]. Building the tree is where hostile input is stopped: duplicate keys, alias
//! expansion beyond a budget and nesting beyond a depth limit are errors, never a hang or a
//! stack overflow (the builder is iterative and the depth limit keeps every later walk shallow).

mod build;
mod scalar;
#[cfg(test)]
mod tests;

pub use build::{Limits, YamlError, YamlErrorKind, decode, parse};

use serde_json::Value;

/// A position in the source: 1-based line and column, the column counted in characters.
/// `offset` is the character index from the start of the text (a leading BOM excluded).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, serde::Serialize)]
pub struct Pos {
    pub line: usize,
    pub column: usize,
    pub offset: usize,
}

/// A range of the source, end exclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, serde::Serialize)]
pub struct Span {
    pub start: Pos,
    pub end: Pos,
}

impl Span {
    /// An empty span at one position, for problems that have no extent.
    pub fn point(pos: Pos) -> Span {
        Span { start: pos, end: pos }
    }
}

/// A node of the tree with its span.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub value: NodeValue,
    pub span: Span,
}

/// A mapping key: YAML allows any node, flow files only scalars, kept as text.
#[derive(Debug, Clone, PartialEq)]
pub struct Key {
    pub name: String,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum NodeValue {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    String(String),
    Seq(Vec<Node>),
    /// Entries in source order; keys are unique (duplicates are a parse error).
    Map(Vec<(Key, Node)>),
}

/// One step of a path into the tree, as in a JSON Pointer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathSegment<'a> {
    Key(&'a str),
    Index(usize),
}

impl Node {
    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            NodeValue::String(text) => Some(text),
            _ => None,
        }
    }

    pub fn as_map(&self) -> Option<&[(Key, Node)]> {
        match &self.value {
            NodeValue::Map(entries) => Some(entries),
            _ => None,
        }
    }

    pub fn as_seq(&self) -> Option<&[Node]> {
        match &self.value {
            NodeValue::Seq(items) => Some(items),
            _ => None,
        }
    }

    /// The entry of a mapping by key name.
    pub fn entry(&self, name: &str) -> Option<&(Key, Node)> {
        self.as_map()?.iter().find(|(key, _)| key.name == name)
    }

    /// The value of a mapping entry by key name.
    pub fn get(&self, name: &str) -> Option<&Node> {
        self.entry(name).map(|(_, value)| value)
    }

    /// A short name for the node's type, as users read it in a diagnostic.
    pub fn type_name(&self) -> &'static str {
        match self.value {
            NodeValue::Null => "null",
            NodeValue::Bool(_) => "a boolean",
            NodeValue::Int(_) => "an integer",
            NodeValue::Float(_) => "a number",
            NodeValue::String(_) => "a string",
            NodeValue::Seq(_) => "a list",
            NodeValue::Map(_) => "a mapping",
        }
    }

    /// The node at a JSON Pointer (`/steps/0/with`), and the key that leads to it when the
    /// last segment is a mapping key.
    pub fn pointer(&self, pointer: &str) -> Option<(Option<&Key>, &Node)> {
        let mut node = self;
        let mut last_key = None;
        for raw in pointer.split('/').skip(1) {
            let segment = raw.replace("~1", "/").replace("~0", "~");
            match &node.value {
                NodeValue::Map(entries) => {
                    let (key, value) = entries.iter().find(|(key, _)| key.name == segment)?;
                    last_key = Some(key);
                    node = value;
                }
                NodeValue::Seq(items) => {
                    node = items.get(segment.parse::<usize>().ok()?)?;
                    last_key = None;
                }
                _ => return None,
            }
        }
        Some((last_key, node))
    }

    /// The JSON value of the tree (what serde deserializes the typed model from).
    pub fn to_json(&self) -> Value {
        match &self.value {
            NodeValue::Null => Value::Null,
            NodeValue::Bool(value) => Value::Bool(*value),
            NodeValue::Int(value) => Value::from(*value),
            NodeValue::Float(value) => serde_json::Number::from_f64(*value).map_or(Value::Null, Value::Number),
            NodeValue::String(text) => Value::String(text.clone()),
            NodeValue::Seq(items) => Value::Array(items.iter().map(Node::to_json).collect()),
            NodeValue::Map(entries) => Value::Object(
                entries
                    .iter()
                    .map(|(key, value)| (key.name.clone(), value.to_json()))
                    .collect(),
            ),
        }
    }

    /// Visit every node, parents before children.
    pub fn walk<'a>(&'a self, visit: &mut dyn FnMut(&'a Node)) {
        visit(self);
        match &self.value {
            NodeValue::Seq(items) => items.iter().for_each(|item| item.walk(visit)),
            NodeValue::Map(entries) => entries.iter().for_each(|(_, value)| value.walk(visit)),
            _ => {}
        }
    }
}
