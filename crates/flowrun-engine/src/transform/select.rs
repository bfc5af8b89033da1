//! `select` (a JSONPath query, returning the node list) and `filter`.

use flowrun_expr::jsonpath::{self, JsonPath};
use flowrun_expr::{CompileError, Scope, Value};

use super::item::{ItemCx, ItemExpr, at_item};

/// `select: "$[*].Lines[*]"`.
#[derive(Debug)]
pub(crate) struct Select {
    path: JsonPath,
}

impl Select {
    pub(crate) fn compile(source: &str) -> Result<Select, CompileError> {
        Ok(Select {
            path: jsonpath::compile(source.trim())?,
        })
    }

    /// Any value in; the list of the nodes the query selects out (RFC 9535 node list).
    pub(crate) fn run(&self, input: Value) -> Result<Value, String> {
        self.path.query(&input).map_err(|error| error.message)
    }
}

/// `filter: "item.Quantity > 0"`: undefined is false; a lookup on undefined is an error.
#[derive(Debug)]
pub(crate) struct Filter {
    condition: ItemExpr,
}

impl Filter {
    pub(crate) fn compile(source: &str) -> Result<Filter, CompileError> {
        Ok(Filter {
            condition: ItemExpr::compile(source)?,
        })
    }

    /// True when the item passes.
    pub(crate) fn keeps(&self, item: &Value, index: usize, scope: &Scope) -> Result<bool, String> {
        self.condition
            .is_true(&mut ItemCx::new(scope, item, index))
            .map_err(|error| at_item(index, &error))
    }
}
