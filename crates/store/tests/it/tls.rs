//! PostgreSQL over TLS: the test cluster over `verify-full`, and each failure — a
//! certificate for another host, an unknown CA, an expired certificate, a server without
//! TLS — with an error that names the mode and what failed. The certificates are made with
//! openssl here; the expired one and the server without TLS are played by a stand-in that
//! speaks the start of PostgreSQL's protocol (the SSL request) and then TLS.

use abforge_store::postgres::{PgConnector, SslMode};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// Bound on any one connection attempt of these tests (a hang fails, not a slow machine).
const ATTEMPT: Duration = Duration::from_secs(30);

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl runs (scripts/services.sh needs it too)");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

const EC: [&str; 5] = [
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:P-256",
    "-nodes",
];

/// A CA `name`.pem / `name`.key in `dir`.
fn make_ca(dir: &Path, name: &str) -> PathBuf {
    let (pem, key) = (format!("{name}.pem"), format!("{name}.key"));
    let mut args = vec!["req", "-x509"];
    args.extend(EC);
    args.extend([
        "-keyout",
        &key,
        "-out",
        &pem,
        "-days",
        "2",
        "-subj",
        "/CN=abforge other CA",
    ]);
    openssl(dir, &args);
    dir.join(pem)
}

/// A server certificate for 127.0.0.1 and localhost signed by CA `ca`, valid for `days`
/// (-1: expired yesterday).
fn make_server_cert(dir: &Path, ca: &str, days: &str) -> (PathBuf, PathBuf) {
    let mut args = vec!["req"];
    args.extend(EC);
    args.extend([
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
        "-subj",
        "/CN=localhost",
    ]);
    openssl(dir, &args);
    std::fs::write(
        dir.join("server.ext"),
        "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    let (ca_pem, ca_key) = (format!("{ca}.pem"), format!("{ca}.key"));
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            &ca_pem,
            "-CAkey",
            &ca_key,
            "-CAcreateserial",
            "-days",
            days,
            "-extfile",
            "server.ext",
            "-out",
            "server.pem",
        ],
    );
    (dir.join("server.pem"), dir.join("server.key"))
}

/// A stand-in server on a loopback port for one connection: it reads the SSL request and
/// answers `N` (no TLS), or `S` and then a TLS handshake with the certificate given.
async fn stand_in(cert: Option<(PathBuf, PathBuf)>) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let acceptor = cert.map(|(pem, key)| {
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(pem)
            .unwrap()
            .map(Result::unwrap)
            .collect();
        let key = PrivateKeyDer::from_pem_file(key).unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .unwrap();
        tokio_rustls::TlsAcceptor::from(Arc::new(config))
    });
    tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.unwrap();
        let mut request = [0u8; 8];
        stream.read_exact(&mut request).await.unwrap();
        assert_eq!(request, [0, 0, 0, 8, 4, 210, 22, 47], "an SSL request");
        match acceptor {
            None => stream.write_all(b"N").await.unwrap(),
            Some(acceptor) => {
                stream.write_all(b"S").await.unwrap();
                // The client gives up during the handshake: that is the test.
                let _ = acceptor.accept(stream).await;
            }
        }
    });
    port
}

/// The error of connecting to `url`, as text.
async fn refused(url: &str) -> String {
    let connector = PgConnector::new(url).unwrap();
    match tokio::time::timeout(ATTEMPT, connector.connect()).await {
        Ok(Ok(_)) => panic!("{url} connected"),
        Ok(Err(e)) => e.to_string(),
        Err(_) => panic!("{url}: no answer within {ATTEMPT:?}"),
    }
}

fn assert_says(error: &str, mode: &str, why: &str) {
    assert!(
        error.contains(&format!("sslmode={mode}")) && error.contains(why),
        "expected sslmode={mode} and {why:?} in: {error}"
    );
}

#[tokio::test]
async fn an_expired_certificate_is_refused_by_verify_full() {
    let dir = tempfile::tempdir().unwrap();
    let ca = make_ca(dir.path(), "ca");
    let port = stand_in(Some(make_server_cert(dir.path(), "ca", "-1"))).await;
    let url = format!(
        "postgres://u@127.0.0.1:{port}/db?sslmode=verify-full&sslrootcert={}",
        ca.display()
    );
    assert_says(&refused(&url).await, "verify-full", "has expired");
}

#[tokio::test]
async fn a_server_without_tls_is_refused_by_require() {
    let port = stand_in(None).await;
    let url = format!("postgres://u@127.0.0.1:{port}/db?sslmode=require");
    assert_says(
        &refused(&url).await,
        "require",
        "the server does not accept TLS",
    );
}

#[tokio::test]
async fn a_server_without_tls_is_refused_when_the_mode_comes_from_the_environment() {
    // Not through PGSSLMODE itself (tests share the process): the same path, given.
    let port = stand_in(None).await;
    let url = format!("postgres://u@127.0.0.1:{port}/db");
    let env = |k: &str| (k == "PGSSLMODE").then(|| "verify-full".to_string());
    let connector = PgConnector::with_env(&url, env).unwrap();
    assert_eq!(connector.ssl_mode(), SslMode::VerifyFull);
    let e = tokio::time::timeout(ATTEMPT, connector.connect())
        .await
        .unwrap()
        .unwrap_err()
        .to_string();
    assert_says(&e, "verify-full", "the server does not accept TLS");
}

// --- against the test cluster (TLS on, scripts/services.sh) ---------------------------------

/// The test server's URL and CA, or `None` (saying so).
fn test_server(test: &str) -> Option<(String, String)> {
    let url = std::env::var("ABFORGE_TEST_DATABASE_URL").ok()?;
    let Ok(ca) = std::env::var("ABFORGE_TEST_DATABASE_CA") else {
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED {test}: ABFORGE_TEST_DATABASE_CA is not set (scripts/services.sh start)"
        );
        return None;
    };
    Some((url, ca))
}

/// `url` with `host` as the host name (connecting to 127.0.0.1 still) and `query` as its
/// TLS settings.
fn variant(url: &str, host: &str, query: &str) -> String {
    let head = url.split_once('?').map_or(url, |(h, _)| h);
    let (scheme_user, rest) = head.split_once('@').unwrap();
    let (_, port_db) = rest.split_once(':').unwrap();
    format!("{scheme_user}@{host}:{port_db}?hostaddr=127.0.0.1&{query}")
}

#[tokio::test]
async fn the_test_cluster_is_reached_over_tls_with_its_certificate_verified() {
    let Some((url, _)) = test_server("tls against the cluster") else {
        return;
    };
    let connector = PgConnector::new(&url).unwrap();
    assert_eq!(connector.ssl_mode(), SslMode::VerifyFull, "{url}");
    let client = connector.connect().await.unwrap();
    let row = client
        .query_one(
            "SELECT ssl, version FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
            &[],
        )
        .await
        .unwrap();
    assert!(row.get::<_, bool>(0), "the connection is encrypted");
    assert_eq!(row.get::<_, Option<String>>(1).as_deref(), Some("TLSv1.3"));
}

#[tokio::test]
async fn a_certificate_for_another_host_is_refused_by_verify_full_only() {
    let Some((url, ca)) = test_server("wrong host") else {
        return;
    };
    let tls = format!("sslrootcert={ca}");
    let wrong = variant(
        &url,
        "db.abforge.invalid",
        &format!("sslmode=verify-full&{tls}"),
    );
    assert_says(
        &refused(&wrong).await,
        "verify-full",
        "does not name the host",
    );
    // verify-ca checks the chain only.
    let ca_only = variant(
        &url,
        "db.abforge.invalid",
        &format!("sslmode=verify-ca&{tls}"),
    );
    PgConnector::new(&ca_only).unwrap().connect().await.unwrap();
}

#[tokio::test]
async fn a_certificate_from_an_unknown_ca_is_refused_unless_unverified() {
    let Some((url, _)) = test_server("unknown CA") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let other = make_ca(dir.path(), "other").display().to_string();
    for mode in ["verify-full", "verify-ca", "require"] {
        // require with a root certificate checks the chain, as libpq's does.
        let url = variant(
            &url,
            "localhost",
            &format!("sslmode={mode}&sslrootcert={other}"),
        );
        assert_says(&refused(&url).await, mode, "not signed by a trusted CA");
    }
    // require without a root certificate encrypts without checking.
    let unverified = variant(&url, "localhost", "sslmode=require");
    let client = PgConnector::new(&unverified)
        .unwrap()
        .connect()
        .await
        .unwrap();
    let ssl: bool = client
        .query_one(
            "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(ssl);
}
