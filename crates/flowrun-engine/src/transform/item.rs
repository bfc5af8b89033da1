//! Evaluating compiled expressions and templates for one item, and the list and object
//! helpers the ops share.
//!
//! An item's scope (`item` and `index` on top of the step's scope) is built only when an
//! expression needs minijinja: the lookups and comparisons of [`super::fast`] read the item
//! directly.

use std::borrow::Cow;
use std::sync::Arc;

use flowrun_expr::{CompileError, EvalError, Expression, Scope, Template, Value};
use indexmap::IndexMap;
use minijinja::value::ValueKind;

use super::fast::Fast;

/// A map of data: what `Value::from_pairs` builds, so ops read and build it directly.
pub(crate) type Object = IndexMap<Value, Value>;

/// One item under evaluation: its scope is made on first need and then shared by the op's
/// expressions.
pub(crate) struct ItemCx<'a> {
    base: &'a Scope,
    pub(crate) item: &'a Value,
    pub(crate) index: usize,
    scope: Option<Scope>,
}

impl<'a> ItemCx<'a> {
    pub(crate) fn new(base: &'a Scope, item: &'a Value, index: usize) -> ItemCx<'a> {
        ItemCx {
            base,
            item,
            index,
            scope: None,
        }
    }

    fn scope(&mut self) -> &Scope {
        let (base, item, index) = (self.base, self.item, self.index);
        self.scope.get_or_insert_with(|| base.with_item(item.clone(), index))
    }
}

/// A bare expression over `item` and `index`, compiled once.
#[derive(Debug)]
pub(crate) struct ItemExpr {
    expression: Expression,
    fast: Option<Fast>,
}

impl ItemExpr {
    pub(crate) fn compile(source: &str) -> Result<ItemExpr, CompileError> {
        let expression = Expression::compile(source)?;
        let inner = flowrun_expr::analysis::single_expression(source).unwrap_or(source);
        Ok(ItemExpr {
            expression,
            fast: Fast::compile(inner),
        })
    }

    /// The value; undefined stays undefined.
    pub(crate) fn eval(&self, cx: &mut ItemCx<'_>) -> Result<Value, EvalError> {
        if let Some(value) = self.fast.as_ref().and_then(|fast| fast.eval(cx.item, cx.index)) {
            return Ok(value);
        }
        self.expression.eval(cx.scope())
    }

    /// As a condition: undefined is false.
    pub(crate) fn is_true(&self, cx: &mut ItemCx<'_>) -> Result<bool, EvalError> {
        Ok(self.eval(cx)?.is_true())
    }

    /// The value, which must be defined.
    pub(crate) fn eval_defined(&self, cx: &mut ItemCx<'_>) -> Result<Value, EvalError> {
        if let Some(value) = self.fast.as_ref().and_then(|fast| fast.eval(cx.item, cx.index))
            && !value.is_undefined()
        {
            return Ok(value);
        }
        self.expression.eval_defined(cx.scope())
    }
}

/// A template over `item`: one string of a `map:` or `set:` body.
#[derive(Debug)]
pub(crate) struct ItemTemplate {
    template: Template,
    fast: Option<Fast>,
}

impl ItemTemplate {
    pub(crate) fn compile(source: &str) -> Result<ItemTemplate, CompileError> {
        let template = Template::compile(source)?;
        let fast = if template.is_literal() {
            None
        } else {
            flowrun_expr::analysis::single_expression(source).and_then(Fast::compile)
        };
        Ok(ItemTemplate { template, fast })
    }

    /// The template's value (typed for a lone `{{ expr }}`); undefined is an error.
    pub(crate) fn eval(&self, cx: &mut ItemCx<'_>) -> Result<Value, EvalError> {
        if let Some(value) = self.fast.as_ref().and_then(|fast| fast.eval(cx.item, cx.index))
            && !value.is_undefined()
        {
            return Ok(value);
        }
        self.template.eval(cx.scope())
    }
}

/// A compiled value tree over `item` (a `map:` body, a `set:` value): every string a
/// template, everything else a ready value.
#[derive(Debug)]
pub(crate) enum ItemTree {
    Literal(Value),
    Template(Box<ItemTemplate>),
    List(Vec<ItemTree>),
    /// Keys (shared by every object the tree makes) and their values.
    Map(Arc<[Value]>, Vec<ItemTree>),
}

/// A string of a tree that does not compile, with its path in the tree.
pub(crate) type TreeError = (Vec<String>, CompileError);

impl ItemTree {
    pub(crate) fn compile(value: &serde_json::Value) -> Result<ItemTree, Vec<TreeError>> {
        let mut errors = Vec::new();
        let tree = compile_tree(value, &mut Vec::new(), &mut errors);
        if errors.is_empty() { Ok(tree) } else { Err(errors) }
    }

    pub(crate) fn eval(&self, cx: &mut ItemCx<'_>) -> Result<Value, EvalError> {
        Ok(match self {
            ItemTree::Literal(value) => value.clone(),
            ItemTree::Template(template) => template.eval(cx)?,
            ItemTree::List(items) => {
                let mut out = Vec::with_capacity(items.len());
                for item in items {
                    out.push(item.eval(cx)?);
                }
                Value::from_object(out)
            }
            ItemTree::Map(keys, values) => {
                let mut out = Vec::with_capacity(values.len());
                for value in values {
                    out.push(value.eval(cx)?);
                }
                Value::from_object(Record {
                    keys: keys.clone(),
                    values: out,
                })
            }
        })
    }
}

/// An object made by a `map:` body: its keys are shared by every item the body makes, so
/// making one hashes nothing and allocates its values only. Lookups scan the few keys.
#[derive(Debug)]
pub(crate) struct Record {
    keys: Arc<[Value]>,
    values: Vec<Value>,
}

impl Record {
    pub(crate) fn get(&self, name: &str) -> Option<&Value> {
        let position = self.keys.iter().position(|key| key.as_str() == Some(name))?;
        self.values.get(position)
    }
}

impl minijinja::value::Object for Record {
    fn repr(self: &Arc<Self>) -> minijinja::value::ObjectRepr {
        minijinja::value::ObjectRepr::Map
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        self.get(key.as_str()?).cloned()
    }

    fn enumerate(self: &Arc<Self>) -> minijinja::value::Enumerator {
        minijinja::value::Enumerator::Values(self.keys.to_vec())
    }

    fn enumerator_len(self: &Arc<Self>) -> Option<usize> {
        Some(self.keys.len())
    }
}

fn compile_tree(value: &serde_json::Value, path: &mut Vec<String>, errors: &mut Vec<TreeError>) -> ItemTree {
    use serde_json::Value as Json;
    match value {
        Json::String(text) => match ItemTemplate::compile(text) {
            Ok(template) if template.template.is_literal() => ItemTree::Literal(Value::from(text.as_str())),
            Ok(template) => ItemTree::Template(Box::new(template)),
            Err(error) => {
                errors.push((path.clone(), error));
                ItemTree::Literal(Value::from(()))
            }
        },
        Json::Array(items) => ItemTree::List(
            items
                .iter()
                .enumerate()
                .map(|(index, item)| {
                    path.push(index.to_string());
                    let tree = compile_tree(item, path, errors);
                    path.pop();
                    tree
                })
                .collect(),
        ),
        Json::Object(map) => ItemTree::Map(
            map.keys().map(|key| Value::from(key.as_str())).collect(),
            map.iter()
                .map(|(key, value)| {
                    path.push(key.clone());
                    let tree = compile_tree(value, path, errors);
                    path.pop();
                    tree
                })
                .collect(),
        ),
        literal => ItemTree::Literal(flowrun_expr::from_json(literal)),
    }
}

/// The elements of a list value (Arc clones), or `None` for anything else.
pub(crate) fn list_items(value: &Value) -> Option<Vec<Value>> {
    match value.kind() {
        ValueKind::Seq | ValueKind::Iterable => {
            if let Some(items) = value.downcast_object_ref::<Vec<Value>>() {
                return Some(items.clone());
            }
            value.try_iter().ok().map(Iterator::collect)
        }
        _ => None,
    }
}

/// A list value from its elements (moved, not copied).
pub(crate) fn list_value(items: Vec<Value>) -> Value {
    Value::from_object(items)
}

/// The entries of an object value (borrowed when it is a plain map of data), or `None` when
/// the value is not an object.
pub(crate) fn object_entries(value: &Value) -> Option<Cow<'_, Object>> {
    if value.kind() != ValueKind::Map {
        return None;
    }
    if let Some(map) = value.downcast_object_ref::<Object>() {
        return Some(Cow::Borrowed(map));
    }
    if let Some(record) = value.downcast_object_ref::<Record>() {
        return Some(Cow::Owned(
            record.keys.iter().cloned().zip(record.values.iter().cloned()).collect(),
        ));
    }
    let keys = value.try_iter().ok()?;
    Some(Cow::Owned(
        keys.map(|key| {
            let entry = value.get_item(&key).unwrap_or_default();
            (key, entry)
        })
        .collect(),
    ))
}

/// One field of an object (`None` when absent or when the value is not an object).
pub(crate) fn field(value: &Value, name: &str) -> Option<Value> {
    if value.kind() != ValueKind::Map {
        return None;
    }
    lookup(value, name).filter(|found| !found.is_undefined())
}

/// `value.name` on an object: the field, or undefined when it has none; `None` when the
/// lookup fails.
pub(crate) fn lookup(value: &Value, name: &str) -> Option<Value> {
    if let Some(record) = value.downcast_object_ref::<Record>() {
        return Some(record.get(name).cloned().unwrap_or(Value::UNDEFINED));
    }
    value.get_attr(name).ok()
}

/// "item 3: message": an expression's error with the position of the item it failed on.
pub(crate) fn at_item(index: usize, error: &EvalError) -> String {
    format!("item {index}: {}", error.message)
}
