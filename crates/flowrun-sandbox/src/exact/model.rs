//! The entities the simulator serves: their properties and types (one static table per
//! entity), typed values, and how a row is written as OData v2 verbose JSON.
//!
//! Rows are `Vec<Val>` aligned with the entity's property list rather than JSON maps: the
//! filter, sort and skiptoken code then compares typed values, and 10,000 accounts stay cheap.

use std::cmp::Ordering;

use jiff::Timestamp;
use jiff::tz::Offset;
use serde_json::{Map, Value, json};

/// The EDM type of a property.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Guid,
    Str,
    Int32,
    Int64,
    Double,
    Bool,
    Date,
}

impl Kind {
    pub fn edm(self) -> &'static str {
        match self {
            Kind::Guid => "Edm.Guid",
            Kind::Str => "Edm.String",
            Kind::Int32 => "Edm.Int32",
            Kind::Int64 => "Edm.Int64",
            Kind::Double => "Edm.Double",
            Kind::Bool => "Edm.Boolean",
            Kind::Date => "Edm.DateTime",
        }
    }

    pub fn numeric(self) -> bool {
        matches!(self, Kind::Int32 | Kind::Int64 | Kind::Double)
    }
}

/// A typed value: guids are lowercase `Str`s, dates epoch milliseconds (UTC).
#[derive(Clone, Debug, PartialEq)]
pub enum Val {
    Null,
    Str(String),
    Int(i64),
    Num(f64),
    Bool(bool),
    Date(i64),
}

impl Val {
    pub fn str(text: impl Into<String>) -> Val {
        Val::Str(text.into())
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Val::Str(s) => Some(s),
            _ => None,
        }
    }

    fn number(&self) -> Option<f64> {
        match self {
            Val::Int(n) => Some(*n as f64),
            Val::Num(n) => Some(*n),
            _ => None,
        }
    }
}

/// Total order used by `$orderby`, the default key order and skiptokens: `null` first,
/// strings without case first (SQL Server's default collation), then exactly.
pub fn cmp_val(a: &Val, b: &Val) -> Ordering {
    match (a, b) {
        (Val::Null, Val::Null) => Ordering::Equal,
        (Val::Null, _) => Ordering::Less,
        (_, Val::Null) => Ordering::Greater,
        (Val::Str(x), Val::Str(y)) => cmp_text(x, y).then_with(|| x.cmp(y)),
        (Val::Bool(x), Val::Bool(y)) => x.cmp(y),
        (Val::Date(x), Val::Date(y)) => x.cmp(y),
        (Val::Int(x), Val::Int(y)) => x.cmp(y),
        _ => match (a.number(), b.number()) {
            (Some(x), Some(y)) => x.total_cmp(&y),
            _ => Ordering::Equal,
        },
    }
}

/// Case-insensitive text order.
pub fn cmp_text(a: &str, b: &str) -> Ordering {
    a.chars()
        .flat_map(char::to_lowercase)
        .cmp(b.chars().flat_map(char::to_lowercase))
}

/// One property of an entity.
pub struct Field {
    pub name: &'static str,
    pub kind: Kind,
    /// Whether POST and PUT may set it; read-only ones sent in a body are ignored.
    pub writable: bool,
    /// Only on sync endpoints (`Timestamp`).
    pub sync_only: bool,
}

const fn rw(name: &'static str, kind: Kind) -> Field {
    Field {
        name,
        kind,
        writable: true,
        sync_only: false,
    }
}

const fn ro(name: &'static str, kind: Kind) -> Field {
    Field {
        name,
        kind,
        writable: false,
        sync_only: false,
    }
}

const TIMESTAMP: Field = Field {
    name: "Timestamp",
    kind: Kind::Int64,
    writable: false,
    sync_only: true,
};

use Kind::{Bool, Date, Double, Guid, Int32, Str};

const ACCOUNTS: &[Field] = &[
    ro("ID", Guid),
    rw("Code", Str),
    rw("Name", Str),
    rw("Email", Str),
    rw("Phone", Str),
    rw("Website", Str),
    rw("AddressLine1", Str),
    rw("Postcode", Str),
    rw("City", Str),
    rw("Country", Str),
    rw("Status", Str),
    rw("IsSupplier", Bool),
    rw("VATNumber", Str),
    ro("Division", Int32),
    ro("Created", Date),
    ro("Modified", Date),
    TIMESTAMP,
];

const CONTACTS: &[Field] = &[
    ro("ID", Guid),
    rw("Account", Guid),
    ro("AccountName", Str),
    rw("FirstName", Str),
    rw("LastName", Str),
    ro("FullName", Str),
    rw("Email", Str),
    rw("Phone", Str),
    rw("JobTitleDescription", Str),
    ro("Division", Int32),
    ro("Created", Date),
    ro("Modified", Date),
    TIMESTAMP,
];

const ITEMS: &[Field] = &[
    ro("ID", Guid),
    rw("Code", Str),
    rw("Description", Str),
    rw("CostPriceStandard", Double),
    rw("StandardSalesPrice", Double),
    rw("Unit", Str),
    rw("IsSalesItem", Bool),
    rw("IsStockItem", Bool),
    rw("Barcode", Str),
    ro("Division", Int32),
    ro("Created", Date),
    ro("Modified", Date),
    TIMESTAMP,
];

const SALES_ORDERS: &[Field] = &[
    ro("OrderID", Guid),
    ro("OrderNumber", Int32),
    rw("OrderedBy", Guid),
    ro("OrderedByName", Str),
    rw("OrderDate", Date),
    rw("Description", Str),
    rw("YourRef", Str),
    rw("Currency", Str),
    ro("AmountDC", Double),
    ro("Status", Int32),
    ro("Division", Int32),
    ro("Created", Date),
    ro("Modified", Date),
    TIMESTAMP,
];

const SALES_ORDER_LINES: &[Field] = &[
    ro("ID", Guid),
    rw("OrderID", Guid),
    ro("LineNumber", Int32),
    rw("Item", Guid),
    ro("ItemCode", Str),
    rw("Description", Str),
    rw("Quantity", Double),
    rw("UnitPrice", Double),
    ro("AmountDC", Double),
    ro("Division", Int32),
    ro("Created", Date),
    ro("Modified", Date),
    TIMESTAMP,
];

const GL_ACCOUNTS: &[Field] = &[
    ro("ID", Guid),
    rw("Code", Str),
    rw("Description", Str),
    rw("Type", Int32),
    ro("TypeDescription", Str),
    rw("BalanceType", Str),
    ro("Division", Int32),
    ro("Created", Date),
    ro("Modified", Date),
    TIMESTAMP,
];

/// `sync/Deleted`: one row per delete, of any entity.
const DELETED: &[Field] = &[
    ro("ID", Guid),
    TIMESTAMP,
    ro("EntityKey", Guid),
    ro("EntityType", Int32),
    ro("Division", Int32),
    ro("DeletedBy", Guid),
    ro("DeletedDate", Date),
];

/// The navigation property of a sales order.
pub const LINES_NAV: &str = "SalesOrderLines";

/// Which endpoint family a request came through: they differ in page size, `$select`
/// rules, ordering and whether `Timestamp` exists.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum View {
    Regular,
    Bulk,
    Sync,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Entity {
    Accounts,
    Contacts,
    Items,
    SalesOrders,
    SalesOrderLines,
    GLAccounts,
    /// `sync/Deleted`, only readable there.
    Deleted,
}

impl Entity {
    pub const ALL: [Entity; 7] = [
        Entity::Accounts,
        Entity::Contacts,
        Entity::Items,
        Entity::SalesOrders,
        Entity::SalesOrderLines,
        Entity::GLAccounts,
        Entity::Deleted,
    ];

    pub fn index(self) -> usize {
        self as usize
    }

    pub fn service(self) -> &'static str {
        match self {
            Entity::Accounts | Entity::Contacts => "crm",
            Entity::Items => "logistics",
            Entity::SalesOrders | Entity::SalesOrderLines => "salesorder",
            Entity::GLAccounts => "financial",
            Entity::Deleted => "sync",
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Entity::Accounts => "Accounts",
            Entity::Contacts => "Contacts",
            Entity::Items => "Items",
            Entity::SalesOrders => "SalesOrders",
            Entity::SalesOrderLines => "SalesOrderLines",
            Entity::GLAccounts => "GLAccounts",
            Entity::Deleted => "Deleted",
        }
    }

    /// `Exact.Web.Api.Models.<this>`.
    pub fn type_name(self) -> &'static str {
        match self {
            Entity::Accounts => "Account",
            Entity::Contacts => "Contact",
            Entity::Items => "Item",
            Entity::SalesOrders => "SalesOrder",
            Entity::SalesOrderLines => "SalesOrderLine",
            Entity::GLAccounts => "GLAccount",
            Entity::Deleted => "Deleted",
        }
    }

    /// The `EntityType` of its `sync/Deleted` rows.
    // UNSURE (apis/exact-online.md): the doc only says `EntityType` tells the entity; these
    // are Int16 codes as the sync documentation lists them as far as known.
    pub fn deleted_type(self) -> i64 {
        match self {
            Entity::Accounts => 2,
            Entity::Contacts => 5,
            Entity::GLAccounts => 7,
            Entity::Items => 9,
            Entity::SalesOrders => 12,
            Entity::SalesOrderLines => 33,
            Entity::Deleted => 0,
        }
    }

    pub fn key(self) -> &'static str {
        self.fields()[0].name
    }

    pub fn fields(self) -> &'static [Field] {
        match self {
            Entity::Accounts => ACCOUNTS,
            Entity::Contacts => CONTACTS,
            Entity::Items => ITEMS,
            Entity::SalesOrders => SALES_ORDERS,
            Entity::SalesOrderLines => SALES_ORDER_LINES,
            Entity::GLAccounts => GL_ACCOUNTS,
            Entity::Deleted => DELETED,
        }
    }

    /// Position and definition of a property visible in `view`.
    pub fn field(self, name: &str, view: View) -> Option<(usize, &'static Field)> {
        self.fields()
            .iter()
            .enumerate()
            .find(|(_, f)| f.name == name && (view == View::Sync || !f.sync_only))
    }

    /// Position of a property that must exist (programming error otherwise).
    pub fn pos(self, name: &str) -> usize {
        self.fields()
            .iter()
            .position(|f| f.name == name)
            .unwrap_or_else(|| panic!("{} has no property {name}", self.name()))
    }

    /// `service/Entity` of a path, matched without case (Exact's paths are
    /// case-insensitive: `sync/Financial/…` and `sync/financial/…` both work).
    pub fn lookup(service: &str, name: &str) -> Option<Entity> {
        Entity::ALL.into_iter().find(|e| {
            *e != Entity::Deleted && e.service().eq_ignore_ascii_case(service) && e.name().eq_ignore_ascii_case(name)
        })
    }

    pub fn has_lines(self) -> bool {
        self == Entity::SalesOrders
    }
}

/// A stored record: one value per property of its entity.
#[derive(Clone, Debug)]
pub struct Row(pub Vec<Val>);

impl Row {
    pub fn get(&self, entity: Entity, name: &str) -> &Val {
        &self.0[entity.pos(name)]
    }

    pub fn set(&mut self, entity: Entity, name: &str, value: Val) {
        self.0[entity.pos(name)] = value;
    }

    pub fn key(&self) -> &str {
        self.0[0].as_str().unwrap_or("")
    }

    pub fn timestamp(&self, entity: Entity) -> i64 {
        match self.get(entity, "Timestamp") {
            Val::Int(n) => *n,
            _ => 0,
        }
    }
}

/// A value as OData v2 verbose JSON: dates `/Date(ms)/`, Int64 as a string.
// UNSURE (apis/exact-online.md): the doc says `Timestamp` is an Int64 but not how it is
// written; OData v2 verbose JSON writes Edm.Int64 as a string ("Timestamp": "1234567").
pub fn json_value(kind: Kind, value: &Val) -> Value {
    match value {
        Val::Null => Value::Null,
        Val::Str(s) => Value::String(s.clone()),
        Val::Int(n) if kind == Kind::Int64 => Value::String(n.to_string()),
        Val::Int(n) => json!(n),
        Val::Num(n) => json!(n),
        Val::Bool(b) => Value::Bool(*b),
        Val::Date(ms) => Value::String(format!("/Date({ms})/")),
    }
}

/// `{"uri": …, "type": "Exact.Web.Api.Models.…"}`.
pub fn metadata(uri: &str, type_name: &str) -> Value {
    json!({"uri": uri, "type": format!("Exact.Web.Api.Models.{type_name}")})
}

/// The properties of a row as JSON, in schema order, limited to `select` (positions) when
/// given; `__metadata` comes first.
pub fn render(entity: Entity, row: &Row, view: View, select: Option<&[usize]>, uri: &str) -> Map<String, Value> {
    let mut out = Map::new();
    out.insert("__metadata".into(), metadata(uri, entity.type_name()));
    for (i, field) in entity.fields().iter().enumerate() {
        if field.sync_only && view != View::Sync {
            continue;
        }
        if select.is_some_and(|s| !s.contains(&i)) {
            continue;
        }
        out.insert(field.name.into(), json_value(field.kind, &row.0[i]));
    }
    out
}

/// `2024-01-01T00:00:00` (with `.123` when there are milliseconds), UTC.
pub fn iso(ms: i64) -> String {
    match Timestamp::from_millisecond(ms) {
        Ok(t) => Offset::UTC.to_datetime(t).to_string(),
        Err(_) => String::new(),
    }
}

/// Epoch milliseconds of `2024-01-01T00:00:00[.fff]` (UTC); the time part is required, as
/// the doc says Exact wants it.
pub fn parse_datetime(text: &str) -> Option<i64> {
    if !text.contains('T') {
        return None;
    }
    let datetime = text.parse::<jiff::civil::DateTime>().ok()?;
    Some(Offset::UTC.to_timestamp(datetime).ok()?.as_millisecond())
}

/// A UTC date as epoch milliseconds.
pub fn date_ms(year: i16, month: i8, day: i8) -> i64 {
    let datetime = jiff::civil::date(year, month, day).to_datetime(jiff::civil::Time::midnight());
    Offset::UTC.to_timestamp(datetime).map_or(0, |t| t.as_millisecond())
}
