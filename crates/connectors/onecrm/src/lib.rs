//! The 1CRM connector: records, metadata, file uploads and raw calls against a 1CRM instance's
//! REST API (`https://{domain}/api.php`), and the `new_event` trigger.
//!
//! [`spec`] is the catalog entry: the connection schema and each module's parameter and output
//! schemas, from the types in its modules. [`connector`] is the runtime the binary registers
//! (`run/`): every step module as requests through the HTTP layer of `flowrun-connect` (Basic
//! auth from `username`/`password`, retries per request, size limits, recording), paging
//! `search_records` with `offset`/`limit` until `total_results`; the `new_event` trigger
//! (`run/new_event.rs`) subscribes a webhook for `flowrun serve` and re-reads each delivered
//! record. The API as we know it, with what is UNSURE, is in the
//! project's `apis/onecrm.md`; what the connector relies on is in `docs/connectors/onecrm.md`.

mod api_call;
mod connection;
mod meta;
mod records;
mod run;
mod trigger;
mod upload;

use std::sync::Arc;

use flowrun_connect::http::Response;
use flowrun_connect::module::Connector;
use flowrun_connect::schema::{NoParams, input_schema, module};
use flowrun_flow::catalog::{ConnectorSpec, ModuleKind};

pub use api_call::{ApiCallParams, ResponseFormat};
pub use connection::OnecrmConnection;
pub use meta::{FieldInfo, ListFieldsParams, ModuleFields, ModuleInfo, MyInfo};
pub use records::{
    CreateRecordParams, CreatedRecord, DeleteRecordParams, GetRecordParams, Record, SearchRecordsOutput,
    SearchRecordsParams, UpdateRecordParams, WriteResult,
};
pub use trigger::{EventType, NewEvent, NewEventParams};
pub use upload::{UploadFileParams, UploadedFile};

/// The name in `uses: onecrm.<module>` and `connector: onecrm`.
pub const NAME: &str = "onecrm";

/// The runtime of the `onecrm` connector, for the binary's `Registry`.
pub fn connector() -> Arc<dyn Connector> {
    Arc::new(run::OnecrmConnector)
}

/// The catalog entry of the `onecrm` connector.
pub fn spec() -> ConnectorSpec {
    use ModuleKind::*;
    ConnectorSpec {
        name: NAME.to_owned(),
        description: "1CRM, the CRM/ERP suite: search, read, create, update and delete records of \
                      any module, read module and field metadata, upload files, call any \
                      endpoint, and start flows when records are created or updated."
            .to_owned(),
        connection_schema: input_schema::<OnecrmConnection>(),
        connection_optional: false,
        modules: vec![
            module::<SearchRecordsParams, SearchRecordsOutput>(
                "search_records",
                Search,
                "Lists the records of a module that match a text search and named filters, \
                 every page, as `{records, total_results}`.",
            ),
            module::<GetRecordParams, Record>("get_record", Get, "Reads one record by id; outputs the record."),
            module::<CreateRecordParams, CreatedRecord>("create_record", Create, "Creates a record; outputs `{id}`."),
            module::<UpdateRecordParams, WriteResult>(
                "update_record",
                Update,
                "Changes fields of a record (or creates it with `create: true`); outputs \
                 `{id, result}`.",
            ),
            module::<DeleteRecordParams, WriteResult>(
                "delete_record",
                Delete,
                "Deletes a record; outputs `{id, result}`.",
            ),
            module::<NoParams, Vec<ModuleInfo>>("list_modules", List, "Lists the modules (models) of the instance."),
            module::<ListFieldsParams, ModuleFields>(
                "list_fields",
                Get,
                "Reads a module's field metadata and the filters `search_records` accepts.",
            ),
            module::<NoParams, MyInfo>("get_my_info", Get, "Reads the user the connection acts as."),
            module::<UploadFileParams, UploadedFile>(
                "upload_file",
                Create,
                "Uploads a file and outputs its temporary id, which a create or update puts in \
                 a file field to attach it.",
            ),
            module::<ApiCallParams, Response>(
                "api_call",
                ApiCall,
                "Calls any endpoint below `api.php` with the connection's authentication; \
                 outputs `{status, headers, body}`.",
            ),
            module::<NewEventParams, NewEvent>(
                "new_event",
                Trigger,
                "Starts a run when a record of a module is created or updated; the event is \
                 `{module, type, id, record}`.",
            ),
        ],
    }
}

#[cfg(test)]
mod tests;
