//! `api_call`: one request to any path below `api.php`, with the connection's auth.

use flowrun_connect::client::{Body, Request};
use flowrun_connect::module::ModuleError;
use flowrun_connect::schema::parse_params;
use serde_json::{Map, Value as Json};

use super::api::{Api, append_php};
use crate::api_call::ApiCallParams;

pub(crate) async fn api_call(api: &Api<'_>, params: Json) -> Result<Json, ModuleError> {
    let params: ApiCallParams = parse_params(api.uses, params)?;
    let mut url = api.relative_url(&params.path)?;
    for (name, value) in &params.query {
        append_php(&mut url, name, value, api.uses)?;
    }
    let mut request = Request::new(params.method, url);
    for (name, value) in &params.headers {
        request = request.header(name.clone(), value.clone());
    }
    if let Some(body) = params.body {
        request = request.body(Body::Json(body));
    }
    let response = api.send(&request).await?;
    let body = response.body_as(params.response)?;
    let headers: Map<String, Json> = response.headers_object();
    let mut output = Map::with_capacity(3);
    output.insert("status".to_owned(), Json::from(response.status));
    output.insert("headers".to_owned(), Json::Object(headers));
    output.insert("body".to_owned(), body);
    Ok(Json::Object(output))
}
