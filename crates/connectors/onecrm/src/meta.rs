//! The metadata modules: `list_modules`, `list_fields`, `get_my_info`.

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One entry of `GET /meta/modules`. UNSURE: the API doc does not show the item shape; it is
/// assumed to carry at least the model name and a display label, and is passed on as it comes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ModuleInfo {
    /// Every field of the entry as 1CRM returns it.
    #[serde(flatten)]
    pub fields: IndexMap<String, Value>,
}

/// `onecrm.list_fields`: `GET /meta/fields/{Model}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub struct ListFieldsParams {
    /// The module (model) name, singular: `Account`, `Contact`, ...
    pub module: String,
}

/// The output of `list_fields`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub struct ModuleFields {
    /// The module's fields by name.
    pub fields: IndexMap<String, FieldInfo>,
    /// The filters `search_records` accepts in `filters`, by name.
    pub filters: IndexMap<String, Value>,
}

/// One field's metadata.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub struct FieldInfo {
    /// The field name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The label shown in the app.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vname: Option<String>,
    /// `id`, `bool`, `datetime`, `varchar`, `text`, `enum`, `ref`, `currency`, `email`,
    /// `phone`, `file_ref`, `image`, ...
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub field_type: Option<String>,
    /// Whether a create must set it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub required: Option<bool>,
    /// Further metadata: `len`, `editable`, `updateable`, `audited`, `comment`, `options` (of
    /// an `enum`), `bean_name` and `id_name` (of a `ref`), ...
    #[serde(flatten)]
    pub other: IndexMap<String, Value>,
}

/// The output of `get_my_info` (`GET /me`): the user the connection acts as.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub struct MyInfo {
    /// The user's id, e.g. `Users:1`.
    pub id: String,
    /// The user name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The first name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_name: Option<String>,
    /// The last name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
    /// The e-mail address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// The role, e.g. `user`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// The user's groups.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<Value>,
    /// Further fields newer builds add (`timezone`, `is_partner`, ...).
    #[serde(flatten)]
    pub other: IndexMap<String, Value>,
}
