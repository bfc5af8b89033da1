//! The records the simulator keeps, and how each is rendered as the API's PascalCase JSON
//! (names from `contract.rs`).
//!
//! Records are plain structs with Unix-second times and integer cents rather than JSON
//! maps: seeding 5,000 documents must stay far below a second, and the only JSON made is
//! for what a request asks for.

use serde_json::{Map, Value};

use super::contract::{address, alert, buyer, data, document, file, spokeco};
use super::dates;

/// A trading partner of a HubCo, with its master data and its documents.
pub struct SpokeCo {
    pub id: i64,
    pub hubco: i64,
    pub name: String,
    /// Times [`super::store::Store::touch_spokeco`] changed it: shown as a name suffix, so
    /// that a re-read record differs visibly.
    pub revision: u32,
    pub erp_customer_number: String,
    pub is_active: bool,
    pub created_on: i64,
    pub last_modified_on: i64,
    /// Upper-case short name: customer part numbers and address codes start with it.
    pub prefix: String,
    pub currency: &'static str,
    /// How this SpokeCo numbers its purchase orders (see `seed.rs`), and the next number.
    pub po_style: u8,
    pub next_po: u64,
    pub buyers: Vec<Buyer>,
    pub addresses: Vec<Address>,
    /// Indices into `Store::documents`, ascending (so ids ascend too).
    pub documents: Vec<usize>,
}

pub struct Buyer {
    pub id: i64,
    pub name: String,
    pub email: String,
    pub phone: String,
}

pub struct Address {
    pub id: i64,
    /// [`address::TYPE_SHIP_TO`] or [`address::TYPE_BILL_TO`].
    pub kind: &'static str,
    pub code: String,
    pub name: String,
    pub line1: String,
    pub line2: Option<&'static str>,
    pub city: &'static str,
    pub state: &'static str,
    pub postal_code: &'static str,
    pub country: &'static str,
}

/// One inbound document. Its order data exists from the start (what extraction will find)
/// but is only served once the document is processed.
pub struct Document {
    pub id: i64,
    pub hubco: i64,
    pub spokeco_id: i64,
    pub kind: &'static str,
    pub number: String,
    pub sender_email: String,
    pub received_on: i64,
    /// `None` while unprocessed.
    pub processed_on: Option<i64>,
    /// Midnight of the order date.
    pub po_date: i64,
    pub currency: &'static str,
    pub buyer_id: i64,
    pub ship_to_id: i64,
    pub bill_to_id: i64,
    pub lines: Vec<Line>,
    pub files: Vec<File>,
    /// Indices into `Store::alerts`.
    pub alerts: Vec<usize>,
}

impl Document {
    /// Sum of the lines' extended prices.
    pub fn total_cents(&self) -> u64 {
        self.lines.iter().map(Line::extended_cents).sum()
    }
}

pub struct Line {
    pub customer_part_number: String,
    pub supplier_part_number: &'static str,
    pub description: &'static str,
    pub unit_of_measure: &'static str,
    pub quantity: u64,
    pub unit_price_cents: u64,
    /// Midnight of the requested delivery date.
    pub requested_on: i64,
}

impl Line {
    pub fn extended_cents(&self) -> u64 {
        self.quantity * self.unit_price_cents
    }
}

pub struct File {
    pub id: i64,
    pub name: String,
    pub content_type: &'static str,
    /// [`file::TYPE_ORIGINAL`], [`file::TYPE_ATTACHMENT`] or [`file::TYPE_OUTPUT`].
    pub kind: &'static str,
    pub size_bytes: u64,
    pub created_on: i64,
}

/// An exception raised while a document was processed.
pub struct Alert {
    pub id: i64,
    /// Index into `Store::documents`.
    pub document: usize,
    pub kind: &'static str,
    pub severity: &'static str,
    pub rule_name: &'static str,
    pub message: String,
    pub details: String,
    pub line_number: Option<u32>,
    pub created_on: i64,
    /// `None` while open; then who resolved it.
    pub resolved: Option<(i64, &'static str)>,
}

/// A JSON object of these properties, in this order.
fn object<const N: usize>(pairs: [(&str, Value); N]) -> Value {
    let mut map = Map::with_capacity(N);
    for (key, value) in pairs {
        map.insert(key.to_owned(), value);
    }
    Value::Object(map)
}

fn date(unix: i64) -> Value {
    Value::String(dates::format(unix))
}

fn optional_date(unix: Option<i64>) -> Value {
    unix.map_or(Value::Null, date)
}

/// Cents as a JSON number of currency units (`1520.0`, `0.12`).
fn money(cents: u64) -> Value {
    Value::from(cents as f64 / 100.0)
}

pub fn spokeco_json(s: &SpokeCo) -> Value {
    let name = match s.revision {
        0 => s.name.clone(),
        n => format!("{} (rev {n})", s.name),
    };
    object([
        (spokeco::SPOKE_CO_ID, s.id.into()),
        (spokeco::HUB_CO_ID, s.hubco.into()),
        (spokeco::NAME, name.into()),
        (spokeco::ERP_CUSTOMER_NUMBER, s.erp_customer_number.clone().into()),
        (spokeco::IS_ACTIVE, s.is_active.into()),
        (spokeco::CREATED_ON, date(s.created_on)),
        (spokeco::LAST_MODIFIED_ON, date(s.last_modified_on)),
    ])
}

pub fn document_json(d: &Document) -> Value {
    let status = match d.processed_on {
        Some(_) => document::STATUS_PROCESSED,
        None => document::STATUS_RECEIVED,
    };
    object([
        (document::DOCUMENT_ID, d.id.into()),
        (document::SPOKE_CO_ID, d.spokeco_id.into()),
        (document::HUB_CO_ID, d.hubco.into()),
        (document::DOCUMENT_TYPE, d.kind.into()),
        (document::DOCUMENT_NUMBER, d.number.clone().into()),
        (document::STATUS, status.into()),
        (document::SENDER_EMAIL, d.sender_email.clone().into()),
        (document::RECEIVED_ON, date(d.received_on)),
        (document::PROCESSED_ON, optional_date(d.processed_on)),
        (document::HAS_ALERTS, (!d.alerts.is_empty()).into()),
    ])
}

/// The extracted order: header and lines once processed; before that the header's fields
/// are `null` and `Lines` is empty (nothing has been extracted yet).
// UNSURE (apis/conexiom.md): what the real API answers for an unprocessed document (it may
// well be 404); header nulls are this simulator's choice.
pub fn data_json(d: &Document) -> Value {
    if d.processed_on.is_none() {
        return object([
            (data::DOCUMENT_ID, d.id.into()),
            (data::PO_NUMBER, Value::Null),
            (data::PO_DATE, Value::Null),
            (data::CURRENCY, Value::Null),
            (data::BUYER_ID, Value::Null),
            (data::SHIP_TO_ADDRESS_ID, Value::Null),
            (data::BILL_TO_ADDRESS_ID, Value::Null),
            (data::TOTAL_AMOUNT, Value::Null),
            (data::LINES, Value::Array(Vec::new())),
        ]);
    }
    let lines = d
        .lines
        .iter()
        .enumerate()
        .map(|(index, line)| {
            object([
                (data::LINE_NUMBER, (index + 1).into()),
                (data::CUSTOMER_PART_NUMBER, line.customer_part_number.clone().into()),
                (data::SUPPLIER_PART_NUMBER, line.supplier_part_number.into()),
                (data::DESCRIPTION, line.description.into()),
                (data::QUANTITY, line.quantity.into()),
                (data::UNIT_OF_MEASURE, line.unit_of_measure.into()),
                (data::UNIT_PRICE, money(line.unit_price_cents)),
                (data::EXTENDED_PRICE, money(line.extended_cents())),
                (data::REQUESTED_DATE, date(line.requested_on)),
            ])
        })
        .collect();
    object([
        (data::DOCUMENT_ID, d.id.into()),
        (data::PO_NUMBER, d.number.clone().into()),
        (data::PO_DATE, date(d.po_date)),
        (data::CURRENCY, d.currency.into()),
        (data::BUYER_ID, d.buyer_id.into()),
        (data::SHIP_TO_ADDRESS_ID, d.ship_to_id.into()),
        (data::BILL_TO_ADDRESS_ID, d.bill_to_id.into()),
        (data::TOTAL_AMOUNT, money(d.total_cents())),
        (data::LINES, Value::Array(lines)),
    ])
}

pub fn file_json(document_id: i64, f: &File) -> Value {
    object([
        (file::FILE_ID, f.id.into()),
        (file::DOCUMENT_ID, document_id.into()),
        (file::FILE_NAME, f.name.clone().into()),
        (file::CONTENT_TYPE, f.content_type.into()),
        (file::FILE_TYPE, f.kind.into()),
        (file::SIZE_BYTES, f.size_bytes.into()),
        (file::CREATED_ON, date(f.created_on)),
    ])
}

/// An alert as listed; with `detail`, the AlertDetail of `GET /api/alerts/{id}`.
pub fn alert_json(a: &Alert, d: &Document, detail: bool) -> Value {
    let status = match a.resolved {
        Some(_) => alert::STATUS_RESOLVED,
        None => alert::STATUS_OPEN,
    };
    let mut value = object([
        (alert::ALERT_ID, a.id.into()),
        (alert::HUB_CO_ID, d.hubco.into()),
        (alert::SPOKE_CO_ID, d.spokeco_id.into()),
        (alert::DOCUMENT_ID, d.id.into()),
        (alert::ALERT_TYPE, a.kind.into()),
        (alert::SEVERITY, a.severity.into()),
        (alert::STATUS, status.into()),
        (alert::MESSAGE, a.message.clone().into()),
        (alert::CREATED_ON, date(a.created_on)),
        (alert::RESOLVED_ON, optional_date(a.resolved.map(|(on, _)| on))),
    ]);
    if detail && let Value::Object(map) = &mut value {
        map.insert(alert::DETAIL_RULE_NAME.to_owned(), a.rule_name.into());
        map.insert(alert::DETAIL_DETAILS.to_owned(), a.details.clone().into());
        map.insert(alert::DETAIL_LINE_NUMBER.to_owned(), a.line_number.into());
        map.insert(alert::DETAIL_DOCUMENT_NUMBER.to_owned(), d.number.clone().into());
        map.insert(
            alert::DETAIL_RESOLVED_BY.to_owned(),
            a.resolved.map(|(_, by)| by).into(),
        );
    }
    value
}

pub fn buyer_json(spokeco_id: i64, b: &Buyer) -> Value {
    object([
        (buyer::BUYER_ID, b.id.into()),
        (buyer::SPOKE_CO_ID, spokeco_id.into()),
        (buyer::NAME, b.name.clone().into()),
        (buyer::EMAIL, b.email.clone().into()),
        (buyer::PHONE, b.phone.clone().into()),
    ])
}

pub fn address_json(spokeco_id: i64, a: &Address) -> Value {
    object([
        (address::ADDRESS_ID, a.id.into()),
        (address::SPOKE_CO_ID, spokeco_id.into()),
        (address::ADDRESS_TYPE, a.kind.into()),
        (address::CODE, a.code.clone().into()),
        (address::NAME, a.name.clone().into()),
        (address::LINE1, a.line1.clone().into()),
        (address::LINE2, a.line2.into()),
        (address::CITY, a.city.into()),
        (address::STATE, a.state.into()),
        (address::POSTAL_CODE, a.postal_code.into()),
        (address::COUNTRY, a.country.into()),
    ])
}
