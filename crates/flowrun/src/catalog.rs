//! The module catalog the validator checks against, from every connector crate.

use flowrun_connect::registry::Registry;
use flowrun_flow::catalog::Catalog;

/// The catalog, built once per process: its module schemas (and the validators compiled from
/// them) are shared by every command that needs them, e.g. `run` validates, prepares and plans
/// with the same one.
pub fn builtin() -> &'static Catalog {
    static CATALOG: std::sync::LazyLock<Catalog> = std::sync::LazyLock::new(build);
    &CATALOG
}

/// The catalog, for a command about to validate flow files: the flow schema is generated and
/// compiled on this thread while the catalog is built on another. Each takes a millisecond or
/// two of a short command's start (docs/engine.md, "Cold start").
pub fn builtin_for_validation() -> &'static Catalog {
    let building = std::thread::spawn(builtin);
    flowrun_flow::validate::prepare_flow_schema();
    building.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))
}

fn build() -> Catalog {
    Catalog::new(vec![
        flowrun_connector_http::spec(),
        flowrun_connector_onecrm::spec(),
        flowrun_connector_conexiom::spec(),
        flowrun_connector_exact_online::spec(),
        flowrun_connector_sql::spec(),
        flowrun_connector_core::spec(),
    ])
}

/// The connectors that can make calls in this build, for the engine. The others are described
/// in the catalog only, until their runtime is built; a run that uses one is refused before it
/// starts.
pub fn registry() -> Registry {
    let mut registry = Registry::default();
    registry.register(flowrun_connector_core::connector());
    registry.register(flowrun_connector_http::connector());
    registry.register(flowrun_connector_onecrm::connector());
    registry.register(flowrun_connector_conexiom::connector());
    registry.register(flowrun_connector_exact_online::connector());
    registry.register(flowrun_connector_sql::connector());
    registry
}
