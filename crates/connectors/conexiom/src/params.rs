//! The `with:` blocks of the Conexiom modules. The HubCo comes from the connection.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::id::Id;

/// `conexiom.alert`: one alert with its details.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub struct AlertParams {
    /// The alert's id (`AlertId` from `alerts`).
    pub alert_id: Id,
}

/// `conexiom.spokecos`: the HubCo's SpokeCos (trading partners).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub struct SpokecosParams {
    /// Only SpokeCos modified at or after this date (sent as `lastModifiedFromDate`), ISO 8601
    /// without zone: `2024-05-01T00:00:00` or `2024-05-01`. Default: every SpokeCo. UNSURE:
    /// inclusive or not, and in which time zone; keep an overlap and dedupe by `SpokeCoId`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_modified_from: Option<String>,
}

/// `conexiom.spokeco`, `conexiom.buyers`, `conexiom.addresses`: data of one SpokeCo.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub struct SpokecoParams {
    /// The SpokeCo's id (`SpokeCoId` from `spokecos`).
    pub spokeco_id: Id,
}

/// `conexiom.documents`: the documents a SpokeCo sent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub struct DocumentsParams {
    /// The SpokeCo's id (`SpokeCoId` from `spokecos`).
    pub spokeco_id: Id,
    /// Only documents processed at or after this date (sent as `ProcessedOnFromDate`), ISO 8601
    /// without zone: `2024-05-01T00:00:00`. Default: every document. Documents not yet
    /// processed are not returned by such a query (UNSURE), nor is inclusivity certain: keep an
    /// overlap and dedupe by `DocumentId`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub processed_on_from: Option<String>,
}

/// `conexiom.document_data`, `conexiom.file_list`: data of one document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub struct DocumentParams {
    /// The document's id (`DocumentId` from `documents`).
    pub document_id: Id,
}
