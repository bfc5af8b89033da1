//! The runtime: `subscribe`, `publish`, `me`, `api_call` and the `modified` trigger on the
//! HTTP layer of `flowrun-connect`, which brings the tokens, the rate-limit headers, the step's
//! retries and recording.

mod api;
mod modified;
mod odata;
mod publish;
mod subscribe;

use std::sync::Arc;

use flowrun_connect::client::{Body, ClientSettings, Request};
use flowrun_connect::http::Method;
use flowrun_connect::module::{CallContext, Connector, ErrorKind, Module, ModuleError};
use flowrun_connect::schema::{NoParams, parse_params};
use flowrun_flow::catalog::{ConnectorSpec, ModuleKind};
use serde::Deserialize;
use serde_json::{Value as Json, json};

use crate::{ApiCallParams, ApiMethod, ExactOnlineConnection, PublishParams, SubscribeParams};
use api::{Api, Divisions};

/// The runtime of the `exact_online` connector.
#[derive(Default)]
pub(crate) struct ExactConnector {
    divisions: Arc<Divisions>,
}

impl Connector for ExactConnector {
    fn name(&self) -> &str {
        crate::NAME
    }

    fn spec(&self) -> ConnectorSpec {
        crate::spec()
    }

    fn module(&self, name: &str) -> Option<Arc<dyn Module>> {
        let op = Op::ALL.into_iter().find(|op| op.name() == name)?;
        Some(Arc::new(ExactModule {
            op,
            divisions: self.divisions.clone(),
        }))
    }

    fn client_settings(&self, config: &Json) -> Option<Result<ClientSettings, ModuleError>> {
        Some(
            ExactOnlineConnection::deserialize(config)
                .map_err(|error| {
                    ModuleError::new(
                        ErrorKind::Invalid,
                        format!("not a valid `exact_online` connection ({error})"),
                    )
                })
                .and_then(|config| api::settings("", &config)),
        )
    }

    fn trigger(&self, name: &str) -> Option<Arc<dyn flowrun_connect::trigger::Trigger>> {
        (name == "modified").then(|| {
            Arc::new(modified::ModifiedTrigger {
                divisions: self.divisions.clone(),
            }) as Arc<dyn flowrun_connect::trigger::Trigger>
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    Subscribe,
    Publish,
    Me,
    ApiCall,
}

impl Op {
    pub(crate) const ALL: [Op; 4] = [Op::Subscribe, Op::Publish, Op::Me, Op::ApiCall];

    /// The name and `uses:` of the module.
    fn names(self) -> (&'static str, &'static str) {
        match self {
            Op::Subscribe => ("subscribe", "exact_online.subscribe"),
            Op::Publish => ("publish", "exact_online.publish"),
            Op::Me => ("me", "exact_online.me"),
            Op::ApiCall => ("api_call", "exact_online.api_call"),
        }
    }

    pub(crate) fn name(self) -> &'static str {
        self.names().0
    }

    /// As the catalog says (a unit test holds the two together).
    pub(crate) fn kind(self) -> ModuleKind {
        match self {
            Op::Subscribe => ModuleKind::Search,
            Op::Publish => ModuleKind::Action,
            Op::Me => ModuleKind::Get,
            Op::ApiCall => ModuleKind::ApiCall,
        }
    }
}

struct ExactModule {
    op: Op,
    divisions: Arc<Divisions>,
}

#[async_trait::async_trait]
impl Module for ExactModule {
    fn name(&self) -> &str {
        self.op.name()
    }

    fn kind(&self) -> ModuleKind {
        self.op.kind()
    }

    async fn call(&self, context: &CallContext, params: Json) -> Result<Json, ModuleError> {
        let uses = self.op.names().1;
        match self.op {
            Op::Subscribe => {
                let params: SubscribeParams = parse_params(uses, params)?;
                let api = Api::new(context, uses, &self.divisions).await?;
                subscribe::subscribe(&api, params).await
            }
            Op::Publish => {
                let params: PublishParams = parse_params(uses, params)?;
                let api = Api::new(context, uses, &self.divisions).await?;
                publish::publish(&api, params).await
            }
            Op::Me => {
                let _: NoParams = parse_params(uses, params)?;
                let api = Api::new(context, uses, &self.divisions).await?;
                api.me().await
            }
            Op::ApiCall => {
                let params: ApiCallParams = parse_params(uses, params)?;
                let api = Api::new(context, uses, &self.divisions).await?;
                api_call(&api, params).await
            }
        }
    }

    /// Every request goes through `HttpClient::send`, which applies the step's retry policy
    /// and timeout per request (page 40 of a read is retried alone).
    fn retries_itself(&self) -> bool {
        true
    }
}

/// One request below the division (or the API root for `/api/…`), its body unwrapped.
async fn api_call(api: &Api<'_>, params: ApiCallParams) -> Result<Json, ModuleError> {
    let path = params.path.trim();
    if path.contains("..") || path.contains("://") {
        return Err(ModuleError::new(
            ErrorKind::Invalid,
            format!(
                "{}: `path` `{path}` must stay below the connection's API: no `..` and no other site",
                api.uses
            ),
        ));
    }
    let mut url = match path.strip_prefix("/api/v1/") {
        Some(below_root) => api.root_url(below_root)?,
        None => api.division_url(path.trim_start_matches('/'))?,
    };
    for (name, value) in &params.query {
        let text = match value {
            Json::String(text) => text.clone(),
            other => other.to_string(),
        };
        url.query_pairs_mut().append_pair(name, &text);
    }
    let method = match params.method {
        ApiMethod::Get => Method::Get,
        ApiMethod::Post => Method::Post,
        ApiMethod::Put => Method::Put,
        ApiMethod::Delete => Method::Delete,
    };
    let mut request = Request::new(method, url);
    if let Some(body) = params.body {
        request = request.body(Body::Json(body));
    }
    if method == Method::Post {
        request = request.header("Prefer", "return=representation");
    }
    let response = api.send(request, &format!("answer `{path}`")).await?;
    let body = if response.is_json() || response.body.is_empty() {
        response.json()?
    } else {
        // `$count` answers a plain number.
        let text = response.text()?.trim();
        text.parse::<i64>()
            .map_or_else(|_| Json::String(text.to_owned()), Json::from)
    };
    let (mut body, next) = odata::unwrapped(body);
    odata::convert_dates(&mut body);
    let mut output = json!({ "status": response.status, "body": body });
    if let Some(next) = next {
        output["next"] = Json::String(next);
    }
    Ok(output)
}
