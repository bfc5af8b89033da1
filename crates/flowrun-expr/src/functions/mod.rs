//! The functions, filters and tests flow templates can call beyond minijinja's own:
//! flow-spec "Templates and expressions" and docs/expressions.md.

use minijinja::Environment;

use crate::analysis::CallKind;

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

/// flowrun's filters.
pub const FILTERS: &[&str] = &[];

/// flowrun's functions.
pub const FUNCTIONS: &[&str] = &[];

/// Every name of this kind a template may call.
pub fn known(kind: CallKind) -> &'static [&'static str] {
    static FILTER_NAMES: std::sync::LazyLock<Vec<&'static str>> =
        std::sync::LazyLock::new(|| [BUILTIN_FILTERS, FILTERS].concat());
    static FUNCTION_NAMES: std::sync::LazyLock<Vec<&'static str>> =
        std::sync::LazyLock::new(|| [BUILTIN_FUNCTIONS, FUNCTIONS].concat());
    match kind {
        CallKind::Filter => &FILTER_NAMES,
        CallKind::Test => BUILTIN_TESTS,
        CallKind::Function => &FUNCTION_NAMES,
    }
}

/// True for a name that is a global of the environment (a function), not a context name.
pub fn is_global(name: &str) -> bool {
    known(CallKind::Function).contains(&name)
}

/// Adds flowrun's functions and filters to the environment.
pub fn register(env: &mut Environment<'static>) {
    let _ = env;
}
