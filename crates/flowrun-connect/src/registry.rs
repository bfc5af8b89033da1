//! Every connector of the process, by name: the one place the engine and the validator find
//! connectors.

use std::sync::Arc;

use flowrun_flow::catalog::Catalog;
use indexmap::IndexMap;

use crate::module::{Connector, Module};

/// The connectors a run may use.
#[derive(Default, Clone)]
pub struct Registry {
    connectors: IndexMap<String, Arc<dyn Connector>>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.connectors.keys()).finish()
    }
}

impl Registry {
    /// Adds a connector; a later one of the same name replaces the earlier (tests use this to
    /// put a test double where a real connector would be).
    pub fn register(&mut self, connector: Arc<dyn Connector>) -> &mut Registry {
        self.connectors.insert(connector.name().to_owned(), connector);
        self
    }

    pub fn connector(&self, name: &str) -> Option<&Arc<dyn Connector>> {
        self.connectors.get(name)
    }

    /// The module `uses: <connector>.<module>` names.
    pub fn module(&self, uses: &str) -> Option<Arc<dyn Module>> {
        let (connector, module) = uses.split_once('.')?;
        self.connector(connector)?.module(module)
    }

    /// The connector trigger a flow's trigger key names (`onecrm.new_event`).
    pub fn trigger(&self, key: &str) -> Option<Arc<dyn crate::trigger::Trigger>> {
        let (connector, trigger) = key.split_once('.')?;
        self.connector(connector)?.trigger(trigger)
    }

    /// The catalog of every registered connector, for the validator and the schemas.
    pub fn catalog(&self) -> Catalog {
        Catalog::new(self.connectors.values().map(|connector| connector.spec()).collect())
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.connectors.keys().map(String::as_str)
    }
}
