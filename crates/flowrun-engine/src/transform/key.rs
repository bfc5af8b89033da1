//! Keys of `sort`, `dedupe`, `group_by`, `merge` and `min`/`max`: JSON equality for hashing,
//! and the one total order of values.
//!
//! Equality is JSON's: `1` and `1.0` are equal, `true` and `1` are not (minijinja's own
//! equality says they are), objects are equal whatever their key order.
//!
//! Order: numbers (by value, integers and floats together) < strings (by Unicode code point)
//! < booleans (`false` < `true`) < lists (element by element, a prefix first) < objects
//! (entry by entry in their order: key, then value) < null. `sort` places nulls last in
//! both directions itself.

use std::cmp::Ordering;
use std::hash::{Hash, Hasher};

use flowrun_expr::Value;
use minijinja::value::ValueKind;

/// A value as a hash-map key with JSON equality.
#[derive(Debug, Clone)]
pub(crate) struct Key(pub(crate) Value);

impl PartialEq for Key {
    fn eq(&self, other: &Key) -> bool {
        json_eq(&self.0, &other.0)
    }
}

impl Eq for Key {}

impl Hash for Key {
    fn hash<H: Hasher>(&self, state: &mut H) {
        hash_value(&self.0, state);
    }
}

const NUMBER: u8 = 0;
const STRING: u8 = 1;
const LIST: u8 = 3;
const OBJECT: u8 = 4;

fn class(value: &Value) -> u8 {
    match value.kind() {
        ValueKind::Number => NUMBER,
        ValueKind::String => STRING,
        ValueKind::Bool => 2,
        ValueKind::Seq | ValueKind::Iterable => LIST,
        ValueKind::Map => OBJECT,
        ValueKind::None => 6,
        // Bytes and opaque values (no JSON data is one) sort between objects and null.
        _ => 5,
    }
}

fn json_eq(left: &Value, right: &Value) -> bool {
    let class_of_left = class(left);
    if class_of_left != class(right) {
        return false;
    }
    match class_of_left {
        LIST => match (left.try_iter(), right.try_iter()) {
            (Ok(lefts), Ok(rights)) => left.len() == right.len() && lefts.zip(rights).all(|(a, b)| json_eq(&a, &b)),
            _ => left == right,
        },
        OBJECT => {
            if left.len() != right.len() {
                return false;
            }
            let Ok(keys) = left.try_iter() else {
                return left == right;
            };
            keys.into_iter()
                .all(|key| match (entry(left, &key), entry(right, &key)) {
                    (Some(a), Some(b)) => json_eq(&a, &b),
                    _ => false,
                })
        }
        _ => left == right,
    }
}

fn hash_value<H: Hasher>(value: &Value, state: &mut H) {
    let class_of_value = class(value);
    class_of_value.hash(state);
    match class_of_value {
        LIST => {
            if let Ok(items) = value.try_iter() {
                for item in items {
                    hash_value(&item, state);
                }
            }
        }
        // Objects are equal in any key order: only their size is hashed.
        OBJECT => value.len().hash(state),
        _ => value.hash(state),
    }
}

/// The total order of values (module docs).
pub(crate) fn compare(left: &Value, right: &Value) -> Ordering {
    let by_class = class(left).cmp(&class(right));
    if by_class != Ordering::Equal {
        return by_class;
    }
    match class(left) {
        STRING => match (left.as_str(), right.as_str()) {
            (Some(a), Some(b)) => a.cmp(b),
            _ => left.cmp(right),
        },
        LIST => match (left.try_iter(), right.try_iter()) {
            (Ok(lefts), Ok(rights)) => compare_iters(lefts, rights),
            _ => left.cmp(right),
        },
        OBJECT => match (left.try_iter(), right.try_iter()) {
            (Ok(lefts), Ok(rights)) => {
                let lefts = lefts.flat_map(|key| {
                    let found = entry(left, &key).unwrap_or_default();
                    [key, found]
                });
                let rights = rights.flat_map(|key| {
                    let found = entry(right, &key).unwrap_or_default();
                    [key, found]
                });
                compare_iters(lefts, rights)
            }
            _ => left.cmp(right),
        },
        // Numbers (minijinja compares integers and floats by value), booleans, null.
        _ => left.cmp(right),
    }
}

fn compare_iters(mut lefts: impl Iterator<Item = Value>, mut rights: impl Iterator<Item = Value>) -> Ordering {
    loop {
        match (lefts.next(), rights.next()) {
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(a), Some(b)) => {
                let order = compare(&a, &b);
                if order != Ordering::Equal {
                    return order;
                }
            }
        }
    }
}

fn entry(map: &Value, key: &Value) -> Option<Value> {
    map.get_item(key).ok().filter(|found| !found.is_undefined())
}
