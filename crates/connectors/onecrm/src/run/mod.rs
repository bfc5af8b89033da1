//! The runtime: one [`Module`] per catalog module, each a request (or a read of every page)
//! through the HTTP layer of `flowrun-connect`.

mod api;
mod api_call;
mod meta;
mod new_event;
mod records;
mod upload;

use std::sync::Arc;

use flowrun_connect::module::{CallContext, Connector, Module, ModuleError};
use flowrun_flow::catalog::{ConnectorSpec, ModuleKind};
use serde_json::Value as Json;

#[cfg(test)]
pub(crate) use self::Op as ModuleOp;
#[cfg(test)]
pub(crate) use api::{append_php, domain};

/// The runtime of the `onecrm` connector.
pub(crate) struct OnecrmConnector;

impl Connector for OnecrmConnector {
    fn name(&self) -> &str {
        crate::NAME
    }

    fn spec(&self) -> ConnectorSpec {
        crate::spec()
    }

    fn module(&self, name: &str) -> Option<Arc<dyn Module>> {
        // `new_event` is a trigger: `flowrun serve` runs it, never a step.
        Op::ALL
            .into_iter()
            .find(|op| op.name() == name)
            .map(|op| Arc::new(OnecrmModule(op)) as Arc<dyn Module>)
    }

    fn trigger(&self, name: &str) -> Option<Arc<dyn flowrun_connect::trigger::Trigger>> {
        (name == "new_event")
            .then(|| Arc::new(new_event::NewEventTrigger) as Arc<dyn flowrun_connect::trigger::Trigger>)
    }
}

/// The callable modules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    SearchRecords,
    GetRecord,
    CreateRecord,
    UpdateRecord,
    DeleteRecord,
    ListModules,
    ListFields,
    GetMyInfo,
    UploadFile,
    ApiCall,
}

impl Op {
    pub(crate) const ALL: [Op; 10] = [
        Op::SearchRecords,
        Op::GetRecord,
        Op::CreateRecord,
        Op::UpdateRecord,
        Op::DeleteRecord,
        Op::ListModules,
        Op::ListFields,
        Op::GetMyInfo,
        Op::UploadFile,
        Op::ApiCall,
    ];

    pub(crate) fn name(self) -> &'static str {
        self.names().0
    }

    /// As the catalog says (a unit test holds the two together).
    pub(crate) fn kind(self) -> ModuleKind {
        match self {
            Op::SearchRecords => ModuleKind::Search,
            Op::GetRecord | Op::ListFields | Op::GetMyInfo => ModuleKind::Get,
            Op::CreateRecord | Op::UploadFile => ModuleKind::Create,
            Op::UpdateRecord => ModuleKind::Update,
            Op::DeleteRecord => ModuleKind::Delete,
            Op::ListModules => ModuleKind::List,
            Op::ApiCall => ModuleKind::ApiCall,
        }
    }

    /// The name and `uses:` of the module.
    fn names(self) -> (&'static str, &'static str) {
        match self {
            Op::SearchRecords => ("search_records", "onecrm.search_records"),
            Op::GetRecord => ("get_record", "onecrm.get_record"),
            Op::CreateRecord => ("create_record", "onecrm.create_record"),
            Op::UpdateRecord => ("update_record", "onecrm.update_record"),
            Op::DeleteRecord => ("delete_record", "onecrm.delete_record"),
            Op::ListModules => ("list_modules", "onecrm.list_modules"),
            Op::ListFields => ("list_fields", "onecrm.list_fields"),
            Op::GetMyInfo => ("get_my_info", "onecrm.get_my_info"),
            Op::UploadFile => ("upload_file", "onecrm.upload_file"),
            Op::ApiCall => ("api_call", "onecrm.api_call"),
        }
    }
}

struct OnecrmModule(Op);

#[async_trait::async_trait]
impl Module for OnecrmModule {
    fn name(&self) -> &str {
        self.0.name()
    }

    fn kind(&self) -> ModuleKind {
        self.0.kind()
    }

    async fn call(&self, context: &CallContext, params: Json) -> Result<Json, ModuleError> {
        let api = api::Api::new(context, self.0.names().1)?;
        match self.0 {
            Op::SearchRecords => records::search(&api, params).await,
            Op::GetRecord => records::get(&api, params).await,
            Op::CreateRecord => records::create(&api, params).await,
            Op::UpdateRecord => records::update(&api, params).await,
            Op::DeleteRecord => records::delete(&api, params).await,
            Op::ListModules => meta::list_modules(&api, params).await,
            Op::ListFields => meta::list_fields(&api, params).await,
            Op::GetMyInfo => meta::get_my_info(&api, params).await,
            Op::UploadFile => upload::upload_file(&api, params).await,
            Op::ApiCall => api_call::api_call(&api, params).await,
        }
    }

    /// Every request goes through `HttpClient::send`, which applies the step's retry policy
    /// and timeout per request (page 7 of a search is retried alone).
    fn retries_itself(&self) -> bool {
        true
    }
}
