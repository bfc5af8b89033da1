//! A throwaway server: `initdb` and `pg_ctl` in a temporary folder, stopped and removed by a
//! watchdog once the test process is gone (see the crate documentation).

use std::ffi::{OsStr, OsString};
use std::io::ErrorKind;
use std::net::{TcpListener, TcpStream};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{ChildStdin, Command, Output, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The system user that runs the server when the tests run as root.
const SERVER_USER: &str = "postgres";
/// How long `pg_ctl start` waits for the server to accept connections, in seconds.
const START_TIMEOUT_SECONDS: &str = "60";
/// Ports tried when the one picked is taken before the server binds it.
const PORT_ATTEMPTS: usize = 3;
/// The longest Unix socket path (`sun_path` is 108 bytes on Linux, 104 on macOS).
const MAX_SOCKET_PATH: usize = 100;

/// Stops the server and removes the folder (`$1`) once standard input closes, that is once the
/// test process, the only holder of the pipe's other end, has exited.
const WATCHDOG: &str = r#"
cat >/dev/null 2>&1
pid=$(head -n 1 "$1/data/postmaster.pid" 2>/dev/null)
if [ -n "$pid" ] && kill -QUIT "$pid" 2>/dev/null; then
  i=0
  while kill -0 "$pid" 2>/dev/null && [ "$i" -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
  kill -KILL "$pid" 2>/dev/null
fi
rm -rf "$1"
"#;

/// A running throwaway server; it lives until the process exits.
pub(crate) struct Server {
    dir: PathBuf,
    port: u16,
    /// The watchdog's standard input: closed when the process exits (or this is dropped), which
    /// stops the server and removes `dir`.
    _watchdog: ChildStdin,
}

impl Server {
    pub(crate) fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/test", self.port)
    }

    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    /// Creates a cluster in a new temporary folder with the binaries of `bindir`, starts it and
    /// creates the database `test`. On failure the watchdog removes whatever was made.
    pub(crate) fn start(bindir: &Path) -> Result<Server, String> {
        let runner = Runner::detect()?;
        let dir = new_dir()?;
        let watchdog = match spawn_watchdog(&dir) {
            Ok(watchdog) => watchdog,
            Err(error) => {
                let _ = std::fs::remove_dir_all(&dir);
                return Err(error);
            }
        };
        // From here on, returning an error drops `watchdog`, which removes the folder.
        runner.hand_over(&dir)?;
        let data = dir.join("data");
        let log = dir.join("server.log");

        let mut initdb = runner.command(&bindir.join("initdb"), &dir);
        initdb.arg("-D").arg(&data).args([
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--no-locale",
            "--no-sync",
        ]);
        run(initdb, "initdb").map_err(|error| match runner {
            Runner::Direct => error,
            Runner::As { .. } => format!(
                "{error}\n(as root, the cluster is made by the user `{SERVER_USER}`, who must be able to \
                 reach {}: point TMPDIR at a folder it can reach, e.g. /tmp)",
                dir.display()
            ),
        })?;

        let socket_dir = if dir.as_os_str().len() + ".s.PGSQL.65535".len() < MAX_SOCKET_PATH {
            dir.to_string_lossy().replace('\'', "''")
        } else {
            // Too long a path for a socket: TCP only.
            String::new()
        };
        let settings = format!(
            "\n# flowrun-test-postgres: a throwaway server for tests.\n\
             listen_addresses = '127.0.0.1'\n\
             unix_socket_directories = '{socket_dir}'\n\
             fsync = off\n\
             synchronous_commit = off\n\
             full_page_writes = off\n"
        );
        append(&data.join("postgresql.conf"), &settings)?;

        let mut port = 0;
        for attempt in 1..=PORT_ATTEMPTS {
            port = free_port()?;
            let mut pg_ctl = runner.command(&bindir.join("pg_ctl"), &dir);
            pg_ctl
                .arg("-D")
                .arg(&data)
                .arg("-l")
                .arg(&log)
                .args(["-w", "-t", START_TIMEOUT_SECONDS, "-o"])
                .arg(format!("-p {port}"))
                .arg("start");
            match run(pg_ctl, "pg_ctl start") {
                Ok(_) => break,
                Err(error) => {
                    let tail = log_tail(&log);
                    if attempt < PORT_ATTEMPTS && tail.contains("already in use") {
                        continue;
                    }
                    return Err(format!("{error}\nlast lines of {}:\n{tail}", log.display()));
                }
            }
        }

        create_database(bindir, &dir, port)
            .map_err(|error| format!("{error}\nlast lines of {}:\n{}", log.display(), log_tail(&log)))?;
        if let Err(error) = TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_secs(5)) {
            return Err(format!(
                "the server does not answer at 127.0.0.1:{port}: {error}\nlast lines of {}:\n{}",
                log.display(),
                log_tail(&log)
            ));
        }
        Ok(Server {
            dir,
            port,
            _watchdog: watchdog,
        })
    }
}

/// The first folder holding `initdb` and `pg_ctl`: `pg_config --bindir`, the `PATH`, then the
/// versioned folders of the usual packages, highest version first.
pub(crate) fn find_bindir() -> Option<PathBuf> {
    let from_pg_config = Command::new("pg_config")
        .arg("--bindir")
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()
        .filter(|output| output.status.success())
        .map(|output| PathBuf::from(OsString::from_vec(output.stdout.trim_ascii().to_vec())));
    let from_path = std::env::var_os("PATH")
        .map(|path| std::env::split_paths(&path).collect::<Vec<_>>())
        .unwrap_or_default();
    from_pg_config
        .into_iter()
        .chain(from_path)
        .chain(versioned_bindirs())
        .find(|dir| is_bindir(dir))
}

fn is_bindir(dir: &Path) -> bool {
    ["initdb", "pg_ctl"].iter().all(|name| is_executable(&dir.join(name)))
}

fn is_executable(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|metadata| metadata.is_file() && metadata.mode() & 0o111 != 0)
}

/// `<parent>/<prefix><version>/bin` of the usual packages, highest version first.
fn versioned_bindirs() -> Vec<PathBuf> {
    let places = [
        ("/usr/lib/postgresql", ""),
        ("/usr", "pgsql-"),
        ("/opt/homebrew/opt", "postgresql@"),
        ("/usr/local/opt", "postgresql@"),
    ];
    let mut found: Vec<(Vec<u32>, PathBuf)> = Vec::new();
    for (parent, prefix) in places {
        let Ok(entries) = std::fs::read_dir(parent) else {
            continue;
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let Some(version) = name
                .to_str()
                .and_then(|name| name.strip_prefix(prefix))
                .and_then(version)
            else {
                continue;
            };
            found.push((version, entry.path().join("bin")));
        }
    }
    found.sort_by(|a, b| b.0.cmp(&a.0));
    found.into_iter().map(|(_, dir)| dir).collect()
}

/// `15` → `[15]`, `9.6` → `[9, 6]`; `None` for anything else.
fn version(text: &str) -> Option<Vec<u32>> {
    text.split('.').map(|part| part.parse().ok()).collect()
}

/// How `initdb` and `pg_ctl` run: as this process's user, or as `postgres` when that is root.
enum Runner {
    Direct,
    As { uid: u32, gid: u32, runuser: bool },
}

impl Runner {
    fn detect() -> Result<Runner, String> {
        if effective_uid()? != 0 {
            return Ok(Runner::Direct);
        }
        let (Some(uid), Some(gid)) = (id(&["-u", SERVER_USER]), id(&["-g", SERVER_USER])) else {
            return Err(format!(
                "the tests run as root, and initdb and postgres refuse to run as root, but there is \
                 no `{SERVER_USER}` user to run them as (the server packages create one; or `useradd \
                 --system --user-group {SERVER_USER}`)"
            ));
        };
        let runuser = succeeds(Command::new("runuser").arg("--help"));
        if !runuser && !succeeds(Command::new("su").arg("--help")) {
            return Err(format!(
                "the tests run as root, and initdb and postgres refuse to run as root, but neither \
                 `runuser` nor `su` is there to run them as `{SERVER_USER}`"
            ));
        }
        Ok(Runner::As { uid, gid, runuser })
    }

    /// Gives `dir` to the user that runs the server.
    fn hand_over(&self, dir: &Path) -> Result<(), String> {
        match self {
            Runner::Direct => Ok(()),
            Runner::As { uid, gid, .. } => std::os::unix::fs::chown(dir, Some(*uid), Some(*gid))
                .map_err(|error| format!("cannot give {} to `{SERVER_USER}`: {error}", dir.display())),
        }
    }

    /// `program`, run in `dir` by the server's user.
    fn command(&self, program: &Path, dir: &Path) -> Command {
        let mut command = match self {
            Runner::Direct => Command::new(program),
            Runner::As { runuser: true, .. } => {
                let mut command = Command::new("runuser");
                command.args(["-u", SERVER_USER, "--"]).arg(program);
                command
            }
            Runner::As { runuser: false, .. } => su(program),
        };
        command.current_dir(dir);
        clean_env(&mut command);
        command
    }
}

/// `su` takes one shell command line, not arguments: `su -s /bin/sh postgres -c <program>`, to
/// which the caller adds arguments, and which [`run`] turns into one quoted line ([`quote_su`]).
fn su(program: &Path) -> Command {
    let mut command = Command::new("su");
    command.args(["-s", "/bin/sh", SERVER_USER, "-c"]).arg(program);
    command
}

/// A `su … -c <program> <args…>` command turned into `su … -c '<program> <args…>'`.
fn quote_su(command: &Command) -> Command {
    let mut args = command.get_args();
    let mut quoted = Command::new(command.get_program());
    // `-s /bin/sh postgres -c`
    for arg in args.by_ref().take(4) {
        quoted.arg(arg);
    }
    let line = args.map(shell_quote).collect::<Vec<_>>().join(&b' ');
    quoted.arg(OsString::from_vec(line));
    if let Some(dir) = command.get_current_dir() {
        quoted.current_dir(dir);
    }
    for (name, value) in command.get_envs() {
        match value {
            Some(value) => quoted.env(name, value),
            None => quoted.env_remove(name),
        };
    }
    quoted
}

/// `arg` in single quotes for `sh`.
fn shell_quote(arg: &OsStr) -> Vec<u8> {
    let mut quoted = vec![b'\''];
    for &byte in arg.as_bytes() {
        if byte == b'\'' {
            quoted.extend_from_slice(b"'\\''");
        } else {
            quoted.push(byte);
        }
    }
    quoted.push(b'\'');
    quoted
}

/// Variables that would change what the PostgreSQL tools do behind their explicit options.
fn clean_env(command: &mut Command) {
    for name in [
        "PGDATA",
        "PGHOST",
        "PGHOSTADDR",
        "PGPORT",
        "PGUSER",
        "PGDATABASE",
        "PGOPTIONS",
        "PGSERVICE",
        "PGSERVICEFILE",
        "PGPASSWORD",
        "PGPASSFILE",
        "PGSSLMODE",
        "PGTZ",
        "PGCLIENTENCODING",
    ] {
        command.env_remove(name);
    }
}

/// Runs `command` to the end; an error with its output when it fails.
fn run(command: Command, what: &str) -> Result<Output, String> {
    let mut command = if command.get_program() == "su" {
        quote_su(&command)
    } else {
        command
    };
    let output = command
        .stdin(Stdio::null())
        .output()
        .map_err(|error| format!("cannot run {what} ({:?}): {error}", command.get_program()))?;
    if output.status.success() {
        return Ok(output);
    }
    let line = std::iter::once(command.get_program())
        .chain(command.get_args())
        .map(|arg| arg.to_string_lossy())
        .collect::<Vec<_>>()
        .join(" ");
    Err(format!(
        "{what} failed ({}): {line}\n{}{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    ))
}

fn succeeds(command: &mut Command) -> bool {
    command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

/// `id <args>` as a number: a user's uid or gid.
fn id(args: &[&str]) -> Option<u32> {
    let output = Command::new("id")
        .args(args)
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()
        .filter(|output| output.status.success())?;
    String::from_utf8_lossy(&output.stdout).trim().parse().ok()
}

/// The effective user id of this process.
fn effective_uid() -> Result<u32, String> {
    // /proc/self belongs to the process's effective user (Linux); `id -u` elsewhere.
    if let Ok(metadata) = std::fs::metadata("/proc/self") {
        return Ok(metadata.uid());
    }
    id(&["-u"]).ok_or_else(|| "cannot tell which user the tests run as (`id -u` failed)".to_owned())
}

/// A new, empty folder `flowrun-test-postgres-<pid>-<n>` in the temporary folder.
fn new_dir() -> Result<PathBuf, String> {
    let parent = std::env::temp_dir();
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.subsec_nanos());
    for n in 0..100u32 {
        let dir = parent.join(format!(
            "flowrun-test-postgres-{}-{}",
            std::process::id(),
            nanos.wrapping_add(n)
        ));
        match std::fs::create_dir(&dir) {
            Ok(()) => return Ok(dir),
            Err(error) if error.kind() == ErrorKind::AlreadyExists => continue,
            Err(error) => return Err(format!("cannot create a folder in {}: {error}", parent.display())),
        }
    }
    Err(format!("cannot create a new folder in {}", parent.display()))
}

/// Starts the watchdog that stops the server and removes `dir` once the returned pipe closes.
fn spawn_watchdog(dir: &Path) -> Result<ChildStdin, String> {
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(WATCHDOG)
        .arg("flowrun-test-postgres-watchdog")
        .arg(dir)
        .current_dir("/")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        // Not in the test's process group: a Ctrl-C that stops the tests does not stop the cleanup.
        .process_group(0)
        .spawn()
        .map_err(|error| format!("cannot start the watchdog shell (`sh`): {error}"))?;
    child
        .stdin
        .take()
        .ok_or_else(|| "the watchdog shell has no standard input".to_owned())
}

/// A port of 127.0.0.1 that nothing listens on, as the system picks it for port 0.
fn free_port() -> Result<u16, String> {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .map_err(|error| format!("cannot find a free port on 127.0.0.1: {error}"))
}

fn append(path: &Path, text: &str) -> Result<(), String> {
    use std::io::Write as _;
    std::fs::OpenOptions::new()
        .append(true)
        .open(path)
        .and_then(|mut file| file.write_all(text.as_bytes()))
        .map_err(|error| format!("cannot write {}: {error}", path.display()))
}

/// Creates the database `test` with `createdb`, else `psql`: next to `initdb`, else on the PATH.
fn create_database(bindir: &Path, dir: &Path, port: u16) -> Result<(), String> {
    let port = port.to_string();
    let connection = ["-h", "127.0.0.1", "-p", &port, "-U", "postgres", "-w"];
    let mut command = if let Some(createdb) = tool(bindir, "createdb") {
        let mut command = Command::new(createdb);
        command.args(connection).arg("test");
        command
    } else if let Some(psql) = tool(bindir, "psql") {
        let mut command = Command::new(psql);
        command.args(connection).args([
            "-X",
            "-d",
            "postgres",
            "-v",
            "ON_ERROR_STOP=1",
            "-c",
            "CREATE DATABASE test",
        ]);
        command
    } else {
        return Err(format!(
            "neither `createdb` nor `psql` is in {} or on the PATH to create the database `test`",
            bindir.display()
        ));
    };
    clean_env(&mut command);
    command.current_dir(dir).env("PGCONNECT_TIMEOUT", "10");
    run(command, "creating the database `test`").map(drop)
}

fn tool(bindir: &Path, name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")
        .map(|path| std::env::split_paths(&path).collect::<Vec<_>>())
        .unwrap_or_default();
    std::iter::once(bindir.to_owned())
        .chain(path)
        .map(|dir| dir.join(name))
        .find(|path| is_executable(path))
}

/// The last lines of the server's log, for error messages.
fn log_tail(log: &Path) -> String {
    match std::fs::read(log) {
        Ok(bytes) => {
            let text = String::from_utf8_lossy(&bytes);
            let lines: Vec<&str> = text.lines().collect();
            lines[lines.len().saturating_sub(20)..].join("\n")
        }
        Err(error) => format!("(cannot read {}: {error})", log.display()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_sort_numerically() {
        assert_eq!(version("15"), Some(vec![15]));
        assert_eq!(version("9.6"), Some(vec![9, 6]));
        assert_eq!(version("main"), None);
        assert!(version("10") > version("9.6"));
    }

    #[test]
    fn shell_quoting_survives_quotes() {
        let quoted = shell_quote(OsStr::new("it's here"));
        assert_eq!(quoted, b"'it'\\''s here'");
        let output = Command::new("sh")
            .arg("-c")
            .arg(OsString::from_vec([b"printf %s ".to_vec(), quoted].concat()))
            .output()
            .expect("sh runs");
        assert_eq!(output.stdout, b"it's here");
    }

    #[test]
    fn su_commands_become_one_quoted_line() {
        let mut command = su(Path::new("/usr/lib/postgresql/15/bin/initdb"));
        command.arg("-D").arg("/tmp/a b");
        let quoted = quote_su(&command);
        let args: Vec<&OsStr> = quoted.get_args().collect();
        assert_eq!(
            args,
            [
                "-s",
                "/bin/sh",
                "postgres",
                "-c",
                "'/usr/lib/postgresql/15/bin/initdb' '-D' '/tmp/a b'"
            ]
        );
    }

    #[test]
    fn free_ports_are_free() {
        let port = free_port().expect("a port");
        assert!(TcpListener::bind(("127.0.0.1", port)).is_ok());
    }
}
