//! The names a template can read: `inputs`, `trigger`, `steps`, `item`, `index`, `cursor`,
//! `env`, `secrets`, `run`, `flow`, `error`, `output`. The engine decides which names exist
//! where; this module only layers them.
//!
//! A scope is a chain of layers: the run's names at the bottom, a step's on top (`cursor`),
//! an item's on top of that (`item`, `index`). Adding a layer is one small allocation, so a
//! pipeline over a million items does not copy the run's context per item.
//!
//! The root of a scope cannot be enumerated, so no template can list (or print) every name,
//! and the `secrets` object cannot be iterated or printed whole.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use indexmap::IndexMap;
use minijinja::value::{Enumerator, Object, ObjectRepr};

use crate::Value;
use crate::secret::{REDACTED, Secret};

/// The name under which functions find the [`Runtime`]. It is not an identifier, so no
/// template can write it.
pub(crate) const RUNTIME_NAME: &str = "$runtime";

/// What makes `now()` and `uuid()` vary: the real clock and random ids in a run, fixed values
/// in `flowrun test` so a case gives the same result every time.
#[derive(Debug, Default)]
pub struct Runtime {
    pub clock: Clock,
    pub uuids: UuidSource,
}

/// Where `now()` reads the time.
#[derive(Debug, Clone, Default)]
pub enum Clock {
    /// The system clock, read at each call.
    #[default]
    System,
    /// A fixed instant, e.g. a test case's `now`.
    Fixed(jiff::Timestamp),
}

impl Clock {
    pub fn now(&self) -> jiff::Timestamp {
        match self {
            Clock::System => jiff::Timestamp::now(),
            Clock::Fixed(instant) => *instant,
        }
    }
}

/// Where `uuid()` takes its ids.
#[derive(Debug, Default)]
pub enum UuidSource {
    /// Random version-4 ids.
    #[default]
    Random,
    /// Version-4-shaped ids counted up from a seed: the same sequence every run.
    Sequence { seed: u64, next: AtomicU64 },
}

impl UuidSource {
    pub fn sequence(seed: u64) -> UuidSource {
        UuidSource::Sequence {
            seed,
            next: AtomicU64::new(0),
        }
    }

    pub fn next_uuid(&self) -> uuid::Uuid {
        match self {
            UuidSource::Random => uuid::Uuid::new_v4(),
            UuidSource::Sequence { seed, next } => {
                let count = next.fetch_add(1, Ordering::Relaxed);
                let mut bytes = [0u8; 16];
                bytes[..8].copy_from_slice(&seed.to_be_bytes());
                bytes[8..].copy_from_slice(&count.to_be_bytes());
                uuid::Builder::from_random_bytes(bytes).into_uuid()
            }
        }
    }
}

/// The context a template is evaluated in.
#[derive(Clone)]
pub struct Scope {
    layer: Arc<Layer>,
}

impl fmt::Debug for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Names only: values may hold secrets.
        let mut names = Vec::new();
        let mut layer = Some(&self.layer);
        while let Some(current) = layer {
            match &current.names {
                Names::Map(map) => names.extend(map.keys().map(|name| name.as_ref())),
                Names::Item { .. } => names.extend(["item", "index"]),
            }
            layer = current.parent.as_ref();
        }
        f.debug_struct("Scope").field("names", &names).finish()
    }
}

struct Layer {
    names: Names,
    parent: Option<Arc<Layer>>,
    runtime: Arc<Runtime>,
}

/// The names a layer binds. An item's layer is the hot path of every pipeline, so it binds
/// its two names without a map.
#[derive(Clone)]
enum Names {
    Map(IndexMap<Arc<str>, Value>),
    Item { item: Value, index: Value },
}

impl Names {
    fn get(&self, name: &str) -> Option<&Value> {
        match self {
            Names::Map(map) => map.get(name),
            Names::Item { item, .. } if name == "item" => Some(item),
            Names::Item { index, .. } if name == "index" => Some(index),
            Names::Item { .. } => None,
        }
    }
}

impl Layer {
    fn get(&self, name: &str) -> Option<&Value> {
        let mut layer = Some(self);
        while let Some(current) = layer {
            if let Some(value) = current.names.get(name) {
                return Some(value);
            }
            layer = current.parent.as_deref();
        }
        None
    }
}

impl fmt::Debug for Layer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<context>")
    }
}

impl Object for Layer {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Map
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let name = key.as_str()?;
        if name == RUNTIME_NAME {
            return Some(Value::from_dyn_object(self.runtime.clone()));
        }
        self.get(name).cloned()
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::NonEnumerable
    }

    fn render(self: &Arc<Self>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<context>")
    }
}

impl Object for Runtime {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::NonEnumerable
    }
}

/// `secrets`: each name gives its value (so filters such as `b64encode` work), but the object
/// itself cannot be listed, iterated or printed.
#[derive(Debug)]
struct SecretsObject(IndexMap<String, Secret>);

impl Object for SecretsObject {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        self.0.get(key.as_str()?).map(|secret| Value::from(secret.expose()))
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::NonEnumerable
    }

    fn render(self: &Arc<Self>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl Scope {
    /// An empty scope with the given clock and id source.
    pub fn new(runtime: Runtime) -> Scope {
        Scope {
            layer: Arc::new(Layer {
                names: Names::Map(IndexMap::new()),
                parent: None,
                runtime: Arc::new(runtime),
            }),
        }
    }

    /// Sets a name in this scope's own layer. Cheap while the scope is not shared; a shared
    /// scope copies its own layer (not its parents) first.
    pub fn set(&mut self, name: &str, value: Value) -> &mut Scope {
        let layer = unique_layer(&mut self.layer);
        match &mut layer.names {
            Names::Map(map) => {
                map.insert(Arc::from(name), value);
            }
            Names::Item { .. } => {
                // An item's layer stays two names: a new name goes on a layer above it.
                let item_layer = self.layer.clone();
                self.layer = Arc::new(Layer {
                    names: Names::Map(IndexMap::from([(Arc::from(name), value)])),
                    parent: Some(item_layer.clone()),
                    runtime: item_layer.runtime.clone(),
                });
            }
        }
        self
    }

    /// Sets `secrets` to these secrets.
    pub fn set_secrets(&mut self, secrets: IndexMap<String, Secret>) -> &mut Scope {
        self.set("secrets", Value::from_object(SecretsObject(secrets)))
    }

    /// A scope that sees everything this one does, plus `names` (which hide the same names
    /// below them).
    pub fn child<'a>(&self, names: impl IntoIterator<Item = (&'a str, Value)>) -> Scope {
        Scope {
            layer: Arc::new(Layer {
                names: Names::Map(
                    names
                        .into_iter()
                        .map(|(name, value)| (Arc::from(name), value))
                        .collect(),
                ),
                parent: Some(self.layer.clone()),
                runtime: self.layer.runtime.clone(),
            }),
        }
    }

    /// The scope of one element: `item` and `index` bound on top of this one.
    pub fn with_item(&self, item: Value, index: usize) -> Scope {
        Scope {
            layer: Arc::new(Layer {
                names: Names::Item {
                    item,
                    index: Value::from(index),
                },
                parent: Some(self.layer.clone()),
                runtime: self.layer.runtime.clone(),
            }),
        }
    }

    /// The value of a name, if it is set.
    pub fn get(&self, name: &str) -> Option<Value> {
        self.layer.get(name).cloned()
    }

    pub fn runtime(&self) -> &Runtime {
        &self.layer.runtime
    }

    /// The root value templates are evaluated against.
    pub(crate) fn to_value(&self) -> Value {
        Value::from_dyn_object(self.layer.clone())
    }
}

/// `Arc::make_mut` for a layer, which is not `Clone` (its parent and runtime are shared, only
/// its own names are copied).
fn unique_layer(layer: &mut Arc<Layer>) -> &mut Layer {
    if Arc::get_mut(layer).is_none() {
        *layer = Arc::new(Layer {
            names: layer.names.clone(),
            parent: layer.parent.clone(),
            runtime: layer.runtime.clone(),
        });
    }
    Arc::get_mut(layer).expect("the layer was just made unique")
}

/// The runtime of the evaluation that `state` belongs to.
pub(crate) fn runtime_of(state: &minijinja::State<'_, '_>) -> Option<Arc<Runtime>> {
    state.lookup(RUNTIME_NAME)?.downcast_object::<Runtime>()
}
