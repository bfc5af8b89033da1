//! Faithful simulators of the APIs flowrun talks to, served over real sockets.
//!
//! Tests of the HTTP layer and of the connectors start a [`Sandbox`] in-process on an
//! ephemeral port and point flowrun at it; `flowrun sandbox` starts one for people. Real
//! sockets rather than mocked clients, so that connection reuse, timeouts, broken
//! connections and streamed bodies are exercised as they are in production.
//!
//! Each simulated API is one module with a `router(state) -> Router`, nested under its own
//! prefix (`/test` for the generic test API; product APIs get theirs). All of them share
//! one `state::SandboxState` (clock, fault rules, request counters, OAuth tokens), which
//! [`Control`] and the `/_sandbox` HTTP API steer. See `docs/sandbox.md`.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

mod conexiom;
mod control;
mod exact;
mod faults;
mod onecrm;
mod state;
mod test_api;
mod tokens;

pub use conexiom::{ConexiomCounts, ConexiomSettings};
pub use control::Control;
pub use exact::{ExactCounts, ExactSettings, WebhookDelivery as ExactWebhookDelivery};
pub use faults::{Fault, FaultRule};
pub use onecrm::{Edition as OneCrmEdition, OneCrmSettings, WebhookDelivery as OneCrmWebhookDelivery};

/// The demo credentials of the generic test API (`/test`), as `docs/sandbox.md` lists them;
/// `flowrun sandbox` prints them.
pub mod test_credentials {
    pub use crate::test_api::{
        API_KEY, CLIENT_ID, CLIENT_SECRET, PASSWORD, SEED_REFRESH_TOKEN, STATIC_TOKEN, USERNAME,
    };
}

/// The demo users of the 1CRM simulator (`/onecrm`), as `docs/sandbox.md` lists them;
/// `flowrun sandbox` prints them. `sales` has no access to the `Invoice` module.
pub mod onecrm_credentials {
    pub use crate::onecrm::{ADMIN_PASSWORD, ADMIN_USERNAME, SALES_PASSWORD, SALES_USERNAME};
}

/// The demo credentials of the Conexiom simulator (`/conexiom`), as `docs/sandbox.md` lists
/// them; `flowrun sandbox` prints them. The user reads HubCo [`HUBCO_ID`](conexiom_credentials::HUBCO_ID);
/// [`OTHER_HUBCO_ID`](conexiom_credentials::OTHER_HUBCO_ID) exists but answers 403.
pub mod conexiom_credentials {
    pub use crate::conexiom::{CLIENT_ID, CLIENT_SECRET, HUBCO_ID, OTHER_HUBCO_ID, PASSWORD, USERNAME};
}

/// The demo credentials of the Exact Online simulator (`/exact`), as `docs/sandbox.md` lists
/// them; `flowrun sandbox` prints them. The user's current division is
/// [`DIVISION`](exact_credentials::DIVISION); [`OTHER_DIVISION`](exact_credentials::OTHER_DIVISION)
/// is theirs too; [`FORBIDDEN_DIVISION`](exact_credentials::FORBIDDEN_DIVISION) answers 403.
pub mod exact_credentials {
    pub use crate::exact::{
        CLIENT_ID, CLIENT_SECRET, DIVISION, FORBIDDEN_DIVISION, OTHER_DIVISION, PASSWORD, USERNAME, WEBHOOK_SECRET,
    };
}

/// How a sandbox is set up.
#[derive(Clone, Debug)]
pub struct SandboxConfig {
    /// Size of the paged collection of the test API (`/test/pages/*`); a `total` query
    /// parameter overrides it per request.
    pub total_records: usize,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        Self { total_records: 250 }
    }
}

/// How long [`Sandbox::shutdown`] waits for open requests (e.g. a body a client never
/// finishes reading) before it stops waiting.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// A running sandbox. Dropping it starts a graceful shutdown in the background;
/// [`Sandbox::shutdown`] also waits for it.
pub struct Sandbox {
    addr: SocketAddr,
    state: Arc<state::SandboxState>,
    stop: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<io::Result<()>>>,
}

impl Sandbox {
    /// Binds `127.0.0.1:port` (`0` for an ephemeral port) and serves every simulator on the
    /// current tokio runtime.
    pub async fn start(port: u16, config: SandboxConfig) -> io::Result<Sandbox> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
        let addr = listener.local_addr()?;
        let state = Arc::new(state::SandboxState::new(config, addr));
        let app = app(state.clone());
        let (stop, stopped) = oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    // A dropped sender stops the server too.
                    let _ = stopped.await;
                })
                .await
        });
        Ok(Sandbox {
            addr,
            state,
            stop: Some(stop),
            server: Some(server),
        })
    }

    /// `http://127.0.0.1:PORT`, without a trailing slash.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The address the sandbox listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Base URL of the generic test API: [`Sandbox::base_url`] + `/test`.
    pub fn test_api_url(&self) -> String {
        format!("{}{}", self.base_url(), test_api::PREFIX)
    }

    /// Base of the 1CRM simulator: [`Sandbox::base_url`] + `/onecrm`. The API itself is at
    /// `…/onecrm/api.php` (the connector's `base_url`) and `…/onecrm/1crm/api.php`.
    pub fn onecrm_url(&self) -> String {
        format!("{}{}", self.base_url(), onecrm::PREFIX)
    }

    /// The Conexiom API root (the connector's `api_url`): [`Sandbox::base_url`] +
    /// `/conexiom/Conexiom.API`. The token endpoint is `…/token` by default.
    pub fn conexiom_url(&self) -> String {
        format!("{}{}{}", self.base_url(), conexiom::PREFIX, conexiom::API_ROOT)
    }

    /// The Exact Online base URI (the connector's `base_uri`): [`Sandbox::base_url`] +
    /// `/exact`. OAuth is at `…/api/oauth2/{auth,token}`, the REST API at `…/api/v1/`.
    pub fn exact_url(&self) -> String {
        format!("{}{}", self.base_url(), exact::PREFIX)
    }

    /// A handle to steer the sandbox: clock, faults, counters.
    pub fn control(&self) -> Control {
        Control::new(self.state.clone())
    }

    /// Stops accepting connections, lets open requests finish (for at most a few seconds)
    /// and waits for the server task.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(server) = self.server.take() {
            let abort = server.abort_handle();
            if tokio::time::timeout(SHUTDOWN_GRACE, server).await.is_err() {
                abort.abort();
            }
        }
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Every simulator under its prefix behind the fault middleware, plus the control API.
fn app(state: Arc<state::SandboxState>) -> Router {
    let apis = Router::new()
        .nest(test_api::PREFIX, test_api::router(state.clone()))
        .nest(onecrm::PREFIX, onecrm::router(state.clone()))
        .nest(conexiom::PREFIX, conexiom::router(state.clone()))
        .nest(exact::PREFIX, exact::router(state.clone()))
        .layer(axum::middleware::from_fn_with_state(state.clone(), faults::middleware));
    Router::new()
        .nest("/_sandbox", control::router(state))
        .merge(apis)
        .layer(axum::middleware::map_response(close_after_unread_body))
}

/// A body over a limit is refused before it is read to the end, so the connection cannot carry
/// another request: hyper closes it after the answer. `Connection: close` says so, as servers
/// in the field do, so a client does not send its next request into the closing socket.
async fn close_after_unread_body(mut response: Response) -> Response {
    if response.status() == StatusCode::PAYLOAD_TOO_LARGE {
        response.headers_mut().insert(
            axum::http::header::CONNECTION,
            axum::http::HeaderValue::from_static("close"),
        );
    }
    response
}

/// The error body shared by the simulators' own errors: `{"error":{"message": ...}}`.
pub(crate) fn error_json(status: StatusCode, message: &str) -> Response {
    (status, axum::Json(json!({"error": {"message": message}}))).into_response()
}
