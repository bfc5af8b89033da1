//! `chunk`, `flatten`, `limit` and `skip`: the list itself reshaped.

use flowrun_expr::Value;

use super::item::{list_items, list_value};

/// Lists of `size` items (the last one shorter).
pub(crate) fn chunk(items: Vec<Value>, size: usize) -> Vec<Value> {
    items.chunks(size).map(|chunk| list_value(chunk.to_vec())).collect()
}

/// One level: the elements of each list element, in order; other elements are kept.
pub(crate) fn flatten(items: Vec<Value>) -> Vec<Value> {
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        match list_items(&item) {
            Some(inner) => out.extend(inner),
            None => out.push(item),
        }
    }
    out
}
