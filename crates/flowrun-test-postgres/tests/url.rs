//! `url()` names a server that answers, with a database `test` (checked with `psql` when there is
//! one). Run with `FLOWRUN_TEST_POSTGRES_PROBE=127.0.0.1:1` to check the throwaway server on a
//! machine whose own server runs.

use std::net::{TcpStream, ToSocketAddrs};
use std::process::Command;
use std::time::Duration;

#[test]
fn the_server_answers() {
    let url = flowrun_test_postgres::url();
    assert_eq!(url, flowrun_test_postgres::url(), "one server per process");
    let rest = url.split_once('@').map_or(url.as_str(), |(_, rest)| rest);
    let host = rest.split(['/', '?']).next().expect("a host");
    let address = host.to_socket_addrs().expect("host:port").next().expect("an address");
    TcpStream::connect_timeout(&address, Duration::from_secs(5)).expect("the server accepts connections");

    let Ok(output) = Command::new("psql")
        .args(["-X", "-w", "-At", "-d", &url, "-c", "select current_database()"])
        .output()
    else {
        return; // no psql: the TCP connection is all we check
    };
    assert!(
        output.status.success(),
        "psql {url}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&output.stdout).trim(), "test");
}
