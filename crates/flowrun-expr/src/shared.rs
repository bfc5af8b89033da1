//! JSON read where it lies: a module's output becomes a template value without a copy.
//!
//! [`from_json`](crate::from_json) builds a template value for every object and list in the
//! data: for a paged read of 100,000 records that is 100,000 maps built before any template
//! looks at them, and the data held twice. [`from_shared_json`] wraps the JSON instead: a list
//! or an object is a [`JsonNode`], an object of minijinja's Map or Seq kind that reads its part
//! of the shared JSON when a template asks (`| length` counts without building anything;
//! `item.id` builds the one number). Templates, filters and transforms see the same kinds,
//! keys, order and values as with `from_json`.

use std::sync::{Arc, OnceLock};

use minijinja::value::{Enumerator, Object, ObjectExt, ObjectRepr};
use serde_json::Value as Json;
use serde_json::value::RawValue;

use crate::Value;
use crate::convert::from_json;

/// A list or object inside a shared JSON document.
#[derive(Debug)]
pub(crate) struct JsonNode {
    root: Arc<Document>,
    /// From the root to this node.
    path: Box<[Step]>,
}

/// A shared JSON document: built, or JSON text checked to be an object or a list and parsed
/// when first read ([`from_raw_json`]).
#[derive(Debug)]
struct Document {
    /// The text it came as, while it may still be written out as it is.
    raw: Option<Box<RawValue>>,
    parsed: OnceLock<Json>,
    is_list: bool,
}

impl Document {
    fn json(&self) -> &Json {
        self.parsed
            .get_or_init(|| self.raw.as_deref().map_or(Json::Null, parse))
    }
}

/// The value of text [`from_raw_json`] was given, which must parse (null if it does not).
fn parse(raw: &RawValue) -> Json {
    serde_json::from_str(raw.get()).unwrap_or(Json::Null)
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
            root: Arc::new(Document {
                raw: None,
                is_list: json.is_array(),
                parsed: OnceLock::from(json),
            }),
            path: Box::new([]),
        }),
        scalar => from_json(&scalar),
    }
}

/// JSON text as a template value that parses it when a template first reads it. The text
/// must parse into a value: valid text can still fail to (`1e400`, nesting past serde_json's
/// depth limit), and such text reads as null; `flowrun_connect`'s `Response::raw_json` keeps
/// those for parsing on arrival. Until then it costs its text, and a step's record writes
/// that text as it is when no secret is in it. Templates see exactly what
/// [`from_shared_json`] of the parsed text gives.
pub fn from_raw_json(raw: Box<RawValue>) -> Value {
    let is_list = match raw.get().trim_start().as_bytes().first() {
        Some(b'[') => true,
        Some(b'{') => false,
        // A scalar is built at once: there is nothing to save.
        _ => return from_shared_json(parse(&raw)),
    };
    Value::from_object(JsonNode {
        root: Arc::new(Document {
            raw: Some(raw),
            parsed: OnceLock::new(),
            is_list,
        }),
        path: Box::new([]),
    })
}

impl JsonNode {
    /// The text this node came as, when it is a whole document kept as text.
    pub(crate) fn raw(&self) -> Option<&RawValue> {
        match (&self.root.raw, self.path.is_empty()) {
            (Some(raw), true) => Some(raw),
            _ => None,
        }
    }

    /// The JSON this node stands for.
    pub(crate) fn json(&self) -> &Json {
        let mut node = self.root.json();
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
        // A document's kind is known without parsing it.
        let is_list = if self.path.is_empty() {
            self.root.is_list
        } else {
            self.json().is_array()
        };
        if is_list { ObjectRepr::Seq } else { ObjectRepr::Map }
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
            let converted = eval(from_json(&data()), source);
            let shared = eval(from_shared_json(data()), source);
            assert_eq!(shared, converted, "{source}");
            let raw = serde_json::value::to_raw_value(&data()).unwrap();
            assert_eq!(eval(from_raw_json(raw), source), converted, "kept as text: {source}");
        }
    }

    /// Text kept for later is parsed only when read: its kind and nothing else before.
    #[test]
    fn raw_json_is_parsed_when_first_read() {
        let value = from_raw_json(serde_json::from_str(r#" [{"id": 1}, {"id": 2}] "#).unwrap());
        let node = value.downcast_object_ref::<JsonNode>().unwrap();
        assert_eq!(value.kind(), minijinja::value::ValueKind::Seq);
        assert!(node.root.parsed.get().is_none(), "its kind needs no parse");
        assert_eq!(eval(value.clone(), "{{ out[1].id }}"), Ok(json!(2)));
        assert!(node.root.parsed.get().is_some());
        let map = from_raw_json(serde_json::from_str(r#"{"a": {"b": 1}}"#).unwrap());
        assert_eq!(map.kind(), minijinja::value::ValueKind::Map);
        assert_eq!(eval(map, "{{ out.a.b }}"), Ok(json!(1)));
    }

    #[test]
    fn scalars_stay_scalars() {
        assert_eq!(eval(from_shared_json(json!(5)), "{{ out + 1 }}"), Ok(json!(6)));
        assert_eq!(eval(from_shared_json(json!("t")), "{{ out }}"), Ok(json!("t")));
    }
}
