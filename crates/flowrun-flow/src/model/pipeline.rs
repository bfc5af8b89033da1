//! Transform steps: a built-in pipeline of operations over a list.

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A transform step's body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub struct Transform {
    /// The data to transform (a template); without it the pipeline reads `trigger`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<Value>,
    /// Operations applied in order, each to the previous result.
    pub pipeline: Vec<PipelineOp>,
}

/// One pipeline operation: a mapping with one key naming it, or the bare word `flatten`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum PipelineOp {
    /// A JSONPath (RFC 9535) query; returns the node list.
    Select(String),
    /// Keep the items for which the expression is true.
    Filter(String),
    /// Replace each item by this template (usually a mapping of templates).
    Map(Value),
    /// Add or overwrite keys on each item.
    Set(IndexMap<String, Value>),
    /// Rename keys of each item: `{ old: new }`.
    Rename(IndexMap<String, String>),
    /// Remove keys from each item.
    Remove(Vec<String>),
    /// Sort, stably; nulls last in both orders. A bare expression sorts ascending by it.
    Sort(Sort),
    /// Keep the first item of each value of the expression.
    Dedupe(String),
    /// Group by the expression: `[{key, items}]` in order of first appearance.
    GroupBy(String),
    /// Aggregate each group (or the whole list): `{ total: "sum(item.qty)", lines: "count()" }`.
    Aggregate(IndexMap<String, String>),
    /// Split into lists of this many items.
    Chunk(#[schemars(range(min = 1))] u32),
    /// Flatten one level; elements that are not lists are kept.
    Flatten,
    /// Join each item with records of another list.
    Merge(Merge),
    /// Keep the first n items.
    Limit(u64),
    /// Drop the first n items.
    Skip(u64),
}

/// `sort:` as a bare expression or `{by, order}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum Sort {
    By(String),
    Spec(SortSpec),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub struct SortSpec {
    /// One expression over `item`, or a list of them for several keys.
    pub by: SortKeys,
    /// `asc` (default) or `desc`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order: Option<SortOrder>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum SortKeys {
    One(String),
    Many(Vec<String>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SortOrder {
    Asc,
    Desc,
}

/// `merge: {with, on, how, as}`: a join of each item with a second list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub struct Merge {
    /// The right-hand list (a template).
    pub with: Value,
    /// The key both sides share.
    pub on: String,
    /// `left` (default) keeps items without a match; `inner` drops them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub how: Option<JoinKind>,
    /// Put every match as a list under this key instead of adding the first match's fields.
    #[serde(default, rename = "as", skip_serializing_if = "Option::is_none")]
    pub into: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum JoinKind {
    Left,
    Inner,
}
