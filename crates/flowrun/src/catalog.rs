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

/// Each connector's spec is built when first asked for (`Catalog::lazy`): a run of a flow
/// that uses one connector builds that one.
fn build() -> Catalog {
    Catalog::lazy(vec![
        (flowrun_connector_http::NAME, flowrun_connector_http::spec),
        (flowrun_connector_onecrm::NAME, flowrun_connector_onecrm::spec),
        (flowrun_connector_conexiom::NAME, flowrun_connector_conexiom::spec),
        (
            flowrun_connector_exact_online::NAME,
            flowrun_connector_exact_online::spec,
        ),
        (flowrun_connector_sql::NAME, flowrun_connector_sql::spec),
        (flowrun_connector_core::NAME, flowrun_connector_core::spec),
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
