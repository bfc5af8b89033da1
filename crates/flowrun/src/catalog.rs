//! The module catalog the validator checks against, from every connector crate.

use flowrun_flow::catalog::Catalog;

pub fn builtin() -> Catalog {
    Catalog::new(vec![
        flowrun_connector_http::spec(),
        flowrun_connector_onecrm::spec(),
        flowrun_connector_conexiom::spec(),
        flowrun_connector_exact_online::spec(),
        flowrun_connector_sql::spec(),
    ])
}
