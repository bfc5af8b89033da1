//! `map`, `set`, `rename` and `remove`: each item reshaped.

use flowrun_expr::{Scope, Value};
use indexmap::IndexMap;

use super::OpError;
use super::error::expected;
use super::item::{ItemCx, ItemTree, Object, at_item, object_entries};

/// `map: {sku: "{{ item.Sku }}"}`: each item becomes the template tree's value (typed).
#[derive(Debug)]
pub(crate) struct Map {
    body: ItemTree,
}

impl Map {
    pub(crate) fn compile(body: &serde_json::Value) -> Result<Map, Vec<OpError>> {
        Ok(Map {
            body: ItemTree::compile(body)?,
        })
    }

    /// The item, mapped.
    pub(crate) fn apply(&self, item: &Value, index: usize, scope: &Scope) -> Result<Value, String> {
        self.body
            .eval(&mut ItemCx::new(scope, item, index))
            .map_err(|error| at_item(index, &error))
    }
}

/// `set: {source: conexiom}`: add or overwrite keys of each item (an object). The values see
/// the item as it was before the op.
#[derive(Debug)]
pub(crate) struct Set {
    fields: Vec<(Value, ItemTree)>,
}

impl Set {
    pub(crate) fn compile(fields: &IndexMap<String, serde_json::Value>) -> Result<Set, Vec<OpError>> {
        let mut errors = Vec::new();
        let mut compiled = Vec::with_capacity(fields.len());
        for (name, body) in fields {
            match ItemTree::compile(body) {
                Ok(tree) => compiled.push((Value::from(name.as_str()), tree)),
                Err(tree_errors) => errors.extend(tree_errors.into_iter().map(|(mut path, error)| {
                    path.insert(0, name.clone());
                    (path, error)
                })),
            }
        }
        if errors.is_empty() {
            Ok(Set { fields: compiled })
        } else {
            Err(errors)
        }
    }

    /// The item (an object) with the fields set.
    pub(crate) fn apply(&self, item: &Value, index: usize, scope: &Scope) -> Result<Value, String> {
        let mut object = object_entries(item)
            .ok_or_else(|| format!("item {index}: {}", expected("an object", item)))?
            .into_owned();
        let mut cx = ItemCx::new(scope, item, index);
        for (name, tree) in &self.fields {
            let value = tree.eval(&mut cx).map_err(|error| at_item(index, &error))?;
            object.insert(name.clone(), value);
        }
        Ok(Value::from_object(object))
    }
}

/// `rename: {old: new}`: all renames at once (so `{a: b, b: a}` swaps); a renamed key keeps
/// its place and replaces a key that already had the new name.
#[derive(Debug)]
pub(crate) struct Rename {
    names: Vec<(String, Value)>,
}

impl Rename {
    pub(crate) fn compile(names: &IndexMap<String, String>) -> Rename {
        Rename {
            names: names
                .iter()
                .map(|(old, new)| (old.clone(), Value::from(new.as_str())))
                .collect(),
        }
    }

    /// The item (an object) with its keys renamed.
    pub(crate) fn apply(&self, item: &Value, index: usize) -> Result<Value, String> {
        let object = object_entries(item).ok_or_else(|| format!("item {index}: {}", expected("an object", item)))?;
        let mut renamed = Object::with_capacity(object.len());
        for (key, value) in object.iter() {
            let name = key.as_str().unwrap_or_default();
            if let Some((_, new)) = self.names.iter().find(|(old, _)| old == name) {
                renamed.insert(new.clone(), value.clone());
            } else if !self.is_replaced(name, &object) {
                renamed.insert(key.clone(), value.clone());
            }
        }
        Ok(Value::from_object(renamed))
    }

    /// True when a key of the item is renamed to `name`.
    fn is_replaced(&self, name: &str, object: &Object) -> bool {
        self.names
            .iter()
            .any(|(old, new)| new.as_str() == Some(name) && object.contains_key(&Value::from(old.as_str())))
    }
}

/// `remove: [internal]`: drop these keys of each item (absent keys are fine).
#[derive(Debug)]
pub(crate) struct Remove {
    names: Vec<String>,
}

impl Remove {
    pub(crate) fn compile(names: &[String]) -> Remove {
        Remove { names: names.to_vec() }
    }

    /// The item (an object) without the removed keys.
    pub(crate) fn apply(&self, item: &Value, index: usize) -> Result<Value, String> {
        let object = object_entries(item).ok_or_else(|| format!("item {index}: {}", expected("an object", item)))?;
        let kept: Object = object
            .iter()
            .filter(|(key, _)| !self.names.iter().any(|name| key.as_str() == Some(name.as_str())))
            .map(|(key, value)| (key.clone(), value.clone()))
            .collect();
        Ok(Value::from_object(kept))
    }
}
