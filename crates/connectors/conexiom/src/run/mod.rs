//! The runtime: one [`Module`] per catalog module, each one GET (or the pages of one list)
//! through the HTTP layer of `flowrun-connect`, which brings the password-grant tokens, the
//! step's retries, rate limits and recording.

mod api;
mod dates;

use std::sync::Arc;

use flowrun_connect::module::{CallContext, Connector, Module, ModuleError};
use flowrun_connect::schema::parse_params;
use flowrun_flow::catalog::{ConnectorSpec, ModuleKind};
use serde_json::Value as Json;

use crate::contract::{self, Endpoint};
use crate::{AlertParams, DocumentParams, DocumentsParams, SpokecoParams, SpokecosParams};
use api::Api;

/// The runtime of the `conexiom` connector.
pub(crate) struct ConexiomConnector;

impl Connector for ConexiomConnector {
    fn name(&self) -> &str {
        crate::NAME
    }

    fn spec(&self) -> ConnectorSpec {
        crate::spec()
    }

    fn module(&self, name: &str) -> Option<Arc<dyn Module>> {
        Op::ALL
            .into_iter()
            .find(|op| op.name() == name)
            .map(|op| Arc::new(ConexiomModule(op)) as Arc<dyn Module>)
    }
}

/// The modules, one per endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    Alerts,
    Alert,
    SpokeCos,
    SpokeCo,
    Documents,
    DocumentData,
    FileList,
    Buyers,
    Addresses,
}

impl Op {
    pub(crate) const ALL: [Op; 9] = [
        Op::Alerts,
        Op::Alert,
        Op::SpokeCos,
        Op::SpokeCo,
        Op::Documents,
        Op::DocumentData,
        Op::FileList,
        Op::Buyers,
        Op::Addresses,
    ];

    /// The name and `uses:` of the module.
    fn names(self) -> (&'static str, &'static str) {
        match self {
            Op::Alerts => ("alerts", "conexiom.alerts"),
            Op::Alert => ("alert", "conexiom.alert"),
            Op::SpokeCos => ("spokecos", "conexiom.spokecos"),
            Op::SpokeCo => ("spokeco", "conexiom.spokeco"),
            Op::Documents => ("documents", "conexiom.documents"),
            Op::DocumentData => ("document_data", "conexiom.document_data"),
            Op::FileList => ("file_list", "conexiom.file_list"),
            Op::Buyers => ("buyers", "conexiom.buyers"),
            Op::Addresses => ("addresses", "conexiom.addresses"),
        }
    }

    pub(crate) fn name(self) -> &'static str {
        self.names().0
    }

    /// As the catalog says (a unit test holds the two together).
    pub(crate) fn kind(self) -> ModuleKind {
        match self {
            Op::Alert | Op::SpokeCo | Op::DocumentData => ModuleKind::Get,
            _ => ModuleKind::List,
        }
    }
}

struct ConexiomModule(Op);

#[async_trait::async_trait]
impl Module for ConexiomModule {
    fn name(&self) -> &str {
        self.0.name()
    }

    fn kind(&self) -> ModuleKind {
        self.0.kind()
    }

    async fn call(&self, context: &CallContext, params: Json) -> Result<Json, ModuleError> {
        let api = Api::new(context, self.0.names().1)?;
        let uses = api.uses;
        let hubco = api.hubco.clone();
        match self.0 {
            Op::Alerts => api.list(Endpoint::Alerts { hubco: &hubco }, None).await,
            Op::Alert => {
                let params: AlertParams = parse_params(uses, params)?;
                api.get(Endpoint::Alert {
                    alert: &params.alert_id,
                })
                .await
            }
            Op::SpokeCos => {
                let params: SpokecosParams = parse_params(uses, params)?;
                let delta = params
                    .last_modified_from
                    .map(|from| dates::delta_date(uses, "last_modified_from", &from))
                    .transpose()?
                    .map(|from| (contract::LAST_MODIFIED_FROM, from));
                api.list(Endpoint::SpokeCos { hubco: &hubco }, delta).await
            }
            Op::SpokeCo => {
                let params: SpokecoParams = parse_params(uses, params)?;
                api.get(Endpoint::SpokeCo {
                    spokeco: &params.spokeco_id,
                })
                .await
            }
            Op::Documents => {
                let params: DocumentsParams = parse_params(uses, params)?;
                let delta = params
                    .processed_on_from
                    .map(|from| dates::delta_date(uses, "processed_on_from", &from))
                    .transpose()?
                    .map(|from| (contract::PROCESSED_ON_FROM, from));
                api.list(
                    Endpoint::Documents {
                        spokeco: &params.spokeco_id,
                    },
                    delta,
                )
                .await
            }
            Op::DocumentData => {
                let params: DocumentParams = parse_params(uses, params)?;
                api.get(Endpoint::DocumentData {
                    document: &params.document_id,
                })
                .await
            }
            Op::FileList => {
                let params: DocumentParams = parse_params(uses, params)?;
                api.list(
                    Endpoint::Files {
                        document: &params.document_id,
                    },
                    None,
                )
                .await
            }
            Op::Buyers => {
                let params: SpokecoParams = parse_params(uses, params)?;
                api.list(
                    Endpoint::Buyers {
                        spokeco: &params.spokeco_id,
                    },
                    None,
                )
                .await
            }
            Op::Addresses => {
                let params: SpokecoParams = parse_params(uses, params)?;
                api.list(
                    Endpoint::Addresses {
                        spokeco: &params.spokeco_id,
                    },
                    None,
                )
                .await
            }
        }
    }

    /// Every request goes through `HttpClient::send`, which applies the step's retry policy
    /// and timeout per request (page 3 of a wrapped list is retried alone).
    fn retries_itself(&self) -> bool {
        true
    }
}
