//! `abforge serve` as a process: it will not expose writes without a token, it answers on
//! the port it prints, and it stops cleanly on SIGTERM.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_abforge");

/// `abforge serve ARGS` with a clean environment for the server's variables.
fn serve(data_dir: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(BIN);
    c.arg("serve").args(args).env("ABFORGE_DATA_DIR", data_dir);
    for v in [
        "ABFORGE_API_TOKEN",
        "ABFORGE_API_READ_TOKEN_REQUIRED",
        "ABFORGE_API_TIMEOUT_SECS",
        "ABFORGE_API_BODY_LIMIT",
        "ABFORGE_API_ADDR",
        "ABFORGE_OBJECT_STORE_URL",
        "RUST_LOG",
    ] {
        c.env_remove(v);
    }
    c
}

/// Kills the server if a test fails before stopping it.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// One HTTP/1.1 exchange on a fresh connection.
fn http(addr: &str, request: &str) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(request.as_bytes()).unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

#[test]
fn a_public_address_needs_a_token() {
    let dir = tempfile::tempdir().unwrap();
    let out = serve(dir.path(), &["--addr", "0.0.0.0:0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with("error: refusing to serve on 0.0.0.0:0 without a token"),
        "{err}"
    );
    assert!(err.contains("ABFORGE_API_TOKEN"), "{err}");
}

#[test]
fn bad_settings_are_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let out = serve(dir.path(), &[])
        .env("ABFORGE_API_TIMEOUT_SECS", "soon")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("ABFORGE_API_TIMEOUT_SECS"), "{err}");

    let out = serve(dir.path(), &["--object-store-url", "ftp://x"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("s3://bucket/prefix"), "{err}");
}

#[test]
fn it_serves_on_the_port_it_prints_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = serve(dir.path(), &["--addr", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut stderr = child.stderr.take().unwrap();
    let server = Server(child);
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    let addr = line
        .trim_end()
        .strip_prefix("listening on http://")
        .unwrap_or_else(|| panic!("first line: {line:?}"))
        .to_string();
    assert!(
        addr.starts_with("127.0.0.1:") && !addr.ends_with(":0"),
        "{addr}"
    );

    let health = http(
        &addr,
        "GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
    );
    assert!(health.starts_with("HTTP/1.1 200 OK"), "{health}");
    assert!(health.ends_with(r#"{"status":"ok"}"#), "{health}");

    let body = r#"{"id":"demo","customers":100,"start_date":"2026-11-23","days":7,
        "groups":{"control":1,"treatment":1},
        "metrics":{"items":{"distribution":"poisson","control":{"lambda":2},"treatment":{"lift":0.1}}}}"#;
    let put = http(
        &addr,
        &format!(
            "PUT /v1/experiments/demo/runs/r1/params HTTP/1.1\r\nHost: localhost\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        ),
    );
    assert!(put.starts_with("HTTP/1.1 201"), "{put}");
    assert!(dir.path().join("objects/params/demo/r1.json").is_file());

    let pid = server.0.id().to_string();
    let killed = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(killed.success());
    let mut server = server;
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(s) = server.0.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "still running after SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(status.code(), Some(0), "a clean stop");
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).unwrap();
    assert_eq!(rest, "", "one line on stdout");
    let mut logs = String::new();
    stderr.read_to_string(&mut logs).unwrap();
    assert!(
        logs.contains("serving the dashboard at / and the params API"),
        "{logs}"
    );
    assert!(
        logs.contains(r#"route="/v1/experiments/{experiment_id}/runs/{run_id}/params""#),
        "{logs}"
    );
    assert!(logs.contains("status=201"), "{logs}");
    assert!(!logs.contains('\x1b'), "no colours in a pipe: {logs}");
    assert!(logs.contains("SIGTERM"), "{logs}");
}
