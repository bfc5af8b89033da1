//! `flowrun auth login CONNECTION`: the OAuth2 authorization-code consent of a project
//! connection, run once in the browser; the tokens go to the state store, where runs find them
//! (and refresh them) by the connection's name.
//!
//! The connection comes from the project file (with `--profile`), its templates are rendered
//! with the environment and the secrets it reads (`--secrets`, the environment), and the HTTP
//! layer's consent (`flowrun_connect::auth::consent`) does the protocol: PKCE, `state`, the
//! code exchange and the save. This file adds the loopback listener the browser comes back to
//! (`loopback.rs`), the browser, and the messages. Nothing printed holds a token or a secret.

mod loopback;

use std::io::{self, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::Path;
use std::sync::Arc;

use flowrun_connect::auth::Tokens;
use flowrun_connect::auth::consent::Consent;
use flowrun_connect::client::ClientSettings;
use flowrun_connect::config::{Auth, HttpConnectionConfig, OAuth2Grant};
use flowrun_connect::runtime::HttpRuntime;
use flowrun_expr::{CompiledValue, Redactor, Runtime, Scope, Secret, Value};
use flowrun_flow::model::Connection;
use indexmap::IndexMap;
use serde_json::Value as Json;
use url::{Host, Url};

use crate::cli::{AuthCommand, AuthLoginArgs, LogFormat};
use crate::run::logging;
use crate::{exit_code, prepare};
use loopback::{Loopback, Page};

/// The path flowrun listens on when the connection names no `redirect_uri`.
const DEFAULT_CALLBACK_PATH: &str = "/callback";

pub fn run(command: &AuthCommand) -> io::Result<u8> {
    match command {
        AuthCommand::Login(args) => login(args),
    }
}

fn login(args: &AuthLoginArgs) -> io::Result<u8> {
    let name = args.connection.as_str();
    let overrides = prepare::Overrides {
        profile: args.profile.as_deref(),
        state: args.state.as_deref(),
        secrets_file: args.secrets.as_deref(),
    };
    let found = match prepare::project_connection(Path::new(""), name, overrides) {
        Ok(found) => found,
        Err(problem) => return invalid(&problem.to_string()),
    };
    let names = flowrun_engine::plan::names_in(found.connection.config.values());
    let secrets = match prepare::secrets(&names.secrets, found.secrets_file.as_deref()) {
        Ok(secrets) => secrets,
        Err(problems) => {
            for problem in problems {
                eprintln!("error: {problem}");
            }
            return Ok(exit_code::INVALID);
        }
    };
    let redactor = Arc::new(Redactor::new(secrets.values()));
    logging::init(LogFormat::Text, redactor.clone());
    let env: IndexMap<String, String> = names
        .env
        .iter()
        .filter_map(|name| Some((name.clone(), std::env::var(name).ok()?)))
        .collect();

    let settings = match render(&found.connection, &env, &secrets)
        .and_then(|config| client_settings(&found.connection.connector, config))
    {
        Ok(settings) => settings,
        Err(message) => return invalid(&redactor.redact(&format!("connection `{name}`: {message}"))),
    };
    let redirect_uri = match &settings.http.auth {
        Some(Auth::OAuth2 {
            grant: OAuth2Grant::AuthorizationCode,
            redirect_uri,
            ..
        }) => redirect_uri.clone(),
        other => {
            return invalid(&not_authorization_code(
                name,
                &found.connection.connector,
                other.as_ref(),
            ));
        }
    };
    let listen = match Listen::of(redirect_uri.as_deref()) {
        Ok(listen) => listen,
        Err(problem) => return invalid(&redactor.redact(&format!("connection `{name}`: {problem}"))),
    };

    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let login = Login {
        name,
        args,
        settings: &settings,
        listen,
        state_url: &found.state_url,
        redactor: &redactor,
    };
    runtime.block_on(login.run())
}

/// The rest of a login, once the connection is known to use the authorization-code grant.
struct Login<'a> {
    name: &'a str,
    args: &'a AuthLoginArgs,
    settings: &'a ClientSettings,
    listen: Listen,
    state_url: &'a str,
    redactor: &'a Redactor,
}

impl Login<'_> {
    async fn run(self) -> io::Result<u8> {
        let name = self.name;
        let store = match flowrun_state::open(self.state_url).await {
            Ok(store) => store,
            Err(error) => {
                eprintln!("error: the state store {} cannot be opened: {error}", self.state_url);
                return Ok(exit_code::FAILURE);
            }
        };
        let http = HttpRuntime::new(flowrun_engine::tokens::token_store(Some(&store)));
        let client = match http.client(Some(name.into()), self.settings) {
            Ok(client) => client,
            Err(error) => return invalid(&about(name, &self.redactor.redact(&error.message))),
        };
        let Some(manager) = client.token_manager().cloned() else {
            return invalid(&format!("connection `{name}` does not use oauth2"));
        };

        let (first, also) = self.listen.addresses();
        let (listener, arrived) = match Loopback::start(first, &also, self.listen.path()).await {
            Ok(started) => started,
            Err(error) => return invalid(&self.listen.bind_error(name, &error)),
        };
        let redirect_uri = self.listen.uri(listener.port);
        let consent = match Consent::begin(&manager, &redirect_uri) {
            Ok(consent) => consent,
            Err(error) => {
                listener.stop().await;
                return invalid(&about(name, &self.redactor.redact(&error.message)));
            }
        };
        {
            let mut stdout = io::stdout().lock();
            writeln!(stdout, "Open this URL in a browser to grant access: {}", consent.url)?;
            stdout.flush()?;
        }
        if !self.args.no_browser && !open_browser(consent.url.as_str()) {
            eprintln!("note: no browser could be opened; open the URL above yourself");
        }
        let timeout = self.args.timeout;
        eprintln!("Waiting for the browser to come back to {redirect_uri} (at most {timeout}; Ctrl-C to stop)");

        let arrived = tokio::select! {
            arrived = tokio::time::timeout(timeout.as_std(), arrived) => arrived,
            () = interrupted() => {
                listener.stop().await;
                eprintln!("\ninterrupted: no tokens were stored");
                return Ok(exit_code::INTERRUPTED);
            }
        };
        let arrived = match arrived {
            Ok(Ok(arrived)) => arrived,
            Ok(Err(_)) | Err(_) => {
                listener.stop().await;
                eprintln!(
                    "error: connection `{name}`: the browser did not come back to {redirect_uri} within {timeout}; nothing was stored. Run `flowrun auth login {name}` again (--timeout sets how long it waits)"
                );
                return Ok(exit_code::FAILURE);
            }
        };
        // The exchange is one request, but a token endpoint that hangs must not hold the
        // terminal: Ctrl-C still stops it.
        let finished = tokio::select! {
            finished = consent.finish(&manager, &arrived.query) => finished,
            () = interrupted() => {
                arrived.answer(Page { ok: false, message: "Interrupted in the terminal.".to_owned() });
                listener.stop().await;
                eprintln!("\ninterrupted while exchanging the code; run `flowrun auth login {name}` again");
                return Ok(exit_code::INTERRUPTED);
            }
        };
        let outcome = match finished {
            Ok(tokens) => Ok(self.logged_in(&tokens)),
            Err(error) => Err(about(name, &self.redactor.redact(&error.message))),
        };
        arrived.answer(match &outcome {
            Ok(_) => Page {
                ok: true,
                message: format!("flowrun has tokens for connection `{name}`."),
            },
            Err(message) => Page {
                ok: false,
                message: format!("{}.", capitalized(message)),
            },
        });
        listener.stop().await;
        match outcome {
            Ok(message) => {
                let mut stdout = io::stdout().lock();
                writeln!(stdout, "{message}")?;
                stdout.flush()?;
                Ok(exit_code::SUCCESS)
            }
            Err(message) => {
                eprintln!("error: {message}; nothing was stored");
                Ok(exit_code::FAILURE)
            }
        }
    }

    /// What the new tokens are, never what they hold.
    fn logged_in(&self, tokens: &Tokens) -> String {
        let name = self.name;
        let expiry = match tokens.expires_at {
            Some(at) => format!("expires at {}", at.round(jiff::Unit::Second).unwrap_or(at)),
            None => "the provider gave no expiry".to_owned(),
        };
        let refresh = if tokens.refresh_token.is_some() {
            "refresh token stored".to_owned()
        } else {
            format!(
                "no refresh token: the provider gave none, so run `flowrun auth login {name}` again when the access token expires"
            )
        };
        let place = flowrun_state::sqlite_path(self.state_url)
            .map(|path| format!(" in {}", path.display()))
            .unwrap_or_default();
        format!("Logged in: connection `{name}` has tokens ({expiry}; {refresh}){place}")
    }
}

/// Returns at the next Ctrl-C; never when no handler can be installed.
async fn interrupted() {
    if tokio::signal::ctrl_c().await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// Where the listener listens: the connection's loopback `redirect_uri`, or a free port on
/// 127.0.0.1 with [`DEFAULT_CALLBACK_PATH`].
#[derive(Debug, Clone, PartialEq)]
enum Listen {
    Configured {
        uri: String,
        host: LoopbackHost,
        port: u16,
        path: String,
    },
    FreePort,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum LoopbackHost {
    V4,
    V6,
    /// `localhost`: 127.0.0.1, and ::1 when it can be had (browsers may try it first).
    Localhost,
}

impl Listen {
    fn of(redirect_uri: Option<&str>) -> Result<Listen, String> {
        let Some(uri) = redirect_uri else {
            return Ok(Listen::FreePort);
        };
        let needs_loopback = |why: String| {
            format!(
                "{why}. `flowrun auth login` receives the provider's redirect itself, so `redirect_uri` must be a loopback URL such as http://127.0.0.1:8765/callback or http://localhost:8765/callback (registered with the provider); or leave `redirect_uri` out and flowrun uses http://127.0.0.1:<free port>{DEFAULT_CALLBACK_PATH}"
            )
        };
        let url = Url::parse(uri)
            .map_err(|error| needs_loopback(format!("`redirect_uri` `{uri}` is not a URL ({error})")))?;
        let host = match url.host() {
            Some(Host::Ipv4(ip)) if ip == Ipv4Addr::LOCALHOST => LoopbackHost::V4,
            Some(Host::Ipv6(ip)) if ip == Ipv6Addr::LOCALHOST => LoopbackHost::V6,
            Some(Host::Domain(domain)) if domain.eq_ignore_ascii_case("localhost") => LoopbackHost::Localhost,
            _ => {
                return Err(needs_loopback(format!(
                    "`redirect_uri` `{uri}` is not on this machine's loopback interface"
                )));
            }
        };
        if url.scheme() != "http" {
            return Err(needs_loopback(format!("`redirect_uri` `{uri}` is not an http:// URL")));
        }
        let port = match url.port_or_known_default() {
            Some(0) | None => {
                return Err(needs_loopback(format!(
                    "`redirect_uri` `{uri}` names no port to listen on"
                )));
            }
            Some(port) => port,
        };
        Ok(Listen::Configured {
            uri: uri.to_owned(),
            host,
            port,
            path: url.path().to_owned(),
        })
    }

    /// The address that must bind, and the others to try.
    fn addresses(&self) -> (SocketAddr, Vec<SocketAddr>) {
        let v4 = |port| SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port);
        let v6 = |port| SocketAddr::new(IpAddr::V6(Ipv6Addr::LOCALHOST), port);
        match self {
            Listen::FreePort => (v4(0), Vec::new()),
            Listen::Configured { host, port, .. } => match host {
                LoopbackHost::V4 => (v4(*port), Vec::new()),
                LoopbackHost::V6 => (v6(*port), Vec::new()),
                LoopbackHost::Localhost => (v4(*port), vec![v6(*port)]),
            },
        }
    }

    fn path(&self) -> &str {
        match self {
            Listen::Configured { path, .. } => path,
            Listen::FreePort => DEFAULT_CALLBACK_PATH,
        }
    }

    /// The redirect URI sent to the provider: the configured one as written.
    fn uri(&self, port: u16) -> String {
        match self {
            Listen::Configured { uri, .. } => uri.clone(),
            Listen::FreePort => format!("http://127.0.0.1:{port}{DEFAULT_CALLBACK_PATH}"),
        }
    }

    fn bind_error(&self, name: &str, error: &io::Error) -> String {
        match self {
            Listen::FreePort => format!("cannot listen on 127.0.0.1 for the sign-in redirect: {error}"),
            Listen::Configured { uri, port, .. } => {
                let why = match error.kind() {
                    io::ErrorKind::AddrInUse => format!("port {port} is already in use"),
                    io::ErrorKind::PermissionDenied => format!("not allowed to listen on port {port}"),
                    _ => error.to_string(),
                };
                format!(
                    "connection `{name}`: cannot listen for the sign-in redirect on `redirect_uri` {uri}: {why} ({error}); free the port, or register another loopback redirect_uri with the provider and set it in the connection"
                )
            }
        }
    }
}

/// Why a connection is not one `auth login` can log in.
fn not_authorization_code(name: &str, connector: &str, auth: Option<&Auth>) -> String {
    let what = match auth {
        None => format!("connection `{name}` (connector `{connector}`) has no `auth` in its config"),
        Some(Auth::Basic { .. }) => format!("connection `{name}` uses `basic` auth"),
        Some(Auth::Bearer { .. }) => format!("connection `{name}` uses `bearer` auth"),
        Some(Auth::ApiKey { .. }) => format!("connection `{name}` uses `api_key` auth"),
        Some(Auth::OAuth2 { grant, .. }) => format!(
            "connection `{name}` uses oauth2 with grant `{}`, which gets its tokens without a browser",
            grant_name(*grant)
        ),
    };
    format!(
        "{what}; `flowrun auth login` is for connections with `auth: {{ kind: oauth2, grant: authorization_code, … }}`"
    )
}

fn grant_name(grant: OAuth2Grant) -> String {
    serde_json::to_value(grant)
        .ok()
        .and_then(|value| value.as_str().map(str::to_owned))
        .unwrap_or_else(|| format!("{grant:?}"))
}

/// The connection's config with its templates rendered over `env` and `secrets` (as a run
/// renders it).
fn render(
    connection: &Connection,
    env: &IndexMap<String, String>,
    secrets: &IndexMap<String, Secret>,
) -> Result<Json, String> {
    let config = Json::Object(connection.config.clone().into_iter().collect());
    let compiled = CompiledValue::compile(&config).map_err(|errors| {
        errors
            .iter()
            .map(|error| {
                let path = if error.path.is_empty() {
                    String::new()
                } else {
                    format!(" at `{}`", error.path.join("."))
                };
                format!("template{path}: {}", error.error.message)
            })
            .collect::<Vec<_>>()
            .join("; ")
    })?;
    let mut scope = Scope::new(Runtime::default());
    scope
        .set(
            "env",
            Value::from_pairs(
                env.iter()
                    .map(|(name, value)| (name.as_str(), Value::from(value.as_str()))),
            ),
        )
        .set_secrets(secrets.clone());
    compiled
        .render(&scope)
        .map(|rendered| rendered.value)
        .map_err(|error| error.message)
}

/// The HTTP client settings of a rendered config: the `http` connector's whole connection;
/// for other connectors, the shared HTTP keys their connections embed.
fn client_settings(connector: &str, config: Json) -> Result<ClientSettings, String> {
    if let Some(settings) = crate::catalog::registry()
        .connector(connector)
        .and_then(|runtime| runtime.client_settings(&config))
    {
        return settings.map_err(|error| error.message);
    }
    if connector == flowrun_connector_http::NAME {
        let connection: flowrun_connector_http::HttpConnection =
            serde_json::from_value(config).map_err(|error| format!("invalid config: {error}"))?;
        return Ok(ClientSettings {
            base_url: connection.base_url,
            http: connection.http,
            quota: None,
        });
    }
    let Json::Object(mut config) = config else {
        return Err("`config` is not a mapping".to_owned());
    };
    let shared: serde_json::Map<String, Json> = ["auth", "rate_limit", "timeout", "max_response_size"]
        .into_iter()
        .filter_map(|key| config.remove(key).map(|value| (key.to_owned(), value)))
        .collect();
    let http: HttpConnectionConfig =
        serde_json::from_value(Json::Object(shared)).map_err(|error| format!("invalid config: {error}"))?;
    Ok(ClientSettings {
        base_url: None,
        http,
        quota: None,
    })
}

/// Tries the system's opener (`open`, `xdg-open`, the URL handler on Windows); false when it
/// could not be started. Its outcome is not awaited.
fn open_browser(url: &str) -> bool {
    let mut command = if cfg!(target_os = "macos") {
        std::process::Command::new("open")
    } else if cfg!(windows) {
        let mut command = std::process::Command::new("rundll32");
        command.arg("url.dll,FileProtocolHandler");
        command
    } else {
        std::process::Command::new("xdg-open")
    };
    command
        .arg(url)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    match command.spawn() {
        Ok(mut child) => {
            // Reaped in the background: some openers wait for the browser.
            std::thread::spawn(move || child.wait());
            true
        }
        Err(_) => false,
    }
}

/// `message` about connection `name`, which it names first (the HTTP layer's messages often
/// do already).
fn about(name: &str, message: &str) -> String {
    let prefix = format!("connection `{name}`");
    if message.starts_with(&prefix) {
        message.to_owned()
    } else {
        format!("{prefix}: {message}")
    }
}

/// The text with its first letter in capitals, to start a sentence.
fn capitalized(text: &str) -> String {
    let mut chars = text.chars();
    chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

fn invalid(message: &str) -> io::Result<u8> {
    eprintln!("error: {message}");
    Ok(exit_code::INVALID)
}

#[cfg(test)]
mod tests;
