//! The Postgres server flowrun's tests use (a dev-dependency only).
//!
//! [`url()`] answers, in this order:
//!
//! 1. `FLOWRUN_TEST_POSTGRES_URL`, when it is set (and not empty), as it is: nothing is checked.
//! 2. `postgres://postgres@127.0.0.1:5432/test`, when something accepts a TCP connection at
//!    127.0.0.1:5432: the machine's own server, as CI (`.ci/run`) requires. The address probed is
//!    `FLOWRUN_TEST_POSTGRES_PROBE` when set (`host:port`; the URL then names that address), so
//!    that the fallback below can be tried on a machine whose server runs
//!    (`FLOWRUN_TEST_POSTGRES_PROBE=127.0.0.1:1`); set to the empty string, nothing is probed.
//! 3. A throwaway server, started once per test process from the system's PostgreSQL binaries,
//!    when they are installed: the first folder holding `initdb` and `pg_ctl` among
//!    `pg_config --bindir`, the `PATH`, and the versioned folders of the usual packages
//!    (`/usr/lib/postgresql/<version>/bin` on Debian and Ubuntu, `/usr/pgsql-<version>/bin`,
//!    Homebrew's `opt/postgresql@<version>/bin`), highest version first.
//! 4. Otherwise a panic saying how to get a server.
//!
//! The answer is worked out once per process (a [`OnceLock`]): every test of a test binary shares
//! one server. A failure is remembered too: each test that asks panics with the same message,
//! nobody starts a second server.
//!
//! # The throwaway server
//!
//! A fresh folder `flowrun-test-postgres-<pid>-<n>` in the temporary folder (`TMPDIR`) holds the
//! cluster (`data/`, made by `initdb -U postgres --auth=trust -E UTF8 --no-locale`), its log
//! (`server.log`) and its Unix socket. `pg_ctl start` starts it on a free port of 127.0.0.1 (one
//! the system hands out for port 0), with `fsync`, `synchronous_commit` and `full_page_writes`
//! off: a crash loses nothing the tests need. `createdb` (or `psql`, when there is no `createdb`)
//! then creates the database `test`. The URL is
//! `postgres://postgres@127.0.0.1:<port>/test`: trust authentication, so a password in the URL is
//! ignored; user `postgres` is the superuser and may create schemas and databases.
//!
//! `initdb` and `postgres` refuse to run as root. As root (containers, CI images), they run as the
//! system user `postgres` that the server packages create (through `runuser`, else `su`), and the
//! folder is handed to that user; without such a user the start fails and says so.
//!
//! Statics are never dropped, so the server is not stopped by a destructor: a small watchdog
//! shell, started before `initdb` in a process group of its own, reads a pipe whose other end
//! only the test process holds. When the test process exits (normally, by a panic, or killed),
//! the pipe closes; the watchdog then stops the server (immediate shutdown, a `SIGQUIT` to the
//! postmaster, `SIGKILL` after 10 seconds) and removes the folder. A start that fails closes the
//! pipe at once, so it leaves nothing behind either.
//!
//! Starting takes a second or two (`initdb` most of it), once per test binary that asks.
//! The server's stderr (its log) is in `server.log`; failures quote its last lines.

use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::OnceLock;
use std::time::Duration;

#[cfg(unix)]
mod throwaway;

/// The variable naming the server outright.
pub const URL_VAR: &str = "FLOWRUN_TEST_POSTGRES_URL";
/// The variable naming the address probed before falling back to a throwaway server.
pub const PROBE_VAR: &str = "FLOWRUN_TEST_POSTGRES_PROBE";
/// The address probed when [`PROBE_VAR`] is unset: the machine's own server.
pub const DEFAULT_PROBE: &str = "127.0.0.1:5432";

/// How long the probe waits for a TCP connection.
const PROBE_TIMEOUT: Duration = Duration::from_secs(1);

/// The ways of getting a server, for messages that have none.
const HOW_TO_GET_ONE: &str = "To get one: set FLOWRUN_TEST_POSTGRES_URL to a Postgres URL (a database `test` whose \
     user may create schemas), or start Postgres at 127.0.0.1:5432 (user `postgres`, trust \
     authentication, database `test`), or install the PostgreSQL server package (e.g. `apt install \
     postgresql`, `dnf install postgresql-server`, `brew install postgresql`) so that the tests can \
     start a throwaway server from its `initdb` and `pg_ctl`.";

/// The server of this process, once found or started.
struct Resolved {
    url: String,
    /// The throwaway server this process started, kept until the process exits.
    #[cfg(unix)]
    _server: Option<throwaway::Server>,
}

static RESOLVED: OnceLock<Result<Resolved, String>> = OnceLock::new();

/// The Postgres server tests use, as a URL whose database `test` exists and whose user may create schemas:
/// FLOWRUN_TEST_POSTGRES_URL when set; else postgres://postgres@127.0.0.1:5432/test when that answers;
/// else a throwaway server started once per process from the system's binaries (initdb + pg_ctl),
/// stopped when the process exits; else a panic saying how to get one.
///
/// Blocking (it may wait a few seconds for a server to start), and fine to call from async tests:
/// it starts no runtime. See the [crate] documentation for the details.
///
/// # Panics
///
/// When no server is named, none answers and none can be started; the message says why and how to
/// get one.
pub fn url() -> String {
    match RESOLVED.get_or_init(resolve) {
        Ok(resolved) => resolved.url.clone(),
        Err(message) => panic!("flowrun-test-postgres: {message}"),
    }
}

fn resolve() -> Result<Resolved, String> {
    if let Some(url) = var(URL_VAR)?.filter(|url| !url.trim().is_empty()) {
        return Ok(found(url));
    }
    let probe = var(PROBE_VAR)?.unwrap_or_else(|| DEFAULT_PROBE.to_owned());
    let probe = probe.trim();
    if !probe.is_empty() && answers(probe)? {
        return Ok(found(format!("postgres://postgres@{probe}/test")));
    }
    let nobody = if probe.is_empty() {
        format!("{URL_VAR} is not set and {PROBE_VAR} is empty")
    } else {
        format!("{URL_VAR} is not set and no Postgres answers at {probe}")
    };
    start(&nobody)
}

#[cfg(unix)]
fn start(nobody: &str) -> Result<Resolved, String> {
    let Some(bindir) = throwaway::find_bindir() else {
        return Err(format!(
            "the Postgres tests need a Postgres server: {nobody}, and no PostgreSQL server binaries \
             (`initdb` and `pg_ctl`) were found to start a throwaway one (looked at `pg_config \
             --bindir`, the PATH, /usr/lib/postgresql/*/bin, /usr/pgsql-*/bin and Homebrew's \
             opt/postgresql@*/bin). {HOW_TO_GET_ONE}"
        ));
    };
    match throwaway::Server::start(&bindir) {
        Ok(server) => {
            let url = server.url();
            // Shown with the output of a failing test.
            eprintln!(
                "flowrun-test-postgres: {nobody}; started a throwaway Postgres at {url} from {} \
                 (folder {}, removed when this process exits)",
                bindir.display(),
                server.dir().display()
            );
            Ok(Resolved {
                url,
                _server: Some(server),
            })
        }
        Err(error) => Err(format!(
            "the Postgres tests need a Postgres server: {nobody}, and starting a throwaway one from \
             {} failed: {error}\n\n{HOW_TO_GET_ONE}",
            bindir.display()
        )),
    }
}

#[cfg(not(unix))]
fn start(nobody: &str) -> Result<Resolved, String> {
    Err(format!(
        "the Postgres tests need a Postgres server: {nobody}, and throwaway servers are only started \
         on Unix. {HOW_TO_GET_ONE}"
    ))
}

fn found(url: String) -> Resolved {
    Resolved {
        url,
        #[cfg(unix)]
        _server: None,
    }
}

/// An environment variable; `None` when unset, an error when it is not Unicode.
fn var(name: &str) -> Result<Option<String>, String> {
    match std::env::var(name) {
        Ok(value) => Ok(Some(value)),
        Err(std::env::VarError::NotPresent) => Ok(None),
        Err(std::env::VarError::NotUnicode(value)) => Err(format!("{name} is not Unicode: {value:?}")),
    }
}

/// Whether something accepts TCP connections at `address` (`host:port`).
fn answers(address: &str) -> Result<bool, String> {
    let addresses: Vec<SocketAddr> = match address.to_socket_addrs() {
        Ok(addresses) => addresses.collect(),
        Err(error) => {
            return Err(format!(
                "{PROBE_VAR}={address:?} is not an address to probe (`host:port`, e.g. `127.0.0.1:5432`): {error}"
            ));
        }
    };
    Ok(addresses
        .iter()
        .any(|address| TcpStream::connect_timeout(address, PROBE_TIMEOUT).is_ok()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probing_a_closed_port_answers_false() {
        // Port 1 (tcpmux) is closed on any machine that runs these tests.
        assert_eq!(answers("127.0.0.1:1"), Ok(false));
    }

    #[test]
    fn probing_an_open_port_answers_true() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
        let address = listener.local_addr().expect("the port").to_string();
        assert_eq!(answers(&address), Ok(true));
    }

    #[test]
    fn a_probe_that_is_no_address_says_so() {
        let error = answers("no port here").expect_err("not an address");
        assert!(error.contains(PROBE_VAR), "{error}");
    }

    #[test]
    fn the_advice_names_every_way() {
        for way in [URL_VAR, "127.0.0.1:5432", "apt install postgresql", "initdb"] {
            assert!(HOW_TO_GET_ONE.contains(way), "{way}");
        }
    }
}
