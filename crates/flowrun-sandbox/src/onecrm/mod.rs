//! The 1CRM REST API ("Next Generation REST API", `api.php`) under `/onecrm`, as
//! `apis/onecrm.md` (shared docs) describes it: Basic auth with per-user module access,
//! `/data/{Model}` lists, records and related lists, `/meta`, `/me`, file upload and
//! download, webhooks, and the edition / API switches of the admin settings. See
//! `docs/sandbox.md` ("1CRM") for the routes and every guess marked UNSURE.

use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::{Next, from_fn, from_fn_with_state};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::state::{SandboxState, lock};

mod datetime;
mod files;
mod models;
mod query;
mod routes;
mod seed;
mod store;
mod webhooks;

pub use webhooks::WebhookDelivery;

/// Where the simulator is nested; the API itself is at `/onecrm/api.php` and, as in a
/// sub-folder install, `/onecrm/1crm/api.php`.
pub const PREFIX: &str = "/onecrm";

/// The administrator (`Users:1`): access to every module.
pub const ADMIN_USERNAME: &str = "admin";
pub const ADMIN_PASSWORD: &str = "onecrm-admin";
/// A sales user (`Users:2`) without access to the `Invoice` module (403).
pub const SALES_USERNAME: &str = "sales";
pub const SALES_PASSWORD: &str = "onecrm-sales";

/// A 1CRM user the simulator knows.
#[derive(Debug)]
pub struct User {
    /// The bare id stored in `assigned_user_id`; `/me` answers `Users:<id>`.
    pub id: &'static str,
    pub username: &'static str,
    password: &'static str,
    first_name: &'static str,
    last_name: &'static str,
    /// `name` of `/me` and of `assigned_user`.
    display: &'static str,
    email: &'static str,
    groups: &'static [&'static str],
    /// Models this user may not read or write (1CRM ACL).
    denied: &'static [&'static str],
}

impl User {
    pub fn full_name(&self) -> &'static str {
        self.display
    }

    /// 403 when the user has no access to the model.
    pub fn check(&self, model: &str) -> Result<(), ApiError> {
        if self.denied.contains(&model) {
            return Err(error_kind(
                StatusCode::FORBIDDEN,
                "access_denied",
                format!("You do not have access to the {model} module"),
            ));
        }
        Ok(())
    }
}

pub const USERS: &[User] = &[
    User {
        id: "1",
        username: ADMIN_USERNAME,
        password: ADMIN_PASSWORD,
        first_name: "",
        last_name: "Administrator",
        display: "Administrator",
        email: "admin@onecrm.example",
        groups: &[],
        denied: &[],
    },
    User {
        id: "2",
        username: SALES_USERNAME,
        password: SALES_PASSWORD,
        first_name: "Sally",
        last_name: "Sales",
        display: "Sally Sales",
        email: "sally.sales@onecrm.example",
        groups: &["Sales"],
        denied: &["Invoice"],
    },
];

/// The display name of a user id (`"1"` or `"Users:1"`).
pub fn user_name(id: &str) -> Option<&'static str> {
    let id = id.trim_start_matches("Users:");
    USERS.iter().find(|u| u.id == id).map(User::full_name)
}

/// The 1CRM edition: the API exists only in Pro and Enterprise.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Edition {
    #[default]
    Enterprise,
    Professional,
    /// Startup / Startup+: every API call gets 403.
    Startup,
}

/// The admin settings a test can switch ("API and OAuth settings" in 1CRM).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OneCrmSettings {
    /// "Enable 1CRM API": when off, every call gets 403.
    pub api_enabled: bool,
    pub edition: Edition,
    /// "Allow Basic authentication": when off, Basic credentials get 401.
    pub basic_auth_enabled: bool,
    /// Deliver webhooks before the write that fired them answers (the test hook of
    /// apis/onecrm.md); otherwise they are sent in the background, as 1CRM does.
    pub synchronous_webhooks: bool,
}

impl Default for OneCrmSettings {
    fn default() -> Self {
        Self {
            api_enabled: true,
            edition: Edition::Enterprise,
            basic_auth_enabled: true,
            synchronous_webhooks: false,
        }
    }
}

/// The simulator's part of the sandbox state.
pub struct OneCrm {
    settings: Mutex<OneCrmSettings>,
    /// Seeded on first use: most sandboxes never see a 1CRM request.
    store: OnceLock<Mutex<store::Store>>,
    pub webhooks: webhooks::Webhooks,
    /// Wall-clock Unix seconds at sandbox start; record timestamps are this plus sandbox
    /// time, so advancing the clock moves `date_modified` too.
    started_unix: u64,
}

impl Default for OneCrm {
    fn default() -> Self {
        Self {
            settings: Mutex::new(OneCrmSettings::default()),
            store: OnceLock::new(),
            webhooks: webhooks::Webhooks::default(),
            started_unix: SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()),
        }
    }
}

impl OneCrm {
    pub fn settings(&self) -> OneCrmSettings {
        lock(&self.settings).clone()
    }

    pub fn set_settings(&self, settings: OneCrmSettings) {
        *lock(&self.settings) = settings;
    }

    fn store(&self) -> MutexGuard<'_, store::Store> {
        lock(self.store.get_or_init(|| Mutex::new(seed::generate())))
    }

    /// Unix seconds now, in sandbox time.
    fn now_unix(&self, clock: Duration) -> u64 {
        self.started_unix + clock.as_secs()
    }
}

/// The simulator's routes, relative to [`PREFIX`].
pub fn router(state: Arc<SandboxState>) -> Router {
    let api = Router::new()
        .route("/version", get(routes::version))
        .route("/public_key", get(routes::public_key))
        .route("/me", get(routes::me))
        .route("/meta/modules", get(routes::modules))
        .route("/meta/fields/{model}", get(routes::fields))
        .route("/data/{model}", get(routes::list).post(routes::create))
        .route(
            "/data/{model}/{id}",
            get(routes::read)
                .patch(routes::update)
                .put(routes::update)
                .delete(routes::remove),
        )
        .route("/data/{model}/{id}/{link}", get(routes::related).post(routes::link))
        .route("/data/{model}/{id}/{link}/{related}", delete(routes::unlink))
        .route("/files/upload", post(files::upload).layer(files::body_limit()))
        .route("/files/info/{model}/{id}", get(files::info))
        .route("/files/download/{model}/{id}", get(files::download))
        .route("/webhooks", get(webhooks::list).post(webhooks::subscribe))
        .route("/webhooks/{id}", delete(webhooks::unsubscribe))
        .fallback(unknown_route)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(from_fn_with_state(state.clone(), authenticate))
        .with_state(state);
    // Nested as services so that the method override below runs before routing picks a
    // handler by method.
    Router::new()
        .nest_service("/api.php", api.clone())
        .nest_service("/1crm/api.php", api)
        .layer(from_fn(method_override))
}

/// `X-HTTP-Method-Override` on a POST: the request is routed as that method.
async fn method_override(mut request: Request, next: Next) -> Response {
    if request.method() == Method::POST
        && let Some(value) = request.headers().get("x-http-method-override")
    {
        let method = match value.to_str().map(str::trim).map(str::to_ascii_uppercase).as_deref() {
            Ok("PUT") => Method::PUT,
            Ok("PATCH") => Method::PATCH,
            Ok("DELETE") => Method::DELETE,
            Ok("GET") => Method::GET,
            Ok("POST") => Method::POST,
            _ => {
                return error(
                    StatusCode::BAD_REQUEST,
                    "X-HTTP-Method-Override must be PUT, PATCH, DELETE or GET",
                )
                .into_response();
            }
        };
        *request.method_mut() = method;
    }
    next.run(request).await
}

/// Edition and API switches, then Basic auth (except `/version` and `/public_key`); the
/// user goes into the request's extensions for the handlers.
async fn authenticate(State(state): State<Arc<SandboxState>>, mut request: Request, next: Next) -> Response {
    let settings = state.onecrm.settings();
    if settings.edition == Edition::Startup {
        return error_kind(
            StatusCode::FORBIDDEN,
            "forbidden",
            "The API is not available in the Startup edition of 1CRM",
        )
        .into_response();
    }
    if !settings.api_enabled {
        return error_kind(
            StatusCode::FORBIDDEN,
            "forbidden",
            "The 1CRM API is disabled; an administrator can enable it in API and OAuth settings",
        )
        .into_response();
    }
    let path = request.uri().path();
    if path == "/version" || path == "/public_key" {
        return next.run(request).await;
    }
    match basic_user(request.headers()) {
        Some(Ok(_)) if !settings.basic_auth_enabled => error_kind(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "Basic authentication is disabled for the API",
        )
        .into_response(),
        Some(Ok(user)) => {
            request.extensions_mut().insert(user);
            next.run(request).await
        }
        Some(Err(())) => error_kind(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "Invalid user name or password",
        )
        .into_response(),
        None => error_kind(StatusCode::UNAUTHORIZED, "unauthorized", "Authentication required").into_response(),
    }
}

/// The user of an `Authorization: Basic` header: `None` without one, `Err` when wrong.
fn basic_user(headers: &HeaderMap) -> Option<Result<&'static User, ()>> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().unwrap_or("");
    let (scheme, credentials) = value.split_once(' ').unwrap_or((value, ""));
    if !scheme.eq_ignore_ascii_case("basic") {
        return Some(Err(()));
    }
    let decoded = STANDARD
        .decode(credentials.trim())
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok());
    let user = decoded
        .as_deref()
        .and_then(|d| d.split_once(':'))
        .and_then(|(name, password)| USERS.iter().find(|u| u.username == name && u.password == password));
    Some(user.ok_or(()))
}

async fn unknown_route(request: Request) -> Response {
    error(
        StatusCode::NOT_FOUND,
        format!("Route {} not found", request.uri().path()),
    )
    .into_response()
}

async fn method_not_allowed(request: Request) -> Response {
    error(
        StatusCode::METHOD_NOT_ALLOWED,
        format!("Method {} not allowed on {}", request.method(), request.uri().path()),
    )
    .into_response()
}

/// An error answer in 1CRM's shape: `{"message": ...}`, with `"error": kind` when given.
/// A small type rather than a `Response`, so that `Result`s carrying it stay small.
#[derive(Debug)]
pub(crate) struct ApiError {
    status: StatusCode,
    kind: Option<&'static str>,
    message: String,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = match self.kind {
            Some(kind) => json!({"error": kind, "message": self.message}),
            None => json!({"message": self.message}),
        };
        (self.status, Json(body)).into_response()
    }
}

/// 1CRM's error body: `{"message": ...}`.
pub(crate) fn error(status: StatusCode, message: impl Into<String>) -> ApiError {
    ApiError {
        status,
        kind: None,
        message: message.into(),
    }
}

/// 1CRM's error body with its type: `{"error": ..., "message": ...}`.
pub(crate) fn error_kind(status: StatusCode, kind: &'static str, message: impl Into<String>) -> ApiError {
    ApiError {
        status,
        kind: Some(kind),
        message: message.into(),
    }
}

/// The JSON object of a request body; 400 with a message when it is not one.
fn json_body(body: &[u8]) -> Result<serde_json::Map<String, Value>, ApiError> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(error(StatusCode::BAD_REQUEST, "The request body must be a JSON object")),
        Err(err) => Err(error(
            StatusCode::BAD_REQUEST,
            format!("The request body is not valid JSON: {err}"),
        )),
    }
}
