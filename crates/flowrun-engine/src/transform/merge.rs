//! `merge: {with, on, how, as}`: a join of each item with the records of a second list.
//!
//! The right side is evaluated once per run and indexed by its `on` value in a hash map.
//! Keys match by JSON equality (`key.rs`); a missing or null key matches nothing (as in SQL).

use std::collections::HashMap;

use flowrun_expr::{CompiledValue, Scope, Value};
use flowrun_flow::model::{JoinKind, Merge as MergeModel};

use super::OpError;
use super::error::expected;
use super::item::{Object, field, list_items, list_value, object_entries};
use super::key::Key;

#[derive(Debug)]
pub(crate) struct Merge {
    with: CompiledValue,
    on: String,
    inner: bool,
    into: Option<Value>,
}

impl Merge {
    pub(crate) fn compile(spec: &MergeModel) -> Result<Merge, Vec<OpError>> {
        let with = CompiledValue::compile(&spec.with).map_err(|errors| {
            errors
                .into_iter()
                .map(|error| {
                    let mut path = vec!["with".to_owned()];
                    path.extend(error.path);
                    (path, error.error)
                })
                .collect::<Vec<_>>()
        })?;
        Ok(Merge {
            with,
            on: spec.on.clone(),
            inner: spec.how == Some(JoinKind::Inner),
            into: spec.into.as_deref().map(Value::from),
        })
    }

    pub(crate) fn run(&self, items: Vec<Value>, scope: &Scope) -> Result<Vec<Value>, String> {
        let right = self
            .with
            .eval(scope)
            .map_err(|error| format!("`with`: {}", error.message))?;
        let right = list_items(&right).ok_or_else(|| format!("`with`: {}", expected("a list", &right)))?;
        let mut index: HashMap<Key, Vec<usize>> = HashMap::with_capacity(right.len());
        for (position, record) in right.iter().enumerate() {
            if object_entries(record).is_none() {
                return Err(format!("`with` item {position}: {}", expected("an object", record)));
            }
            if let Some(key) = self.key_of(record) {
                index.entry(Key(key)).or_default().push(position);
            }
        }
        let mut out = Vec::with_capacity(items.len());
        for (position, item) in items.into_iter().enumerate() {
            let object =
                object_entries(&item).ok_or_else(|| format!("item {position}: {}", expected("an object", &item)))?;
            let matches: &[usize] = self
                .key_of(&item)
                .and_then(|key| index.get(&Key(key)))
                .map_or(&[], Vec::as_slice);
            if matches.is_empty() && self.inner {
                continue;
            }
            let joined = match &self.into {
                Some(name) => {
                    let mut joined = object.into_owned();
                    let found = matches.iter().map(|&at| right[at].clone()).collect();
                    joined.insert(name.clone(), list_value(found));
                    Value::from_object(joined)
                }
                None => match matches.first().and_then(|&at| object_entries(&right[at])) {
                    Some(record) => {
                        let mut joined: Object = object.into_owned();
                        for (key, value) in record.iter() {
                            if !joined.contains_key(key) {
                                joined.insert(key.clone(), value.clone());
                            }
                        }
                        Value::from_object(joined)
                    }
                    None => {
                        drop(object);
                        item
                    }
                },
            };
            out.push(joined);
        }
        Ok(out)
    }

    /// The record's `on` value; `None` when it is missing or null.
    fn key_of(&self, record: &Value) -> Option<Value> {
        field(record, &self.on).filter(|key| !key.is_none())
    }
}
