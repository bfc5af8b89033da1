//! `sort` and `dedupe`.

use std::cmp::Ordering;
use std::collections::HashSet;

use flowrun_expr::{CompileError, Scope, Value};
use flowrun_flow::model::{Sort as SortModel, SortKeys, SortOrder};

use super::OpError;
use super::item::{ItemCx, ItemExpr, at_item};
use super::key::{Key, compare};

/// `sort: {by, order}`: stable, by one or several keys; nulls last in both orders; an
/// undefined key is an error.
#[derive(Debug)]
pub(crate) struct Sort {
    keys: Vec<ItemExpr>,
    descending: bool,
}

impl Sort {
    pub(crate) fn compile(sort: &SortModel) -> Result<Sort, Vec<OpError>> {
        // Each key's source and its path in the op's body.
        let (sources, order): (Vec<(&str, Vec<String>)>, Option<SortOrder>) = match sort {
            SortModel::By(source) => (vec![(source.as_str(), Vec::new())], None),
            SortModel::Spec(spec) => match &spec.by {
                SortKeys::One(source) => (vec![(source.as_str(), vec!["by".to_owned()])], spec.order),
                SortKeys::Many(sources) => (
                    sources
                        .iter()
                        .enumerate()
                        .map(|(position, source)| (source.as_str(), vec!["by".to_owned(), position.to_string()]))
                        .collect(),
                    spec.order,
                ),
            },
        };
        let mut keys = Vec::with_capacity(sources.len());
        let mut errors = Vec::new();
        for (source, path) in sources {
            match ItemExpr::compile(source) {
                Ok(key) => keys.push(key),
                Err(error) => errors.push((path, error)),
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(Sort {
            keys,
            descending: order == Some(SortOrder::Desc),
        })
    }

    pub(crate) fn run(&self, items: Vec<Value>, scope: &Scope) -> Result<Vec<Value>, String> {
        let width = self.keys.len();
        let mut keys = Vec::with_capacity(items.len() * width);
        for (index, item) in items.iter().enumerate() {
            let mut cx = ItemCx::new(scope, item, index);
            for key in &self.keys {
                keys.push(key.eval_defined(&mut cx).map_err(|error| at_item(index, &error))?);
            }
        }
        let mut order: Vec<usize> = (0..items.len()).collect();
        // `sort_by` is stable.
        order.sort_by(|&a, &b| {
            let (left, right) = (&keys[a * width..(a + 1) * width], &keys[b * width..(b + 1) * width]);
            left.iter()
                .zip(right)
                .map(|(left, right)| sort_order(left, right, self.descending))
                .find(|order| *order != Ordering::Equal)
                .unwrap_or(Ordering::Equal)
        });
        Ok(order.into_iter().map(|index| items[index].clone()).collect())
    }
}

/// The order of two keys: nulls last whatever the direction.
pub(crate) fn sort_order(left: &Value, right: &Value, descending: bool) -> Ordering {
    match (left.is_none(), right.is_none()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Greater,
        (false, true) => Ordering::Less,
        (false, false) => {
            let order = compare(left, right);
            if descending { order.reverse() } else { order }
        }
    }
}

/// `dedupe: "item.sku"`: keep the first item of each key; an undefined key is an error.
#[derive(Debug)]
pub(crate) struct Dedupe {
    key: ItemExpr,
}

impl Dedupe {
    pub(crate) fn compile(source: &str) -> Result<Dedupe, CompileError> {
        Ok(Dedupe {
            key: ItemExpr::compile(source)?,
        })
    }

    /// True when the item's key is not in `seen` yet (it is added).
    pub(crate) fn is_first(
        &self,
        seen: &mut HashSet<Key>,
        item: &Value,
        index: usize,
        scope: &Scope,
    ) -> Result<bool, String> {
        let key = self
            .key
            .eval_defined(&mut ItemCx::new(scope, item, index))
            .map_err(|error| at_item(index, &error))?;
        Ok(seen.insert(Key(key)))
    }
}
