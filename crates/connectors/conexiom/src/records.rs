//! What the Conexiom modules output: the API's records, PascalCase as the API sends them.
//!
//! Every shape here is PROPOSED in the API doc (Conexiom publishes no reference): the fields
//! are the ones our simulator serves, and any further field the API sends is passed on. Dates
//! are ISO 8601 without zone (`2024-05-02T14:03:11`; UNSURE: may carry `Z` or an offset). Lists
//! come out as plain arrays whether the API sends a bare array or a wrapper object.

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::id::Id;

/// An exception raised while processing a document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "PascalCase")]
pub struct Alert {
    pub alert_id: Id,
    pub hub_co_id: Id,
    pub spoke_co_id: Option<Id>,
    /// The document the alert is about.
    pub document_id: Option<Id>,
    /// E.g. `UnknownItem`.
    pub alert_type: String,
    /// E.g. `Error`.
    pub severity: String,
    /// E.g. `Open`.
    pub status: String,
    pub message: String,
    pub created_on: String,
    /// `null` while open.
    pub resolved_on: Option<String>,
    /// Further fields (detail fields on `alert`).
    #[serde(flatten)]
    pub other: IndexMap<String, Value>,
}

/// A trading partner of the HubCo.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "PascalCase")]
pub struct SpokeCo {
    pub spoke_co_id: Id,
    pub hub_co_id: Id,
    pub name: String,
    /// The customer number in the HubCo's ERP.
    pub erp_customer_number: Option<String>,
    pub is_active: bool,
    pub created_on: String,
    /// What `last_modified_from` compares against.
    pub last_modified_on: String,
    #[serde(flatten)]
    pub other: IndexMap<String, Value>,
}

/// One inbound document (usually a purchase order), as listed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "PascalCase")]
pub struct Document {
    pub document_id: Id,
    pub spoke_co_id: Id,
    pub hub_co_id: Id,
    /// E.g. `PurchaseOrder`.
    pub document_type: String,
    pub document_number: String,
    /// E.g. `Processed`.
    pub status: String,
    pub sender_email: Option<String>,
    pub received_on: String,
    /// What `processed_on_from` compares against; `null` while unprocessed.
    pub processed_on: Option<String>,
    pub has_alerts: bool,
    #[serde(flatten)]
    pub other: IndexMap<String, Value>,
}

/// The order Conexiom extracted from a document: header and lines.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "PascalCase")]
pub struct DocumentData {
    pub document_id: Id,
    /// The purchase-order number; `null` while the document is not processed (its data is
    /// empty then, UNSURE as the rest of the record).
    #[serde(rename = "PONumber")]
    pub po_number: Option<String>,
    #[serde(rename = "PODate")]
    pub po_date: Option<String>,
    pub currency: Option<String>,
    pub buyer_id: Option<Id>,
    pub ship_to_address_id: Option<Id>,
    pub bill_to_address_id: Option<Id>,
    pub total_amount: Option<f64>,
    pub lines: Vec<DocumentLine>,
    #[serde(flatten)]
    pub other: IndexMap<String, Value>,
}

/// One line of an extracted order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "PascalCase")]
pub struct DocumentLine {
    pub line_number: u32,
    pub customer_part_number: Option<String>,
    pub supplier_part_number: Option<String>,
    pub description: Option<String>,
    pub quantity: f64,
    pub unit_of_measure: Option<String>,
    pub unit_price: Option<f64>,
    pub extended_price: Option<f64>,
    pub requested_date: Option<String>,
    #[serde(flatten)]
    pub other: IndexMap<String, Value>,
}

/// A file belonging to a document (the original, renderings, ...).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "PascalCase")]
pub struct DocumentFile {
    pub file_id: Id,
    pub document_id: Id,
    pub file_name: String,
    pub content_type: String,
    /// E.g. `Original`.
    pub file_type: String,
    pub size_bytes: u64,
    pub created_on: String,
    #[serde(flatten)]
    pub other: IndexMap<String, Value>,
}

/// A purchasing contact of a SpokeCo.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "PascalCase")]
pub struct Buyer {
    pub buyer_id: Id,
    pub spoke_co_id: Id,
    pub name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    #[serde(flatten)]
    pub other: IndexMap<String, Value>,
}

/// A ship-to or bill-to address of a SpokeCo.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "PascalCase")]
pub struct Address {
    pub address_id: Id,
    pub spoke_co_id: Id,
    /// E.g. `ShipTo` or `BillTo`.
    pub address_type: String,
    pub code: Option<String>,
    pub name: Option<String>,
    pub line1: Option<String>,
    pub line2: Option<String>,
    pub city: Option<String>,
    pub state: Option<String>,
    pub postal_code: Option<String>,
    pub country: Option<String>,
    #[serde(flatten)]
    pub other: IndexMap<String, Value>,
}
