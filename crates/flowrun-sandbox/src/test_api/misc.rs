//! The test API's response shapes other than JSON pages: large streamed bodies, HTML where
//! JSON was expected, arbitrary statuses, gzip and slow answers.

use std::convert::Infallible;
use std::io::Write as _;
use std::time::Duration;

use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::{Path, Query};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use serde_json::json;

use super::{Params, number};

/// Size of the chunks `/test/bytes` streams: a multiple of 256, so every chunk is the same
/// slice of [`PATTERN`] and byte `i` of any body is `i % 256`.
const CHUNK: usize = 64 * 1024;

/// The bytes of every `/test/bytes` body: a fixed pattern, so clients can check what they
/// stored without the sandbox allocating per response.
static PATTERN: [u8; CHUNK] = pattern();

const fn pattern() -> [u8; CHUNK] {
    let mut bytes = [0u8; CHUNK];
    let mut i = 0;
    while i < CHUNK {
        bytes[i] = (i % 256) as u8;
        i += 1;
    }
    bytes
}

/// `GET /test/bytes?size=N[&chunked=1]`: N bytes (byte `i` is `i % 256`), streamed chunk by
/// chunk so that N may be gigabytes; with `Content-Length` unless `chunked` is set.
pub(super) async fn bytes(Query(params): Query<Params>) -> Response {
    let size = match number(&params, "size", 1024) {
        Ok(size) => size,
        Err(bad) => return bad.into_response(),
    };
    let chunked = params
        .get("chunked")
        .is_some_and(|v| matches!(v.as_str(), "1" | "true" | "yes"));
    let mut left = size;
    let chunks = std::iter::from_fn(move || {
        if left == 0 {
            return None;
        }
        let n = usize::try_from(left).map_or(CHUNK, |left| left.min(CHUNK));
        left -= n as u64;
        Some(Ok::<_, Infallible>(Bytes::from_static(&PATTERN[..n])))
    });
    let mut response = Response::new(Body::from_stream(futures_util::stream::iter(chunks)));
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    if !chunked {
        // The body's own size is unknown (a stream); hyper sends this length and checks it.
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(size));
    }
    response
}

/// `GET /test/html`: a login page, as a misconfigured API or an expired SSO session returns
/// with status 200 where JSON was expected.
pub(super) async fn html() -> Html<&'static str> {
    Html(
        "<!doctype html>\n<html><head><title>Sign in</title></head><body>\n\
         <h1>Sign in</h1>\n<form method=\"post\" action=\"/login\">\n\
         <label>Username <input name=\"username\"></label>\n\
         <label>Password <input name=\"password\" type=\"password\"></label>\n\
         <button type=\"submit\">Sign in</button>\n</form>\n</body></html>\n",
    )
}

/// `ANY /test/status/{code}?retry_after=V&message=M`.
pub(super) async fn status(Path(code): Path<String>, Query(params): Query<Params>) -> Response {
    let status = match code.parse::<u16>().ok().and_then(|c| StatusCode::from_u16(c).ok()) {
        Some(status) if (200..=599).contains(&status.as_u16()) => status,
        _ => {
            return crate::error_json(
                StatusCode::BAD_REQUEST,
                &format!("`{code}` is not a final HTTP status (200-599)"),
            );
        }
    };
    let mut response = if matches!(status.as_u16(), 204 | 304) {
        status.into_response()
    } else {
        let message = params
            .get("message")
            .cloned()
            .unwrap_or_else(|| format!("status {}", status.as_u16()));
        crate::error_json(status, &message)
    };
    if let Some(value) = params.get("retry_after").and_then(|v| HeaderValue::from_str(v).ok()) {
        response.headers_mut().insert(header::RETRY_AFTER, value);
    }
    response
}

/// `GET /test/gzip`: a JSON body, gzip-compressed when the request accepts gzip (with
/// `Content-Encoding: gzip`), plain otherwise; `compressed` says which.
pub(super) async fn gzip(headers: HeaderMap) -> Response {
    let compress = accepts_gzip(&headers);
    let items: Vec<_> = (1..=100)
        .map(|n| json!({"id": n, "name": format!("Item {n}")}))
        .collect();
    let body = json!({"compressed": compress, "items": items});
    if !compress {
        return ([(header::VARY, "accept-encoding")], Json(body)).into_response();
    }
    let compressed = serde_json::to_vec(&body).ok().and_then(|plain| {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        encoder.write_all(&plain).ok()?;
        encoder.finish().ok()
    });
    match compressed {
        Some(bytes) => (
            [
                (header::CONTENT_TYPE, "application/json"),
                (header::CONTENT_ENCODING, "gzip"),
                (header::VARY, "accept-encoding"),
            ],
            bytes,
        )
            .into_response(),
        None => crate::error_json(StatusCode::INTERNAL_SERVER_ERROR, "gzip compression failed"),
    }
}

/// Whether `Accept-Encoding` lists `gzip` (or `x-gzip`) with a non-zero quality.
fn accepts_gzip(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|coding| {
            let mut params = coding.split(';').map(str::trim);
            let name = params.next().unwrap_or("");
            let zero_quality = params.any(|p| {
                p.strip_prefix("q=")
                    .and_then(|q| q.parse::<f32>().ok())
                    .is_some_and(|q| q <= 0.0)
            });
            (name.eq_ignore_ascii_case("gzip") || name.eq_ignore_ascii_case("x-gzip")) && !zero_quality
        })
}

/// Longest wait `/test/slow` accepts (10 minutes).
const MAX_SLEEP_MS: u64 = 600_000;

/// `GET /test/slow?ms=N`: waits N ms (default 1000), then answers `{"slept_ms": N}`.
pub(super) async fn slow(Query(params): Query<Params>) -> Response {
    let ms = match number(&params, "ms", 1000) {
        Ok(ms) => ms.min(MAX_SLEEP_MS),
        Err(bad) => return bad.into_response(),
    };
    tokio::time::sleep(Duration::from_millis(ms)).await;
    Json(json!({"slept_ms": ms})).into_response()
}
