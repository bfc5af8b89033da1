//! `flowrun sandbox [--port PORT]`: the API simulators of `flowrun-sandbox` on 127.0.0.1,
//! until Ctrl-C or SIGTERM. stdout gets the base URLs (lines scripts can parse, or one JSON
//! object); exit 0 when stopped, 2 when the port cannot be used.

use std::io::{self, Write};

use flowrun_sandbox::{
    Sandbox, SandboxConfig, conexiom_credentials as conexiom, exact_credentials as exact, onecrm_credentials as onecrm,
    test_credentials as creds,
};
use serde_json::json;

use crate::cli::{OutputFormat, SandboxArgs};
use crate::exit_code;

pub fn run(args: &SandboxArgs) -> io::Result<u8> {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async {
        let sandbox = match Sandbox::start(args.port, SandboxConfig::default()).await {
            Ok(sandbox) => sandbox,
            Err(error) => {
                eprintln!("error: {}", bind_error(args.port, &error));
                return Ok(exit_code::INVALID);
            }
        };
        let printed = print_urls(&sandbox, args.format);
        if let Err(error) = printed {
            sandbox.shutdown().await;
            return Err(error);
        }
        stopped().await;
        eprintln!("stopping the sandbox");
        sandbox.shutdown().await;
        Ok(exit_code::SUCCESS)
    })
}

/// Why the sandbox could not listen, with what to do about it.
fn bind_error(port: u16, error: &io::Error) -> String {
    match error.kind() {
        io::ErrorKind::AddrInUse => format!(
            "port {port} on 127.0.0.1 is already in use ({error}); choose another with --port PORT, or --port 0 for a free one"
        ),
        io::ErrorKind::PermissionDenied => format!(
            "not allowed to listen on port {port} of 127.0.0.1 ({error}); choose a port above 1023, or --port 0 for a free one"
        ),
        _ => format!("cannot listen on 127.0.0.1:{port}: {error}; try --port 0 for a free port"),
    }
}

/// The base URLs and the simulators' demo credentials, then a flush: a script reading stdout
/// through a pipe sees them at once.
fn print_urls(sandbox: &Sandbox, format: OutputFormat) -> io::Result<()> {
    let base = sandbox.base_url();
    let test = sandbox.test_api_url();
    let onecrm_api = format!("{}/api.php", sandbox.onecrm_url());
    let conexiom_api = sandbox.conexiom_url();
    let exact_base = sandbox.exact_url();
    let control = format!("{base}/_sandbox");
    let text = match format {
        OutputFormat::Human => format!(
            "flowrun sandbox listening on {base}\n  \
             test API      {test}   (OAuth2 client {}/{}, user {}/{}, API key {})\n  \
             1CRM          {onecrm_api}   (Basic auth {}/{}; {}/{} has no Invoice access)\n  \
             Conexiom      {conexiom_api}   (password grant at …/token: user {}/{}, client {}/{}, HubCo {})\n  \
             Exact Online  {exact_base}   (base_uri; consent at …/api/oauth2/auth: client {}/{}, division {})\n  \
             control       {control}\n\
             Press Ctrl-C to stop.\n",
            creds::CLIENT_ID,
            creds::CLIENT_SECRET,
            creds::USERNAME,
            creds::PASSWORD,
            creds::API_KEY,
            onecrm::ADMIN_USERNAME,
            onecrm::ADMIN_PASSWORD,
            onecrm::SALES_USERNAME,
            onecrm::SALES_PASSWORD,
            conexiom::USERNAME,
            conexiom::PASSWORD,
            conexiom::CLIENT_ID,
            conexiom::CLIENT_SECRET,
            conexiom::HUBCO_ID,
            exact::CLIENT_ID,
            exact::CLIENT_SECRET,
            exact::DIVISION,
        ),
        OutputFormat::Json => {
            let value = json!({
                "base_url": base,
                "control_url": control,
                "simulators": {
                    "test": {
                        "url": test,
                        "oauth2": {
                            "authorize_url": format!("{test}/oauth/authorize"),
                            "token_url": format!("{test}/oauth/token"),
                            "client_id": creds::CLIENT_ID,
                            "client_secret": creds::CLIENT_SECRET,
                            "refresh_token": creds::SEED_REFRESH_TOKEN,
                        },
                        "user": { "username": creds::USERNAME, "password": creds::PASSWORD },
                        "api_key": creds::API_KEY,
                        "bearer_token": creds::STATIC_TOKEN,
                    },
                    "onecrm": {
                        "url": onecrm_api,
                        "user": { "username": onecrm::ADMIN_USERNAME, "password": onecrm::ADMIN_PASSWORD },
                        "users": [
                            { "username": onecrm::ADMIN_USERNAME, "password": onecrm::ADMIN_PASSWORD },
                            { "username": onecrm::SALES_USERNAME, "password": onecrm::SALES_PASSWORD, "no_access": ["Invoice"] },
                        ],
                    },
                    "conexiom": {
                        "url": conexiom_api,
                        "hubco_id": conexiom::HUBCO_ID,
                        "oauth2": {
                            "token_url": format!("{conexiom_api}/token"),
                            "client_id": conexiom::CLIENT_ID,
                            "client_secret": conexiom::CLIENT_SECRET,
                        },
                        "user": { "username": conexiom::USERNAME, "password": conexiom::PASSWORD },
                    },
                    "exact_online": {
                        "base_uri": exact_base,
                        "oauth2": {
                            "authorize_url": format!("{exact_base}/api/oauth2/auth"),
                            "token_url": format!("{exact_base}/api/oauth2/token"),
                            "client_id": exact::CLIENT_ID,
                            "client_secret": exact::CLIENT_SECRET,
                        },
                        "division": exact::DIVISION,
                    },
                },
            });
            format!("{value}\n")
        }
    };
    let mut stdout = io::stdout().lock();
    stdout.write_all(text.as_bytes())?;
    stdout.flush()
}

/// Returns at Ctrl-C (SIGINT) or, on Unix, SIGTERM. When no handler can be installed, waits
/// for the other signal (or forever): a sandbox never stops on its own.
async fn stopped() {
    let interrupt = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let terminate = async {
            match signal(SignalKind::terminate()) {
                Ok(mut terminate) => {
                    terminate.recv().await;
                }
                Err(_) => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            () = interrupt => {}
            () = terminate => {}
        }
    }
    #[cfg(not(unix))]
    interrupt.await;
}
