//! The loopback listener of `flowrun auth login`: where the provider sends the browser back
//! (RFC 8252 §7.3). One path answers; the first redirect that carries `code`, `error` or
//! `state` is handed to the command, and its page waits for the command's outcome, so the tab
//! says whether the login worked.

use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::response::{Html, IntoResponse, Response};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// How long [`Loopback::stop`] waits for the last page to be sent.
const STOP_GRACE: Duration = Duration::from_secs(3);

/// A redirect that reached the listener: its query, and where the command sends the page the
/// browser gets.
pub struct Arrived {
    pub query: Vec<(String, String)>,
    reply: oneshot::Sender<Page>,
}

impl Arrived {
    /// Answers the browser's tab.
    pub fn answer(self, page: Page) {
        let _ = self.reply.send(page);
    }
}

/// The page the browser's tab shows at the end.
pub struct Page {
    pub ok: bool,
    pub message: String,
}

/// The running listener.
pub struct Loopback {
    /// The port of the first address (the one the redirect URI names).
    pub port: u16,
    stop: CancellationToken,
    servers: Vec<JoinHandle<io::Result<()>>>,
}

struct Shared {
    path: String,
    waiting: Mutex<Option<oneshot::Sender<Arrived>>>,
}

impl Loopback {
    /// Listens on `first` (which must bind) and on each of `also` that binds too (`localhost`
    /// may resolve to `::1` in the browser), answering the redirect at `path`. The receiver
    /// gets the first redirect.
    pub async fn start(
        first: SocketAddr,
        also: &[SocketAddr],
        path: &str,
    ) -> io::Result<(Loopback, oneshot::Receiver<Arrived>)> {
        let listener = tokio::net::TcpListener::bind(first).await?;
        let port = listener.local_addr()?.port();
        let mut listeners = vec![listener];
        for addr in also {
            let addr = SocketAddr::new(addr.ip(), port);
            if let Ok(listener) = tokio::net::TcpListener::bind(addr).await {
                listeners.push(listener);
            }
        }
        let (sender, receiver) = oneshot::channel();
        let shared = Arc::new(Shared {
            path: if path.is_empty() {
                "/".to_owned()
            } else {
                path.to_owned()
            },
            waiting: Mutex::new(Some(sender)),
        });
        let app = Router::new().fallback(redirect).with_state(shared);
        let stop = CancellationToken::new();
        let servers = listeners
            .into_iter()
            .map(|listener| {
                let app = app.clone();
                let stopped = stop.clone().cancelled_owned();
                tokio::spawn(async move { axum::serve(listener, app).with_graceful_shutdown(stopped).await })
            })
            .collect();
        Ok((Loopback { port, stop, servers }, receiver))
    }

    /// Stops listening once the pages being sent are sent (waiting at most a few seconds).
    pub async fn stop(self) {
        self.stop.cancel();
        for server in self.servers {
            let abort = server.abort_handle();
            if tokio::time::timeout(STOP_GRACE, server).await.is_err() {
                abort.abort();
            }
        }
    }
}

/// Every request: the redirect at the path, a 404 elsewhere (a browser also asks for
/// `/favicon.ico`).
async fn redirect(State(shared): State<Arc<Shared>>, uri: Uri) -> Response {
    if uri.path() != shared.path {
        return page(
            StatusCode::NOT_FOUND,
            "Not found",
            "flowrun is waiting for the sign-in redirect on another path.",
        );
    }
    let query: Vec<(String, String)> = url::form_urlencoded::parse(uri.query().unwrap_or_default().as_bytes())
        .into_owned()
        .collect();
    if !query
        .iter()
        .any(|(name, _)| matches!(name.as_str(), "code" | "error" | "state"))
    {
        return page(
            StatusCode::BAD_REQUEST,
            "Not a sign-in redirect",
            "This address receives the OAuth2 redirect of `flowrun auth login`, which carries `code` or `error`; this request has neither.",
        );
    }
    let waiting = shared.waiting.lock().ok().and_then(|mut waiting| waiting.take());
    let Some(waiting) = waiting else {
        return page(
            StatusCode::CONFLICT,
            "Already handled",
            "This sign-in has already come back to flowrun; the terminal says how it went. You can close this tab.",
        );
    };
    let (reply, answer) = oneshot::channel();
    if waiting.send(Arrived { query, reply }).is_err() {
        return page(
            StatusCode::SERVICE_UNAVAILABLE,
            "flowrun stopped waiting",
            "flowrun is no longer waiting for this sign-in; run `flowrun auth login` again.",
        );
    }
    match answer.await {
        Ok(Page { ok: true, message }) => page(
            StatusCode::OK,
            "Logged in",
            &format!("{message} You can close this tab."),
        ),
        Ok(Page { ok: false, message }) => page(
            StatusCode::BAD_REQUEST,
            "Login failed",
            &format!("{message} The terminal running `flowrun auth login` says the same; you can close this tab."),
        ),
        Err(_) => page(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Login failed",
            "flowrun stopped before finishing the sign-in; the terminal says why.",
        ),
    }
}

fn page(status: StatusCode, title: &str, message: &str) -> Response {
    let (title, message) = (escape(title), escape(message));
    let body = format!(
        "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>flowrun: {title}</title></head>\n\
         <body style=\"font-family: sans-serif; max-width: 40em; margin: 4em auto\">\n\
         <h1>{title}</h1>\n<p>{message}</p>\n</body></html>\n"
    );
    (status, Html(body)).into_response()
}

/// Text made safe inside HTML elements.
fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            c => escaped.push(c),
        }
    }
    escaped
}
