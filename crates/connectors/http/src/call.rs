//! The runtime of `http.request`: parameters to a [`Request`], the response (or every page) to
//! the step output.

use base64::Engine as _;
use bytes::Bytes;
use flowrun_connect::client::{Body, ClientSettings, Part, Request, Response};
use flowrun_connect::module::{CallContext, ErrorKind, Module, ModuleError, ModuleOutput};
use flowrun_connect::paginate::fetch_pages;
use flowrun_connect::schema::{invalid_params, parse_params};
use flowrun_flow::catalog::ModuleKind;
use serde_json::Value as Json;

use serde::Deserialize;

use crate::request::{ContentEncoding, FilePart, RequestParams, ResponseFormat};
use crate::{HttpConnection, NAME};

const USES: &str = "http.request";

/// `http.request`.
pub struct HttpRequest;

#[async_trait::async_trait]
impl Module for HttpRequest {
    fn name(&self) -> &str {
        "request"
    }

    fn kind(&self) -> ModuleKind {
        ModuleKind::ApiCall
    }

    async fn call(&self, context: &CallContext, params: Json) -> Result<Json, ModuleError> {
        self.call_output(context, params).await.map(ModuleOutput::into_json)
    }

    async fn call_output(&self, context: &CallContext, params: Json) -> Result<ModuleOutput, ModuleError> {
        let params: RequestParams = parse_params(USES, params)?;
        let client = context.http.client_for(context, |config| {
            let config = HttpConnection::deserialize(config).map_err(|error| {
                let name = context.connection.as_ref().map(|c| &*c.name).unwrap_or_default();
                ModuleError::new(
                    ErrorKind::Invalid,
                    format!("connection `{name}` is not an {NAME} connection: {error}"),
                )
            })?;
            Ok(ClientSettings {
                base_url: config.base_url,
                http: config.http,
                quota: None,
            })
        })?;
        let request = build(&params, client.url(&params.url)?)?;
        // The output is built as JSON directly: a paged body of 100,000 records is moved into
        // it, never copied. A single JSON body is checked and kept as text, parsed when a
        // template first reads it.
        let output = match &params.paginate {
            None => {
                let response = client.send(context, &request).await?;
                if response.reads_as_json(params.response)
                    && let Some(raw) = response.raw_json()?
                {
                    return Ok(ModuleOutput::WithRawJson {
                        object: status_and_headers(&response),
                        key: "body".to_owned(),
                        raw,
                    });
                }
                let body = response.body_as(params.response)?;
                output(&response, body, None)
            }
            Some(pagination) => {
                if matches!(params.response, ResponseFormat::Text | ResponseFormat::Bytes) {
                    return Err(invalid_params(
                        USES,
                        "`paginate` reads JSON pages: use `response: auto` or `json`",
                    ));
                }
                let mut items = Vec::new();
                let paged = fetch_pages(&client, context, request, pagination, |page| {
                    items.extend(page);
                    Ok(())
                })
                .await?;
                output(&paged.last, Json::Array(items), Some(paged.pages))
            }
        };
        Ok(ModuleOutput::Json(output))
    }

    fn retries_itself(&self) -> bool {
        true
    }
}

/// `{status, headers, body, pages?}`, as [`crate::RequestOutput`] describes it.
fn output(response: &Response, body: Json, pages: Option<u32>) -> Json {
    let mut output = status_and_headers(response);
    output.insert("body".to_owned(), body);
    if let Some(pages) = pages {
        output.insert("pages".to_owned(), Json::from(pages));
    }
    Json::Object(output)
}

/// The output's first entries, `status` and `headers`, with room for `body` and `pages`.
fn status_and_headers(response: &Response) -> serde_json::Map<String, Json> {
    let mut output = serde_json::Map::with_capacity(4);
    output.insert("status".to_owned(), Json::from(response.status));
    output.insert("headers".to_owned(), Json::Object(response.headers_object()));
    output
}

/// The request the parameters describe.
fn build(params: &RequestParams, url: url::Url) -> Result<Request, ModuleError> {
    let mut request = Request::new(params.method, url);
    request.ok_status = params.ok_status.clone();
    for (name, value) in &params.query {
        match value {
            Json::Null => {}
            Json::Array(values) => {
                for value in values {
                    request.url.query_pairs_mut().append_pair(name, &scalar(name, value)?);
                }
            }
            value => {
                request.url.query_pairs_mut().append_pair(name, &scalar(name, value)?);
            }
        }
    }
    for (name, value) in &params.headers {
        request = request.header(name.clone(), value.clone());
    }
    let has_body = params.body.is_some();
    if has_body && (!params.form.is_empty() || !params.files.is_empty()) {
        return Err(invalid_params(
            USES,
            "`body` cannot go together with `form` or `files`: choose one",
        ));
    }
    let fields = || -> Result<Vec<(String, String)>, ModuleError> {
        params
            .form
            .iter()
            .filter(|(_, value)| !value.is_null())
            .map(|(name, value)| Ok((name.clone(), scalar(name, value)?)))
            .collect()
    };
    request.body = match &params.body {
        Some(Json::String(text)) => Body::Raw {
            bytes: Bytes::from(text.clone()),
            content_type: "text/plain; charset=utf-8".to_owned(),
        },
        Some(value) => Body::Json(value.clone()),
        None if !params.files.is_empty() => {
            let mut parts: Vec<Part> = fields()?
                .into_iter()
                .map(|(name, value)| Part {
                    name,
                    file_name: None,
                    content_type: None,
                    bytes: Bytes::from(value),
                })
                .collect();
            for file in &params.files {
                parts.push(file_part(file)?);
            }
            Body::Multipart(parts)
        }
        None if !params.form.is_empty() => Body::Form(fields()?),
        None => Body::Empty,
    };
    Ok(request)
}

fn file_part(file: &FilePart) -> Result<Part, ModuleError> {
    let bytes = match file.encoding {
        ContentEncoding::Text => Bytes::from(file.content.clone()),
        ContentEncoding::Base64 => base64::engine::general_purpose::STANDARD
            .decode(file.content.trim())
            .map(Bytes::from)
            .map_err(|error| {
                invalid_params(
                    USES,
                    &format!("`files`: the content of `{}` is not base64 ({error})", file.file_name),
                )
            })?,
    };
    Ok(Part {
        name: file.field.clone(),
        file_name: Some(file.file_name.clone()),
        content_type: Some(
            file.content_type
                .clone()
                .unwrap_or_else(|| "application/octet-stream".to_owned()),
        ),
        bytes,
    })
}

/// A query or form value as text: strings as they are, numbers and booleans written out.
fn scalar(name: &str, value: &Json) -> Result<String, ModuleError> {
    match value {
        Json::String(text) => Ok(text.clone()),
        Json::Number(number) => Ok(number.to_string()),
        Json::Bool(flag) => Ok(flag.to_string()),
        _ => Err(invalid_params(
            USES,
            &format!("`{name}` must be a string, number or boolean (or a list of them in `query`)"),
        )),
    }
}
