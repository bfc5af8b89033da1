//! The record modules: `search_records`, `get_record`, `create_record`, `update_record`,
//! `delete_record` (`/data/{Model}` and `/data/{Model}/{id}`).

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// `onecrm.search_records`: `GET /data/{Model}`, every page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub struct SearchRecordsParams {
    /// The module (model) name, singular as `list_modules` shows it: `Account`, `Contact`,
    /// `Lead`, `Opportunity`, `Case`, `Invoice`, ...
    pub module: String,
    /// The fields to return. Without it 1CRM returns a small default set (`id`, usually `name`
    /// and `_display`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<String>,
    /// A text search; which fields it searches depends on the module.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter_text: Option<String>,
    /// Named filters and their values, e.g. `{filter_owner: mine, address_city: Amsterdam}`.
    /// Only filters the module's metadata declares work (see `list_fields`), not any field.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub filters: IndexMap<String, Value>,
    /// A field to sort by, optionally followed by ` desc`: `date_modified desc`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order: Option<String>,
    /// How many matching records to skip. Default 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
    /// The most records to return. The connector pages through the results (100 per request)
    /// until it has this many or none remain; default: every match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub limit: Option<u64>,
}

/// The output of `search_records`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub struct SearchRecordsOutput {
    /// The records found, in the order asked for.
    pub records: Vec<Record>,
    /// How many records match in all, beyond `offset` and `limit` too.
    pub total_results: u64,
}

/// A 1CRM record: a flat object. Values are mostly strings: booleans are `"0"`/`"1"`, numbers
/// and decimals strings (`"3222.22"`), datetimes `"2018-02-23 07:28:28"` without a zone
/// (UNSURE: probably UTC). References come as `<x>_id` plus a name field.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Record {
    /// The record's id, a 36-character UUID-like string.
    pub id: String,
    /// Every other field returned, by name (`name`, `_display`, `date_entered`,
    /// `date_modified`, `assigned_user_id`, ...).
    #[serde(flatten)]
    pub fields: IndexMap<String, Value>,
}

/// `onecrm.get_record`: `GET /data/{Model}/{id}`. Outputs the record itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub struct GetRecordParams {
    /// The module (model) name, singular: `Account`, `Contact`, ...
    pub module: String,
    /// The record's id.
    pub id: String,
    /// The fields to return; default: every field.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<String>,
}

/// `onecrm.create_record`: `POST /data/{Model}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub struct CreateRecordParams {
    /// The module (model) name, singular: `Account`, `Contact`, ...
    pub module: String,
    /// The new record's fields by name, e.g. `{name: Acme, email1: info@acme.example}`. To
    /// attach a file, put the id `upload_file` returned in a file field (`Note.filename`,
    /// `Document.revision_filename`, ...).
    pub data: IndexMap<String, Value>,
}

/// The output of `create_record`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub struct CreatedRecord {
    /// The new record's id.
    pub id: String,
}

/// `onecrm.update_record`: `PATCH /data/{Model}/{id}`; fields not in `data` keep their values.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub struct UpdateRecordParams {
    /// The module (model) name, singular: `Account`, `Contact`, ...
    pub module: String,
    /// The record's id.
    pub id: String,
    /// The fields to change, by name.
    pub data: IndexMap<String, Value>,
    /// Create the record with this id when it does not exist (an upsert). Default `false`.
    #[serde(default)]
    pub create: bool,
}

/// `onecrm.delete_record`: `DELETE /data/{Model}/{id}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub struct DeleteRecordParams {
    /// The module (model) name, singular: `Account`, `Contact`, ...
    pub module: String,
    /// The record's id.
    pub id: String,
}

/// The output of `update_record` and `delete_record`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub struct WriteResult {
    /// The id of the record written, as given.
    pub id: String,
    /// What 1CRM answered in `result`: `true` on success.
    pub result: bool,
}
