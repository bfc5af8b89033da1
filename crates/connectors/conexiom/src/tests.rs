use flowrun_connect::schema::{instance_problems, spec_problems};
use flowrun_connect::testing::{assert_accepts, assert_output, assert_rejects};
use serde_json::json;

use crate::spec;

#[test]
fn spec_is_well_formed() {
    let spec = spec();
    assert_eq!(spec_problems(&spec), Vec::<String>::new());
    assert!(spec.modules.iter().all(|module| module.kind.is_read_only()));
}

#[test]
fn connection_config() {
    let schema = spec().connection_schema;
    let config = json!({
        "api_url": "https://dev65.conexiom.net/Conexiom.API",
        "hubco_id": 17,
        "username": "{{ env.CONEXIOM_USER }}",
        "password": "{{ secrets.CONEXIOM_PASSWORD }}",
        "client_id": "{{ env.CONEXIOM_CLIENT_ID }}",
        "client_secret": "{{ secrets.CONEXIOM_CLIENT_SECRET }}",
        "rate_limit": { "requests": 4, "per": "1s" },
    });
    assert_eq!(instance_problems(&schema, &config), Vec::<String>::new());
    let mut with_token_url = config.clone();
    with_token_url["token_url"] = json!("https://dev65.conexiom.net/Conexiom.API/oauth/token");
    with_token_url["client_auth"] = json!("basic");
    assert_eq!(instance_problems(&schema, &with_token_url), Vec::<String>::new());

    let mut missing_secret = config.clone();
    missing_secret.as_object_mut().unwrap().remove("client_secret");
    assert!(!instance_problems(&schema, &missing_secret).is_empty());
    let mut typo = config;
    typo["hubco"] = json!(17);
    assert!(!instance_problems(&schema, &typo).is_empty());
}

#[test]
fn modules_take_their_ids_and_delta_dates() {
    assert_accepts(&spec(), "alerts", json!({}));
    assert_accepts(&spec(), "alert", json!({ "alert_id": "{{ item.AlertId }}" }));
    assert_accepts(&spec(), "spokecos", json!({ "last_modified_from": "{{ cursor }}" }));
    assert_accepts(&spec(), "spokecos", json!({}));
    assert_accepts(&spec(), "spokeco", json!({ "spokeco_id": 1201 }));
    assert_accepts(
        &spec(),
        "documents",
        json!({ "spokeco_id": "{{ item.SpokeCoId }}",
                               "processed_on_from": "2024-05-01T00:00:00" }),
    );
    assert_accepts(&spec(), "document_data", json!({ "document_id": 884512 }));
    assert_accepts(&spec(), "file_list", json!({ "document_id": "884512" }));
    assert_accepts(&spec(), "buyers", json!({ "spokeco_id": 1201 }));
    assert_accepts(&spec(), "addresses", json!({ "spokeco_id": 1201 }));

    assert_rejects(&spec(), "alert", json!({}));
    assert_rejects(&spec(), "documents", json!({ "processed_on_from": "2024-05-01" }));
    assert_rejects(&spec(), "document_data", json!({ "document_id": 1.5 }));
    assert_rejects(&spec(), "buyers", json!({ "spokeco_id": 1201, "document_id": 1 }));
}

#[test]
fn outputs_follow_the_proposed_records() {
    assert_output(
        &spec(),
        "spokecos",
        json!([{ "SpokeCoId": 1201, "HubCoId": 17, "Name": "Acme Hardware Inc.",
                 "ErpCustomerNumber": "C-10045", "IsActive": true,
                 "CreatedOn": "2023-01-10T09:00:00", "LastModifiedOn": "2024-05-01T12:30:00" }]),
    );
    assert_output(
        &spec(),
        "document_data",
        json!({ "DocumentId": 884512, "PONumber": "PO-55871", "PODate": "2024-05-02T00:00:00",
                "Currency": "USD", "BuyerId": 3301, "ShipToAddressId": 4410, "BillToAddressId": 4411,
                "TotalAmount": 1520.00,
                "Lines": [{ "LineNumber": 1, "CustomerPartNumber": "AB-12",
                            "SupplierPartNumber": "100-200", "Description": "Hex bolt M8",
                            "Quantity": 500, "UnitOfMeasure": "EA", "UnitPrice": 0.12,
                            "ExtendedPrice": 60.00, "RequestedDate": "2024-05-10T00:00:00" }] }),
    );
    assert_output(
        &spec(),
        "alerts",
        json!([{ "AlertId": 7712, "HubCoId": 17, "SpokeCoId": 1201, "DocumentId": 884513,
                 "AlertType": "UnknownItem", "Severity": "Error", "Status": "Open",
                 "Message": "Part AB-99 not found in item master",
                 "CreatedOn": "2024-05-02T14:05:00", "ResolvedOn": null }]),
    );
    assert_output(
        &spec(),
        "addresses",
        json!([{ "AddressId": 4410, "SpokeCoId": 1201, "AddressType": "ShipTo", "Code": "ACME-DC1",
                 "Name": "Acme DC 1", "Line1": "1 Main St", "Line2": null, "City": "Springfield",
                 "State": "IL", "PostalCode": "62701", "Country": "US" }]),
    );
}

#[test]
fn every_catalog_module_has_a_runtime_of_its_kind() {
    let connector = crate::connector();
    for module in spec().modules {
        let runtime = connector
            .module(&module.name)
            .unwrap_or_else(|| panic!("no runtime for `{}`", module.name));
        assert_eq!(runtime.kind(), module.kind, "{}", module.name);
    }
    assert_eq!(crate::run::Op::ALL.len(), spec().modules.len());
}

#[test]
fn every_endpoint_path_keeps_an_id_in_one_segment() {
    use crate::Id;
    use crate::contract::Endpoint;
    let id = Id::Text("a/b?c".to_owned());
    let segments = Endpoint::Files { document: &id }.segments();
    assert_eq!(segments, ["api", "documents", "a/b?c", "files"]);
    assert_eq!(
        Endpoint::SpokeCos {
            hubco: &Id::Integer(17)
        }
        .segments(),
        ["api", "hubcos", "17", "spokecos"]
    );
}
