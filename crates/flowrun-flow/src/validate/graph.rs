//! The dependency graph of a flow's steps: edges from `needs` and from template references.

use std::collections::{HashMap, VecDeque};

use petgraph::algo::tarjan_scc;
use petgraph::graph::{DiGraph, NodeIndex};
use serde::Serialize;

/// Why one step waits for another.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EdgeKind {
    /// Listed in `needs`.
    Needs,
    /// The step's templates read the other step.
    Reference,
}

/// Steps as nodes (by index into the flow's `steps`), edges from dependency to dependent.
#[derive(Debug, Clone, Default)]
pub struct StepGraph {
    pub graph: DiGraph<String, EdgeKind>,
}

impl StepGraph {
    pub fn new(step_ids: &[&str]) -> StepGraph {
        let mut graph = DiGraph::new();
        for id in step_ids {
            graph.add_node((*id).to_owned());
        }
        StepGraph { graph }
    }

    /// `dependent` waits for `dependency`; a second reason for the same edge is not added.
    pub fn add_edge(&mut self, dependency: usize, dependent: usize, kind: EdgeKind) {
        let (from, to) = (NodeIndex::new(dependency), NodeIndex::new(dependent));
        match self.graph.find_edge(from, to) {
            Some(edge) if kind == EdgeKind::Needs => self.graph[edge] = EdgeKind::Needs,
            Some(_) => {}
            None => {
                self.graph.add_edge(from, to, kind);
            }
        }
    }

    /// Each cycle as step indexes in order, the first step repeated at the end (`a -> b -> a`).
    pub fn cycles(&self) -> Vec<Vec<usize>> {
        let mut cycles = Vec::new();
        for component in tarjan_scc(&self.graph) {
            let is_cycle = component.len() > 1 || self.graph.find_edge(component[0], component[0]).is_some();
            if !is_cycle {
                continue;
            }
            let Some(&start) = component.iter().min() else { continue };
            cycles.push(self.walk_cycle(start, &component));
        }
        cycles.sort();
        cycles
    }

    /// The shortest walk inside one strongly connected component from `start` back to it
    /// (breadth first, lowest index first, so the reported cycle is stable).
    fn walk_cycle(&self, start: NodeIndex, component: &[NodeIndex]) -> Vec<usize> {
        let mut came_from: HashMap<NodeIndex, NodeIndex> = HashMap::new();
        let mut queue = VecDeque::from([start]);
        while let Some(current) = queue.pop_front() {
            let mut next: Vec<NodeIndex> = self
                .graph
                .neighbors(current)
                .filter(|next| component.contains(next))
                .collect();
            next.sort();
            for node in next {
                if node == start {
                    let mut middle = Vec::new();
                    let mut at = current;
                    while at != start {
                        middle.push(at.index());
                        at = came_from[&at];
                    }
                    middle.reverse();
                    let mut path = vec![start.index()];
                    path.extend(middle);
                    path.push(start.index());
                    return path;
                }
                if let std::collections::hash_map::Entry::Vacant(entry) = came_from.entry(node) {
                    entry.insert(current);
                    queue.push_back(node);
                }
            }
        }
        vec![start.index(), start.index()]
    }

    /// Edges as (dependency, dependent, kind), in a stable order.
    pub fn edges(&self) -> Vec<(usize, usize, EdgeKind)> {
        let mut edges: Vec<_> = self
            .graph
            .edge_indices()
            .filter_map(|edge| {
                let (from, to) = self.graph.edge_endpoints(edge)?;
                Some((from.index(), to.index(), self.graph[edge]))
            })
            .collect();
        edges.sort_by_key(|(from, to, _)| (*to, *from));
        edges
    }
}
