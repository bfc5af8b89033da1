//! `exact_online.publish`: create (POST), update (PUT) or delete (DELETE) one entity.

use flowrun_connect::client::{Body, Request};
use flowrun_connect::http::Method;
use flowrun_connect::module::{ErrorKind, ModuleError};
use serde_json::{Map, Value as Json};

use super::api::Api;
use super::odata;
use crate::{PublishAction, PublishParams};

pub(crate) async fn publish(api: &Api<'_>, params: PublishParams) -> Result<Json, ModuleError> {
    let uses = api.uses;
    let entity = &params.entity;
    let invalid = |message: String| ModuleError::new(ErrorKind::Invalid, format!("{uses}: {message}"));
    let key = match (params.action, &params.id) {
        (PublishAction::Create, _) => None,
        (_, None) => {
            return Err(invalid(format!(
                "`{}` needs `id`, the entity's GUID",
                action(params.action)
            )));
        }
        (_, Some(id)) => Some(odata::guid_key(id).ok_or_else(|| {
            invalid(format!(
                "`id` `{id}` is not a GUID (e.g. `3f2504e0-4f89-11d3-9a0c-0305e82c3301`): Exact Online keys \
                 entities by their `ID`, not by `Code`"
            ))
        })?),
    };
    let payload = match (params.action, params.payload) {
        (PublishAction::Delete, _) => None,
        (_, None) => return Err(invalid(format!("`{}` needs `payload`", action(params.action)))),
        (_, Some(payload)) => Some(Json::Object(payload.into_iter().collect::<Map<String, Json>>())),
    };
    let mut url = api.division_url(&format!("{entity}{}", key.as_deref().unwrap_or_default()))?;
    for (name, value) in &params.query {
        let text = match value {
            Json::String(text) => text.clone(),
            other => other.to_string(),
        };
        url.query_pairs_mut().append_pair(name, &text);
    }
    let method = match params.action {
        PublishAction::Create => Method::Post,
        PublishAction::Update => Method::Put,
        PublishAction::Delete => Method::Delete,
    };
    let mut request = Request::new(method, url);
    if let Some(payload) = payload {
        request = request.body(Body::Json(payload));
    }
    if params.action == PublishAction::Create {
        // Without it Exact answers with most properties null.
        request = request.header("Prefer", "return=representation");
    }
    let target = match &params.id {
        Some(id) => format!("{} `{entity}` {id}", action(params.action)),
        None => format!("{} `{entity}`", action(params.action)),
    };
    let response = api.send(request, &target).await?;
    match params.action {
        PublishAction::Create => {
            let body = response.json()?;
            let Some(mut created) = odata::entity(body.clone()) else {
                return Err(api.unexpected(entity, &body));
            };
            odata::convert_dates(&mut created);
            Ok(created)
        }
        // 204 without a body.
        PublishAction::Update | PublishAction::Delete => {
            let id = params.id.unwrap_or_default();
            Ok(serde_json::json!({ "ID": id.trim().trim_start_matches('{').trim_end_matches('}') }))
        }
    }
}

fn action(action: PublishAction) -> &'static str {
    match action {
        PublishAction::Create => "create",
        PublishAction::Update => "update",
        PublishAction::Delete => "delete",
    }
}
