//! The functions, filters and tests flow templates can call beyond minijinja's own:
//! flow-spec "Templates and expressions" and docs/expressions.md.
//!
//! One module per family: [`dates`], [`encoding`], [`hashing`], [`data`], [`text`]. Each
//! has a `register` that adds its names; the lists below must name exactly what is
//! registered (a test checks it), because [`crate::analysis`] rejects any other name at
//! compile time.
//!
//! Every function that takes one main value is also a filter (`b64encode(x)` is
//! `x | b64encode`). Errors are `InvalidOperation`s whose detail starts with the function's
//! name and describes arguments by their kind, never by their value: an argument may be a
//! secret.

use std::collections::HashMap;
use std::fmt;
use std::sync::Mutex;

use minijinja::value::ValueKind;
use minijinja::{Environment, Error, ErrorKind, State, Value};

use crate::analysis::CallKind;

mod data;
mod dates;
mod encoding;
mod hashing;
mod text;

/// minijinja's built-in filters that flows may use (`safe`, `escape` and the HTML helpers are
/// left out: flows build data, not HTML).
pub const BUILTIN_FILTERS: &[&str] = &[
    "abs",
    "attr",
    "batch",
    "bool",
    "capitalize",
    "count",
    "d",
    "default",
    "dictsort",
    "first",
    "float",
    "format",
    "groupby",
    "indent",
    "int",
    "items",
    "join",
    "last",
    "length",
    "lines",
    "list",
    "lower",
    "map",
    "max",
    "min",
    "reject",
    "rejectattr",
    "replace",
    "reverse",
    "round",
    "select",
    "selectattr",
    "slice",
    "sort",
    "split",
    "string",
    "sum",
    "title",
    "trim",
    "unique",
    "upper",
    "chain",
    "zip",
];

/// minijinja's built-in tests.
pub const BUILTIN_TESTS: &[&str] = &[
    "defined",
    "undefined",
    "none",
    "boolean",
    "odd",
    "even",
    "divisibleby",
    "number",
    "integer",
    "int",
    "float",
    "string",
    "sequence",
    "iterable",
    "mapping",
    "startingwith",
    "endingwith",
    "lower",
    "upper",
    "sameas",
    "eq",
    "equalto",
    "ne",
    "lt",
    "lessthan",
    "le",
    "gt",
    "greaterthan",
    "ge",
    "in",
    "true",
    "false",
    "filter",
    "test",
];

/// minijinja's built-in functions (`debug` is removed: it dumps the context).
pub const BUILTIN_FUNCTIONS: &[&str] = &["range", "dict", "namespace"];

/// flowrun's filters: every function below that takes one main value, which comes first.
pub const FILTERS: &[&str] = &[
    // data
    "jsonpath",
    "keys",
    "values",
    "pick",
    "omit",
    "get",
    "compact",
    "flatten",
    "coalesce",
    "if_empty",
    "merge",
    "to_number",
    // dates
    "date",
    "parse_date",
    "date_add",
    "timestamp",
    "from_timestamp",
    // encoding
    "to_json",
    "from_json",
    "b64encode",
    "b64decode",
    "url_encode",
    "url_decode",
    // hashing
    "sha256",
    "sha1",
    "md5",
    "hmac_sha256",
    // text
    "regex_replace",
    "regex_search",
    "regex_findall",
    "slugify",
    "strip_html",
];

/// flowrun's functions: the filters above, plus those without a main value (`now()`,
/// `uuid()`) and `max`, `min`, `sum` (whose filters are minijinja's).
pub const FUNCTIONS: &[&str] = &[
    // data
    "jsonpath",
    "keys",
    "values",
    "pick",
    "omit",
    "get",
    "compact",
    "flatten",
    "coalesce",
    "if_empty",
    "merge",
    "to_number",
    "max",
    "min",
    "sum",
    // dates
    "now",
    "date",
    "parse_date",
    "date_add",
    "timestamp",
    "from_timestamp",
    // encoding
    "to_json",
    "from_json",
    "b64encode",
    "b64decode",
    "url_encode",
    "url_decode",
    // hashing
    "sha256",
    "sha1",
    "md5",
    "hmac_sha256",
    "uuid",
    // text
    "regex_replace",
    "regex_search",
    "regex_findall",
    "slugify",
    "strip_html",
];

/// flowrun's tests (`x is empty`, `x is regex_match("^PO-")`).
pub const TESTS: &[&str] = &["empty", "regex_match"];

/// Every name of this kind a template may call.
pub fn known(kind: CallKind) -> &'static [&'static str] {
    static FILTER_NAMES: std::sync::LazyLock<Vec<&'static str>> =
        std::sync::LazyLock::new(|| [BUILTIN_FILTERS, FILTERS].concat());
    static TEST_NAMES: std::sync::LazyLock<Vec<&'static str>> =
        std::sync::LazyLock::new(|| [BUILTIN_TESTS, TESTS].concat());
    static FUNCTION_NAMES: std::sync::LazyLock<Vec<&'static str>> =
        std::sync::LazyLock::new(|| [BUILTIN_FUNCTIONS, FUNCTIONS].concat());
    match kind {
        CallKind::Filter => &FILTER_NAMES,
        CallKind::Test => &TEST_NAMES,
        CallKind::Function => &FUNCTION_NAMES,
    }
}

/// True for a name that is a global of the environment (a function), not a context name.
pub fn is_global(name: &str) -> bool {
    known(CallKind::Function).contains(&name)
}

/// Adds flowrun's functions, filters and tests to the environment.
pub fn register(env: &mut Environment<'static>) {
    data::register(env);
    dates::register(env);
    encoding::register(env);
    hashing::register(env);
    text::register(env);
}

/// Registers `f` as both a filter and a function named `name`.
fn add_filter_and_function<F, Rv, Args>(env: &mut Environment<'static>, name: &'static str, f: F)
where
    F: minijinja::functions::Function<Rv, Args> + Clone,
    Rv: minijinja::value::FunctionResult,
    Args: for<'a> minijinja::value::FunctionArgs<'a>,
{
    env.add_filter(name, f.clone());
    env.add_function(name, f);
}

/// The error of function `function`: `"{function}: {detail}"`. The detail must describe
/// arguments by their kind ([`Kind`]), never quote them.
fn failure(function: &str, detail: impl fmt::Display) -> Error {
    Error::new(ErrorKind::InvalidOperation, format!("{function}: {detail}"))
}

/// A value's kind for error messages: "a string", "a list", "undefined"… never the value.
struct Kind<'a>(&'a Value);

impl fmt::Display for Kind<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self.0.kind() {
            ValueKind::Undefined => "undefined",
            ValueKind::None => "none",
            ValueKind::Bool => "a boolean",
            ValueKind::Number => "a number",
            ValueKind::String => "a string",
            ValueKind::Bytes => "bytes",
            ValueKind::Seq | ValueKind::Iterable => "a list",
            ValueKind::Map => "a map",
            _ => "an object",
        })
    }
}

/// The text of a string value; bytes that are UTF-8 count as text too.
fn expect_str<'a>(function: &str, what: &str, value: &'a Value) -> Result<&'a str, Error> {
    if let Some(text) = value.as_str() {
        return Ok(text);
    }
    if let Some(text) = value.as_bytes().and_then(|bytes| std::str::from_utf8(bytes).ok()) {
        return Ok(text);
    }
    Err(failure(
        function,
        format_args!("{what} must be a string, got {}", Kind(value)),
    ))
}

/// The bytes of a string or bytes value.
fn expect_bytes<'a>(function: &str, what: &str, value: &'a Value) -> Result<&'a [u8], Error> {
    if let Some(text) = value.as_str() {
        return Ok(text.as_bytes());
    }
    if let Some(bytes) = value.as_bytes() {
        return Ok(bytes);
    }
    Err(failure(
        function,
        format_args!("{what} must be a string, got {}", Kind(value)),
    ))
}

/// The items of a list value.
fn expect_list(function: &str, what: &str, value: &Value) -> Result<Vec<Value>, Error> {
    if matches!(value.kind(), ValueKind::Seq | ValueKind::Iterable)
        && let Ok(items) = value.try_iter()
    {
        return Ok(items.collect());
    }
    Err(failure(
        function,
        format_args!("{what} must be a list, got {}", Kind(value)),
    ))
}

/// The entries of a map value, in order.
fn expect_map(function: &str, what: &str, value: &Value) -> Result<Vec<(Value, Value)>, Error> {
    if let Some(entries) = crate::shared::shared_object_entries(value) {
        return Ok(entries);
    }
    if value.kind() == ValueKind::Map
        && let Ok(keys) = value.try_iter()
    {
        return Ok(keys
            .map(|key| {
                let item = value.get_item(&key).unwrap_or_default();
                (key, item)
            })
            .collect());
    }
    Err(failure(
        function,
        format_args!("{what} must be a map, got {}", Kind(value)),
    ))
}

/// Charges fuel for work proportional to `bytes` of input: one unit per 64 bytes, as one
/// instruction is worth about 64 bytes of memory ([`crate::environment::FUEL`]).
fn charge(state: &State<'_, '_>, bytes: usize) -> Result<(), Error> {
    state.consume_fuel(u64::try_from(bytes / 64).unwrap_or(u64::MAX))
}

/// A small map of compiled things (regexes, JSONPaths) by their source, shared by all
/// evaluations. Bounded: when full it is emptied, so hostile templates cannot grow it without
/// limit, and honest flows (a few dozen distinct patterns) compile each pattern once.
struct BoundedCache<V> {
    entries: Mutex<HashMap<String, V>>,
    capacity: usize,
}

impl<V: Clone> BoundedCache<V> {
    fn new(capacity: usize) -> BoundedCache<V> {
        BoundedCache {
            entries: Mutex::new(HashMap::new()),
            capacity,
        }
    }

    /// The cached value for `source`, or `compile(source)`'s, cached when it succeeds.
    fn get_or_compile<E>(&self, source: &str, compile: impl FnOnce(&str) -> Result<V, E>) -> Result<V, E> {
        if let Some(found) = self.lock().get(source) {
            return Ok(found.clone());
        }
        // Compiled outside the lock: two threads may both compile a new pattern, once.
        let compiled = compile(source)?;
        let mut entries = self.lock();
        if entries.len() >= self.capacity {
            entries.clear();
        }
        entries.insert(source.to_owned(), compiled.clone());
        Ok(compiled)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, V>> {
        // A panic while holding the lock cannot leave the map inconsistent: use it anyway.
        self.entries.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests;
