//! Runs of per-item ops, item by item.
//!
//! `filter`, `map`, `set`, `rename`, `remove`, `dedupe`, `limit` and `skip` each look at one
//! item at a time. A run of them in a row is fused: each item goes through the whole run before
//! the next one is read, so no list is built between two of them, and an input item is
//! released once it has passed (when the pipeline holds the only reference to it). The run
//! ends in a sink: a list, the groups of a `group_by`, or, for `group_by` directly followed
//! by `aggregate`, one running aggregate per group, so the grouped items are never held.
//!
//! What each op computes is unchanged, `index` included (the item's position in that op's
//! own input). What changes is the order of work: with two failing items, the error reported
//! is the first in item order rather than the first in op order (docs/transforms.md).

use std::collections::HashSet;

use flowrun_expr::{Scope, Value};
use indexmap::IndexMap;
use indexmap::map::Entry;

use super::group::{Accumulator, Aggregate, GroupBy, Pass, group_value};
use super::key::Key;
use super::order::Dedupe;
use super::reshape::{Map, Remove, Rename, Set};
use super::select::Filter;
use super::{Data, Op};

/// An error of the op at this index of the pipeline.
pub(crate) type StreamError = (usize, String);

/// One per-item op of a run, with its state for this run.
enum Stage<'a> {
    Filter(&'a Filter),
    Map(&'a Map),
    Set(&'a Set),
    Rename(&'a Rename),
    Remove(&'a Remove),
    Dedupe(&'a Dedupe, HashSet<Key>),
    Limit(usize),
    Skip(usize),
}

impl<'a> Stage<'a> {
    /// The stage of a per-item op; `None` for an op that needs the whole list.
    fn of(op: &'a Op) -> Option<Stage<'a>> {
        Some(match op {
            Op::Filter(filter) => Stage::Filter(filter),
            Op::Map(map) => Stage::Map(map),
            Op::Set(set) => Stage::Set(set),
            Op::Rename(rename) => Stage::Rename(rename),
            Op::Remove(remove) => Stage::Remove(remove),
            Op::Dedupe(dedupe) => Stage::Dedupe(dedupe, HashSet::new()),
            Op::Limit(count) => Stage::Limit(*count),
            Op::Skip(count) => Stage::Skip(*count),
            _ => return None,
        })
    }

    /// True for ops that only drop items: what they pass on are still `group_by`'s groups.
    fn keeps_groups(&self) -> bool {
        matches!(
            self,
            Stage::Filter(_) | Stage::Dedupe(..) | Stage::Limit(_) | Stage::Skip(_)
        )
    }

    /// Item `index` of this op's input: what it passes on, or `None` when it drops it.
    fn push(&mut self, item: Value, index: usize, scope: &Scope) -> Result<Option<Value>, String> {
        Ok(match self {
            Stage::Filter(filter) => filter.keeps(&item, index, scope)?.then_some(item),
            Stage::Map(map) => Some(map.apply(&item, index, scope)?),
            Stage::Set(set) => Some(set.apply(&item, index, scope)?),
            Stage::Rename(rename) => Some(rename.apply(&item, index)?),
            Stage::Remove(remove) => Some(remove.apply(&item, index)?),
            Stage::Dedupe(dedupe, seen) => dedupe.is_first(seen, &item, index, scope)?.then_some(item),
            Stage::Limit(count) => (index < *count).then_some(item),
            Stage::Skip(count) => (index >= *count).then_some(item),
        })
    }
}

/// Where the items of a run end up.
enum Sink<'a> {
    List(Vec<Value>),
    Groups(&'a GroupBy, IndexMap<Key, Vec<Value>>),
    Aggregates(&'a GroupBy, &'a Aggregate, IndexMap<Key, Running>),
}

/// One group's running aggregate.
struct Running {
    accumulators: Vec<Accumulator>,
    count: usize,
    /// The group's last item so far, kept only when a field is `last(e)`.
    last: Option<Value>,
}

/// A fused run found at the start of some ops: its per-item stages and its sink.
pub(crate) struct Run<'a> {
    /// The pipeline index of the run's first op.
    first: usize,
    stages: Vec<Stage<'a>>,
    sink: Sink<'a>,
    /// How many ops of the pipeline the run stands for.
    pub(crate) len: usize,
}

impl<'a> Run<'a> {
    /// The run starting with `ops[0]` (pipeline index `first`), or `None` when that op needs
    /// the whole list (then it runs on its own).
    pub(crate) fn at(first: usize, ops: &'a [Op]) -> Option<Run<'a>> {
        let stages: Vec<Stage<'a>> = ops.iter().map_while(Stage::of).collect();
        let (sink, sink_ops) = match (ops.get(stages.len()), ops.get(stages.len() + 1)) {
            (Some(Op::GroupBy(group_by)), Some(Op::Aggregate(aggregate))) => {
                (Sink::Aggregates(group_by, aggregate, IndexMap::new()), 2)
            }
            (Some(Op::GroupBy(group_by)), _) => (Sink::Groups(group_by, IndexMap::new()), 1),
            _ if stages.is_empty() => return None,
            _ => (Sink::List(Vec::new()), 0),
        };
        Some(Run {
            first,
            len: stages.len() + sink_ops,
            stages,
            sink,
        })
    }

    /// Runs every item of `data` through the stages into the sink.
    pub(crate) fn run(mut self, data: Data, scope: &Scope) -> Result<Data, StreamError> {
        let groups_in = matches!(data, Data::List { groups: true, .. });
        let items = data.into_items().map_err(|message| (self.first, message))?;
        // How many items each stage has received: the `index` it sees.
        let mut received = vec![0usize; self.stages.len()];
        let mut sunk = 0;
        'items: for item in items {
            let mut item = item;
            for (offset, stage) in self.stages.iter_mut().enumerate() {
                let index = received[offset];
                received[offset] += 1;
                match stage.push(item, index, scope) {
                    Ok(Some(next)) => item = next,
                    Ok(None) => continue 'items,
                    Err(message) => return Err((self.first + offset, message)),
                }
            }
            self.sink_one(item, sunk, scope)?;
            sunk += 1;
        }
        let keeps_groups = groups_in && self.stages.iter().all(Stage::keeps_groups);
        self.finish(keeps_groups, scope)
    }

    /// The pipeline index of the sink's first op.
    fn sink_index(&self) -> usize {
        self.first + self.stages.len()
    }

    fn sink_one(&mut self, item: Value, index: usize, scope: &Scope) -> Result<(), StreamError> {
        let sink_index = self.sink_index();
        match &mut self.sink {
            Sink::List(items) => items.push(item),
            Sink::Groups(group_by, groups) => {
                let key = group_by
                    .key(&item, index, scope)
                    .map_err(|message| (sink_index, message))?;
                groups.entry(key).or_default().push(item);
            }
            Sink::Aggregates(group_by, aggregate, groups) => {
                let key = group_by
                    .key(&item, index, scope)
                    .map_err(|message| (sink_index, message))?;
                // The group's position (in order of first appearance) names it in errors.
                let (group, running) = match groups.entry(key) {
                    Entry::Occupied(entry) => (entry.index(), entry.into_mut()),
                    Entry::Vacant(entry) => (
                        entry.index(),
                        entry.insert(Running {
                            accumulators: aggregate.start(),
                            count: 0,
                            last: None,
                        }),
                    ),
                };
                let pass = Pass::Item { last: false };
                aggregate
                    .add(
                        &mut running.accumulators,
                        pass,
                        Some(group),
                        &item,
                        running.count,
                        scope,
                    )
                    .map_err(|message| (sink_index + 1, message))?;
                running.count += 1;
                if aggregate.reads_last() {
                    running.last = Some(item);
                }
            }
        }
        Ok(())
    }

    fn finish(self, keeps_groups: bool, scope: &Scope) -> Result<Data, StreamError> {
        let sink_index = self.sink_index();
        Ok(match self.sink {
            Sink::List(items) => Data::List {
                items,
                groups: keeps_groups,
            },
            Sink::Groups(_, groups) => Data::List {
                items: groups.into_iter().map(|(key, items)| group_value(key, items)).collect(),
                groups: true,
            },
            Sink::Aggregates(_, aggregate, groups) => {
                let mut out = Vec::with_capacity(groups.len());
                for (group, (key, mut running)) in groups.into_iter().enumerate() {
                    if let Some(last) = running.last.take() {
                        aggregate
                            .add(
                                &mut running.accumulators,
                                Pass::Last,
                                Some(group),
                                &last,
                                running.count.saturating_sub(1),
                                scope,
                            )
                            .map_err(|message| (sink_index + 1, message))?;
                    }
                    let object = aggregate.finish(Some(key.0), running.accumulators, running.count);
                    out.push(Value::from_object(object));
                }
                Data::Value(super::item::list_value(out))
            }
        })
    }
}
