//! `exact_online.subscribe`: read the rows of any entity, every page.

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The grammar of an entity path: `crm/Accounts`, `bulk/crm/Accounts`, `sync/crm/Accounts`,
/// `read/financial/ReceivablesList`, with `{name}` placeholders filled from `path`
/// (`salesorder/SalesOrders({order})/SalesOrderLines`). No leading `/`, no `..`.
pub const ENTITY_PATTERN: &str = r"^[A-Za-z]+(/[A-Za-z0-9_$(){}'\-]+)+$";

/// `exact_online.subscribe`: `GET {base_uri}/api/v1/{division}/{entity}`, following `__next`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub struct SubscribeParams {
    /// The entity below the division: `crm/Accounts`, `salesorder/SalesOrders`,
    /// `logistics/Items`, ... Prefix `bulk/` (1000 rows a page, `select` required) or `sync/`
    /// (1000 rows a page, `select` required, rows carry `Timestamp`) where Exact offers them.
    #[schemars(regex(pattern = ENTITY_PATTERN))]
    pub entity: String,
    /// The properties to return (`$select`), e.g. `[ID, Code, Name]`; default: all. Never `*`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub select: Vec<String>,
    /// An OData filter (`$filter`), e.g. `Modified ge datetime'2024-05-01T00:00:00'` or
    /// `Timestamp gt 12345L`. Codes are space-padded to 18 characters: use `trim(Code) eq '1024'`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter: Option<String>,
    /// The sort order (`$orderby`), e.g. `Modified desc`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_by: Option<String>,
    /// Navigation properties to include (`$expand`), e.g. `[SalesOrderLines]`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub expand: Vec<String>,
    /// The most rows to return; sent as `$top` when it fits one page. Default: every row.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub limit: Option<u64>,
    /// Further query parameters, sent as they are, e.g. `{$inlinecount: allpages}` or the
    /// parameters of a `read/` function.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub parameters: IndexMap<String, Value>,
    /// Values of the `{name}` placeholders in `entity`. A GUID between parentheses is written
    /// as Exact keys want it (`({order})` → `(guid'3f25…')`); other values are percent-encoded.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub path: IndexMap<String, Value>,
    /// Follow `__next` to the last page. Default `true`; `false` reads the first page only.
    #[serde(default = "yes")]
    pub paginate: bool,
}

fn yes() -> bool {
    true
}

/// One row of an entity, unwrapped from `d.results`. Dates (`/Date(1546300800000)/` on the
/// wire) are RFC 3339 UTC (`2019-01-01T00:00:00Z`), keys are GUIDs in `ID`, and every row
/// carries `__metadata: {uri, type}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Row {
    /// The row's properties by name.
    #[serde(flatten)]
    pub properties: IndexMap<String, Value>,
}
