use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::json;

use super::*;

static CRM_BUILT: AtomicUsize = AtomicUsize::new(0);
static WEB_BUILT: AtomicUsize = AtomicUsize::new(0);

fn spec(name: &str) -> ConnectorSpec {
    ConnectorSpec {
        name: name.to_owned(),
        description: format!("The {name} connector."),
        connection_schema: json!({ "type": "object", "required": ["url"] }),
        connection_optional: false,
        modules: vec![ModuleSpec {
            name: "search".to_owned(),
            kind: ModuleKind::Search,
            description: "Searches.".to_owned(),
            params_schema: json!({ "type": "object", "required": ["module"] }),
            output_schema: json!({ "type": "array" }),
            without_connection_schema: None,
        }],
    }
}

fn crm() -> ConnectorSpec {
    CRM_BUILT.fetch_add(1, Ordering::SeqCst);
    spec("crm")
}

fn web() -> ConnectorSpec {
    WEB_BUILT.fetch_add(1, Ordering::SeqCst);
    spec("web")
}

#[test]
fn a_lazy_catalog_builds_a_connector_when_it_is_first_used() {
    let catalog = Catalog::lazy(vec![("crm", crm), ("web", web)]);
    assert_eq!(catalog.connector_names().collect::<Vec<_>>(), ["crm", "web"]);
    assert_eq!(
        (CRM_BUILT.load(Ordering::SeqCst), WEB_BUILT.load(Ordering::SeqCst)),
        (0, 0)
    );

    let validator = catalog.validator("crm.search").expect("the module's schema compiles");
    assert!(!validator.is_valid(&json!({})));
    assert!(
        catalog
            .validator("crm")
            .expect("the connection's schema")
            .is_valid(&json!({ "url": "x" }))
    );
    assert!(catalog.validator("crm.nope").is_none());
    assert!(catalog.validator("nope.search").is_none());
    assert_eq!(
        (CRM_BUILT.load(Ordering::SeqCst), WEB_BUILT.load(Ordering::SeqCst)),
        (1, 0)
    );

    assert_eq!(catalog.step_module_names(), ["crm.search", "web.search"]);
    assert_eq!(
        (CRM_BUILT.load(Ordering::SeqCst), WEB_BUILT.load(Ordering::SeqCst)),
        (1, 1)
    );
    // It serializes as a catalog of built specs does.
    let built = Catalog::new(vec![spec("crm"), spec("web")]);
    assert_eq!(
        serde_json::to_value(&catalog).unwrap(),
        serde_json::to_value(&built).unwrap()
    );
}

#[test]
#[should_panic(expected = "a lazy catalog entry's name is the name of the connector its builder returns")]
fn a_lazy_entry_must_be_named_as_its_connector() {
    Catalog::lazy(vec![("wrong", || spec("right"))]).connector("wrong");
}
