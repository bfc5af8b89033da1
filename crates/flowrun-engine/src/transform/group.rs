//! `group_by` and `aggregate`.

use flowrun_expr::{CompileError, Scope, Value};
use indexmap::IndexMap;
use minijinja::value::ValueKind;

use super::OpError;
use super::error::{expected, shape};
use super::item::{ItemCx, ItemExpr, Object, at_item, field, list_items, list_value, object_entries};
use super::key::{Key, compare};

/// `group_by: "item.sku"`: `[{key, items}]` in order of first appearance; an undefined key
/// is an error.
#[derive(Debug)]
pub(crate) struct GroupBy {
    key: ItemExpr,
}

impl GroupBy {
    pub(crate) fn compile(source: &str) -> Result<GroupBy, CompileError> {
        Ok(GroupBy {
            key: ItemExpr::compile(source)?,
        })
    }

    /// The item's group key.
    pub(crate) fn key(&self, item: &Value, index: usize, scope: &Scope) -> Result<Key, String> {
        self.key
            .eval_defined(&mut ItemCx::new(scope, item, index))
            .map(Key)
            .map_err(|error| at_item(index, &error))
    }
}

/// `{key, items}`: one group as `group_by` gives it.
pub(crate) fn group_value(key: Key, items: Vec<Value>) -> Value {
    let mut group = Object::with_capacity(2);
    group.insert(Value::from("key"), key.0);
    group.insert(Value::from("items"), list_value(items));
    Value::from_object(group)
}

/// `aggregate: {total: "sum(item.qty)", lines: "count()"}`.
#[derive(Debug)]
pub(crate) struct Aggregate {
    fields: Vec<Field>,
}

/// One `name: "function(e)"` of an aggregate.
#[derive(Debug)]
struct Field {
    name: Value,
    function: Function,
    argument: Option<ItemExpr>,
    /// The call as written, for errors.
    call: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Function {
    Count,
    Sum,
    Min,
    Max,
    Avg,
    First,
    Last,
    List,
}

const FUNCTIONS: &str = "count(), sum(e), min(e), max(e), avg(e), first(e), last(e) or list(e)";

impl Aggregate {
    pub(crate) fn compile(fields: &IndexMap<String, String>) -> Result<Aggregate, Vec<OpError>> {
        let mut errors = Vec::new();
        let mut compiled = Vec::with_capacity(fields.len());
        for (name, source) in fields {
            match compile_call(source) {
                Ok((function, argument)) => compiled.push(Field {
                    name: Value::from(name.as_str()),
                    function,
                    argument,
                    call: flowrun_expr::analysis::single_expression(source)
                        .unwrap_or(source)
                        .trim()
                        .to_owned(),
                }),
                Err(error) => errors.push((vec![name.clone()], error)),
            }
        }
        if errors.is_empty() {
            Ok(Aggregate { fields: compiled })
        } else {
            Err(errors)
        }
    }

    /// Each group to `{key, <name>: value…}` when the items are groups, else the whole list to
    /// one object.
    pub(crate) fn run(&self, items: Vec<Value>, groups: bool, scope: &Scope) -> Result<Value, String> {
        if !(groups || (!items.is_empty() && items.iter().all(is_group))) {
            return self.aggregate(None, &items, scope).map(Value::from_object);
        }
        let mut out = Vec::with_capacity(items.len());
        for (index, group) in items.iter().enumerate() {
            let (Some(key), Some(members)) = (field(group, "key"), field(group, "items")) else {
                return Err(format!(
                    "item {index}: expected a group ({{key, items}}), got {}",
                    shape(group)
                ));
            };
            let members = list_items(&members).ok_or_else(|| {
                format!(
                    "item {index}: expected the group's items to be a list, got {}",
                    shape(&members)
                )
            })?;
            out.push(Value::from_object(self.aggregate(
                Some((index, key)),
                &members,
                scope,
            )?));
        }
        Ok(list_value(out))
    }

    /// The fields over `items`: of group (index, key), or of the whole list.
    fn aggregate(&self, group: Option<(usize, Value)>, items: &[Value], scope: &Scope) -> Result<Object, String> {
        let mut accumulators = self.start();
        let last = items.len().saturating_sub(1);
        let (index_of_group, key) = group.unzip();
        for (index, item) in items.iter().enumerate() {
            let pass = Pass::Item { last: index == last };
            self.add(&mut accumulators, pass, index_of_group, item, index, scope)?;
        }
        Ok(self.finish(key, accumulators, items.len()))
    }

    /// The running values of a new group (or of the whole list).
    pub(crate) fn start(&self) -> Vec<Accumulator> {
        self.fields
            .iter()
            .map(|field| Accumulator::new(field.function))
            .collect()
    }

    /// True when a field reads the last item (`last(e)`), which a running aggregate evaluates
    /// once the group is complete.
    pub(crate) fn reads_last(&self) -> bool {
        self.fields.iter().any(|field| field.function == Function::Last)
    }

    /// Adds item `index` of `group` (`None` for a whole list) to the running values: in
    /// `pass`, the fields it concerns.
    pub(crate) fn add(
        &self,
        accumulators: &mut [Accumulator],
        pass: Pass,
        group: Option<usize>,
        item: &Value,
        index: usize,
        scope: &Scope,
    ) -> Result<(), String> {
        let mut cx = ItemCx::new(scope, item, index);
        for (field, accumulator) in self.fields.iter().zip(accumulators) {
            let Some(argument) = &field.argument else {
                continue;
            };
            let wanted = match (pass, field.function) {
                (Pass::Item { .. }, Function::First) => index == 0,
                (Pass::Item { last }, Function::Last) => last,
                (Pass::Item { .. }, _) => true,
                (Pass::Last, function) => function == Function::Last,
            };
            if !wanted {
                continue;
            }
            let at = |message: String| match group {
                Some(group) => format!("group {group}, item {index}: {message}"),
                None => format!("item {index}: {message}"),
            };
            let value = argument.eval_defined(&mut cx).map_err(|error| at(error.message))?;
            accumulator
                .add(value)
                .map_err(|message| at(format!("`{}`: {message}", field.call)))?;
        }
        Ok(())
    }

    /// The fields' values over `count` items, after the group's `key` when there is one.
    pub(crate) fn finish(&self, key: Option<Value>, accumulators: Vec<Accumulator>, count: usize) -> Object {
        let mut object = Object::with_capacity(self.fields.len() + 1);
        for (field, accumulator) in self.fields.iter().zip(accumulators) {
            object.insert(field.name.clone(), accumulator.finish(count));
        }
        if let Some(key) = key {
            // First, and over a field also named `key`.
            object.shift_insert(0, Value::from("key"), key);
        }
        object
    }
}

/// Which fields of an aggregate one item feeds.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Pass {
    /// Every field but `first` (only item 0) and `last` (only when `last` is true).
    Item { last: bool },
    /// Only the `last(e)` fields: a group's last item, once the group is complete.
    Last,
}

/// True for `{key, items}` with `items` a list: what `group_by` makes.
fn is_group(value: &Value) -> bool {
    let Some(object) = object_entries(value) else {
        return false;
    };
    object.len() == 2
        && object.contains_key(&Value::from("key"))
        && object
            .get(&Value::from("items"))
            .is_some_and(|items| matches!(items.kind(), ValueKind::Seq | ValueKind::Iterable))
}

/// `sum(item.qty)` → (`Sum`, the compiled `item.qty`).
fn compile_call(source: &str) -> Result<(Function, Option<ItemExpr>), CompileError> {
    let call = flowrun_expr::analysis::single_expression(source)
        .unwrap_or(source)
        .trim();
    let wrong = |message: String| CompileError {
        message,
        range: None,
        help: Some(format!(
            "an aggregate is one of {FUNCTIONS}, with `e` an expression over `item`"
        )),
    };
    let Some((name, rest)) = call.split_once('(') else {
        return Err(wrong(format!("`{call}` is not an aggregate call")));
    };
    let Some(argument) = rest.strip_suffix(')') else {
        return Err(wrong(format!("`{call}` is not an aggregate call")));
    };
    let function = match name.trim() {
        "count" => Function::Count,
        "sum" => Function::Sum,
        "min" => Function::Min,
        "max" => Function::Max,
        "avg" => Function::Avg,
        "first" => Function::First,
        "last" => Function::Last,
        "list" => Function::List,
        other => return Err(wrong(format!("unknown aggregate function `{other}`"))),
    };
    let argument = argument.trim();
    match (function, argument.is_empty()) {
        (Function::Count, true) => Ok((function, None)),
        (Function::Count, false) => Err(wrong("`count()` takes no argument".to_owned())),
        (_, true) => Err(wrong(format!("`{}(e)` needs an expression", name.trim()))),
        (_, false) => {
            // Error ranges point into the whole string as written.
            let offset = argument.as_ptr() as usize - source.as_ptr() as usize;
            ItemExpr::compile(argument)
                .map(|compiled| (function, Some(compiled)))
                .map_err(|mut error| {
                    error.range = error.range.map(|range| range.start + offset..range.end + offset);
                    error
                })
        }
    }
}

/// The running value of one aggregate.
pub(crate) enum Accumulator {
    Count,
    Sum { int: i128, float: f64, any_float: bool },
    Avg { total: f64, count: usize },
    Min(Option<Value>),
    Max(Option<Value>),
    First(Option<Value>),
    Last(Option<Value>),
    List(Vec<Value>),
}

impl Accumulator {
    fn new(function: Function) -> Accumulator {
        match function {
            Function::Count => Accumulator::Count,
            Function::Sum => Accumulator::Sum {
                int: 0,
                float: 0.0,
                any_float: false,
            },
            Function::Avg => Accumulator::Avg { total: 0.0, count: 0 },
            Function::Min => Accumulator::Min(None),
            Function::Max => Accumulator::Max(None),
            Function::First => Accumulator::First(None),
            Function::Last => Accumulator::Last(None),
            Function::List => Accumulator::List(Vec::new()),
        }
    }

    /// Adds one item's value. `sum`, `avg`, `min` and `max` skip nulls.
    fn add(&mut self, value: Value) -> Result<(), String> {
        let skips_null = matches!(
            self,
            Accumulator::Sum { .. } | Accumulator::Avg { .. } | Accumulator::Min(_) | Accumulator::Max(_)
        );
        if skips_null && value.is_none() {
            return Ok(());
        }
        match self {
            Accumulator::Count => {}
            Accumulator::Sum { int, float, any_float } => match number(&value)? {
                Number::Int(add) => match int.checked_add(add) {
                    Some(sum) => *int = sum,
                    None => {
                        *any_float = true;
                        *float += add as f64;
                    }
                },
                Number::Float(add) => {
                    *any_float = true;
                    *float += add;
                }
            },
            Accumulator::Avg { total, count } => {
                *total += match number(&value)? {
                    Number::Int(add) => add as f64,
                    Number::Float(add) => add,
                };
                *count += 1;
            }
            Accumulator::Min(best) => {
                if best.as_ref().is_none_or(|best| compare(&value, best).is_lt()) {
                    *best = Some(value);
                }
            }
            Accumulator::Max(best) => {
                if best.as_ref().is_none_or(|best| compare(&value, best).is_gt()) {
                    *best = Some(value);
                }
            }
            Accumulator::First(first) => {
                if first.is_none() {
                    *first = Some(value);
                }
            }
            Accumulator::Last(last) => *last = Some(value),
            Accumulator::List(values) => values.push(value),
        }
        Ok(())
    }

    fn finish(self, count: usize) -> Value {
        match self {
            Accumulator::Count => Value::from(count),
            Accumulator::Sum { int, float, any_float } => {
                if any_float {
                    Value::from(int as f64 + float)
                } else {
                    i64::try_from(int).map_or_else(|_| Value::from(int), Value::from)
                }
            }
            Accumulator::Avg { total, count } => {
                if count == 0 {
                    Value::from(())
                } else {
                    Value::from(total / count as f64)
                }
            }
            Accumulator::Min(value)
            | Accumulator::Max(value)
            | Accumulator::First(value)
            | Accumulator::Last(value) => value.unwrap_or_else(|| Value::from(())),
            Accumulator::List(values) => list_value(values),
        }
    }
}

enum Number {
    Int(i128),
    Float(f64),
}

fn number(value: &Value) -> Result<Number, String> {
    if value.kind() != ValueKind::Number {
        return Err(expected("a number", value));
    }
    if value.is_integer()
        && let Ok(int) = i128::try_from(value.clone())
    {
        return Ok(Number::Int(int));
    }
    f64::try_from(value.clone())
        .map(Number::Float)
        .map_err(|_| expected("a number", value))
}
