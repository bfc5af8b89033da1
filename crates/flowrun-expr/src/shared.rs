//! JSON read where it lies: a module's output becomes a template value without a copy.
//!
//! [`from_json`](crate::from_json) builds a template value for every object and list in the
//! data: for a paged read of 100,000 records that is 100,000 maps built before any template
//! looks at them, and the data held twice. [`from_shared_json`] wraps the JSON instead: a list
//! or an object is a [`JsonNode`], an object of minijinja's Map or Seq kind that reads its part
//! of the shared JSON when a template asks (`| length` counts without building anything;
//! `item.id` builds the one number). Templates, filters and transforms see the same kinds,
//! keys, order and values as with `from_json`.

use std::sync::Arc;

use minijinja::value::{Enumerator, Object, ObjectExt, ObjectRepr};
use serde_json::Value as Json;

use crate::Value;
use crate::convert::from_json;

/// A list or object inside a shared JSON document.
#[derive(Debug)]
pub(crate) struct JsonNode {
    root: Arc<Json>,
    /// From the root to this node.
    path: Box<[Step]>,
}

#[derive(Debug, Clone)]
enum Step {
    Index(usize),
    Key(Box<str>),
}

/// A JSON document as a template value, without a copy (module docs).
pub fn from_shared_json(json: Json) -> Value {
    match json {
        Json::Array(_) | Json::Object(_) => Value::from_object(JsonNode {
            root: Arc::new(json),
            path: Box::new([]),
        }),
        scalar => from_json(&scalar),
    }
}

impl JsonNode {
    /// The JSON this node stands for.
    pub(crate) fn json(&self) -> &Json {
        let mut node = &*self.root;
        for step in &self.path {
            // The path was made from this same document, so every step exists.
            node = match (node, step) {
                (Json::Array(items), Step::Index(index)) => &items[*index],
                (Json::Object(map), Step::Key(key)) => &map[&**key],
                _ => &Json::Null,
            };
        }
        node
    }

    fn child(&self, step: Step, value: &Json) -> Value {
        match value {
            Json::Array(_) | Json::Object(_) => {
                let mut path = Vec::with_capacity(self.path.len() + 1);
                path.extend(self.path.iter().cloned());
                path.push(step);
                Value::from_object(JsonNode {
                    root: self.root.clone(),
                    path: path.into_boxed_slice(),
                })
            }
            scalar => from_json(scalar),
        }
    }
}

/// The entries of `value` in order when it is a shared JSON object: each value read where it
/// lies, with no lookup by key (a generic map's entries are its keys, each looked up again).
/// `None` for anything else.
pub(crate) fn shared_object_entries(value: &Value) -> Option<Vec<(Value, Value)>> {
    let node = value.downcast_object_ref::<JsonNode>()?;
    let Json::Object(map) = node.json() else {
        return None;
    };
    Some(
        map.iter()
            .map(|(key, child)| {
                (
                    Value::from(key.as_str()),
                    node.child(Step::Key(key.as_str().into()), child),
                )
            })
            .collect(),
    )
}

impl Object for JsonNode {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        match self.json() {
            Json::Array(_) => ObjectRepr::Seq,
            _ => ObjectRepr::Map,
        }
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        match self.json() {
            Json::Array(items) => {
                let index = key.as_usize()?;
                items.get(index).map(|item| self.child(Step::Index(index), item))
            }
            Json::Object(map) => {
                let name = key.as_str()?;
                map.get(name).map(|value| self.child(Step::Key(name.into()), value))
            }
            _ => None,
        }
    }

    fn get_value_by_str(self: &Arc<Self>, name: &str) -> Option<Value> {
        match self.json() {
            Json::Object(map) => map.get(name).map(|value| self.child(Step::Key(name.into()), value)),
            _ => None,
        }
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        match self.json() {
            Json::Array(items) => Enumerator::Seq(items.len()),
            Json::Object(_) => self.mapped_enumerator(|this| {
                let keys: Box<dyn Iterator<Item = Value> + Send + Sync> = match this.json() {
                    Json::Object(map) => Box::new(map.keys().map(|key| Value::from(key.as_str()))),
                    _ => Box::new(std::iter::empty()),
                };
                keys
            }),
            _ => Enumerator::Empty,
        }
    }

    fn enumerator_len(self: &Arc<Self>) -> Option<usize> {
        match self.json() {
            Json::Array(items) => Some(items.len()),
            Json::Object(map) => Some(map.len()),
            _ => Some(0),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use serde_json::json;

    use super::*;
    use crate::{Runtime, Scope, Template};

    fn data() -> Json {
        json!({
            "status": 200,
            "body": {
                "records": [
                    { "id": 2, "name": "b", "tags": ["x"], "price": 1.5, "note": null },
                    { "id": 1, "name": "a", "tags": [], "price": 2, "ok": true },
                    { "id": 3, "name": "c", "nested": { "deep": [1, { "k": "v" }] } }
                ],
                "next": null,
                "empty": {},
                "weird key": "w"
            }
        })
    }

    fn eval(value: Value, source: &str) -> Result<Json, String> {
        let mut scope = Scope::new(Runtime::default());
        scope.set("out", value).set("copy", from_json(&data()));
        Template::compile(source)
            .map_err(|error| error.message)?
            .eval_json(&scope)
            .map_err(|error| error.message)
    }

    /// Every expression gives the same result on shared JSON as on converted JSON.
    #[test]
    fn shared_json_reads_like_converted_json() {
        let expressions = [
            "{{ out }}",
            "{{ out.body.records | length }}",
            "{{ out.body.records[-1].id }}",
            "{{ out.body.records[0] }}",
            "{{ out.body['weird key'] }}",
            "{{ out.body.records | map(attribute='name') | list }}",
            "{{ out.body.records | sort(attribute='id') | map(attribute='id') | list }}",
            "{{ out.body.records | selectattr('ok') | list }}",
            "{{ out.body.records[2].nested.deep[1].k }}",
            "{{ out.body.keys() | list }}",
            "{{ out.body.items() | list }}",
            "{{ out.body.records[0].tags }}",
            "{{ out.body.empty }}",
            "{{ out.body.next is none }}",
            "{{ out.body.missing is defined }}",
            "{{ out.body.records[0] == copy.body.records[0] }}",
            "{{ out == copy }}",
            "{{ 'name' in out.body.records[0] }}",
            "{{ out.body.records | tojson }}",
            "{{ out.body.records | first }}",
            "{{ out.body.records[0] | dictsort }}",
            "{{ out.body.empty | length }} {{ out.body.records[1].tags | length }}",
            "{% for r in out.body.records %}{{ r.id }}:{{ loop.index }} {% endfor %}",
            "{{ out.body.records[0].price + out.body.records[1].price }}",
            "{{ out.body.records[0] | items | list }}",
            "{{ jsonpath(out, '$.body.records[*].id') }}",
            "{{ out.body.empty or 'falsy' }}",
            "{{ out.body.records[0].missing.deeper }}",
            "record: {{ out.body.records[0] }} list: {{ out.body.records[0].tags }}",
            "{{ out.body.records[1] | string }}",
            "{{ out.body.records | batch(2) | list }}",
            "{{ out.body.records | unique(attribute='name') | list | length }}",
            "{{ out.body.records | groupby('ok') | length }}",
            "{{ out.body.records[2] | omit('name', 'missing') }}",
            "{{ out.body.records | map('merge', {'id': 9, 'x': 1}) | list }}",
            "{{ merge(out.body.records[0], out.body.records[2].nested) }}",
            "{{ out.body.records[0] | pick('price', 'id') }}",
        ];
        for source in expressions {
            let shared = eval(from_shared_json(data()), source);
            let converted = eval(from_json(&data()), source);
            assert_eq!(shared, converted, "{source}");
        }
    }

    #[test]
    fn scalars_stay_scalars() {
        assert_eq!(eval(from_shared_json(json!(5)), "{{ out + 1 }}"), Ok(json!(6)));
        assert_eq!(eval(from_shared_json(json!("t")), "{{ out }}"), Ok(json!("t")));
    }
}
