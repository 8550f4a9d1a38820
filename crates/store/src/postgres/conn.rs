//! Connections to PostgreSQL, over TLS (rustls on `ring`) with libpq's meanings of
//! `sslmode` and `sslrootcert`, shared by the relational store and the run log.
//!
//! | `sslmode`     | encrypted            | server certificate checked                       |
//! |---------------|----------------------|--------------------------------------------------|
//! | `disable`     | never                | —                                                |
//! | `prefer`      | when the server can  | no (chain only when a root certificate is given) |
//! | `require`     | always               | no (chain only when a root certificate is given) |
//! | `verify-ca`   | always               | its chain, up to a trusted root                  |
//! | `verify-full` | always               | its chain, and that it names the host            |
//!
//! Both are read from the URL (`?sslmode=verify-full&sslrootcert=/path/ca.pem`, or the
//! `key=value` form), else from `PGSSLMODE` and `PGSSLROOTCERT`. Without a mode, a server on
//! the loopback (or a Unix socket) gets `prefer` and any other `verify-full`. The roots are
//! the PEM file `sslrootcert` names, the system's trusted roots for `sslrootcert=system`, or
//! `~/.postgresql/root.crt` when it exists (as libpq); when none of them is set, the
//! `verify-*` modes use the system's roots (where libpq would fail). Unix sockets are never
//! encrypted (as libpq). A connection that fails for TLS says so and names the mode: the
//! server refusing TLS, or its certificate not naming the host, signed by an unknown CA, or
//! expired.

use crate::redact::key_values;
use crate::{Error, Result};
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio_postgres::config::{Host, SslMode as PgSslMode};
use tokio_postgres::{Client, Config};
use tokio_postgres_rustls::MakeRustlsConnect;

/// libpq's `sslmode` (without `allow`, which abforge does not offer).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    /// Never TLS.
    Disable,
    /// TLS when the server offers it, else plain.
    Prefer,
    /// Always TLS; the certificate's chain is checked only when a root certificate is given.
    Require,
    /// Always TLS, the certificate's chain checked against the roots.
    VerifyCa,
    /// Always TLS, the chain checked and the certificate naming the host.
    VerifyFull,
}

impl SslMode {
    /// Reads libpq's name of a mode.
    ///
    /// # Errors
    /// [`Error::Config`] for another name (`allow` included).
    pub fn parse(name: &str) -> Result<SslMode> {
        Ok(match name {
            "disable" => SslMode::Disable,
            "prefer" => SslMode::Prefer,
            "require" => SslMode::Require,
            "verify-ca" => SslMode::VerifyCa,
            "verify-full" => SslMode::VerifyFull,
            _ => {
                return Err(Error::Config(format!(
                    "sslmode {name:?}: expected disable, prefer, require, verify-ca or verify-full"
                )));
            }
        })
    }

    /// libpq's name of the mode.
    pub fn name(self) -> &'static str {
        match self {
            SslMode::Disable => "disable",
            SslMode::Prefer => "prefer",
            SslMode::Require => "require",
            SslMode::VerifyCa => "verify-ca",
            SslMode::VerifyFull => "verify-full",
        }
    }
}

impl fmt::Display for SslMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Where the trusted roots come from.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Roots {
    /// None given: no verification in `prefer`/`require`, the system's roots in `verify-*`.
    Unset,
    /// `sslrootcert=system`.
    System,
    /// A PEM file.
    File(PathBuf),
}

/// What opens connections to one server: its tokio-postgres configuration and TLS.
#[derive(Clone)]
pub struct PgConnector {
    config: Config,
    mode: SslMode,
    tls: MakeRustlsConnect,
    target: String,
}

impl fmt::Debug for PgConnector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgConnector")
            .field("target", &self.target)
            .field("sslmode", &self.mode)
            .finish_non_exhaustive()
    }
}

impl PgConnector {
    /// The connector for a `postgres://` URL (or a `key=value` connection string), the TLS
    /// settings it lacks taken from `PGSSLMODE` and `PGSSLROOTCERT`.
    ///
    /// # Errors
    /// [`Error::Config`] for a URL tokio-postgres cannot read, an unknown `sslmode`, or a
    /// root certificate file that cannot be read.
    pub fn new(url: &str) -> Result<PgConnector> {
        PgConnector::with_env(url, |k| std::env::var(k).ok().filter(|v| !v.is_empty()))
    }

    /// [`PgConnector::new`] with the environment given as a function.
    ///
    /// # Errors
    /// As [`PgConnector::new`].
    pub fn with_env(url: &str, env: impl Fn(&str) -> Option<String>) -> Result<PgConnector> {
        let (rest, ssl) = split_ssl_params(url);
        let config: Config = rest.parse().map_err(|e| {
            Error::Config(format!("PostgreSQL URL {}: {e}", crate::redact_url(url)))
        })?;
        let mode = match ssl.mode.or_else(|| env("PGSSLMODE")) {
            Some(m) => SslMode::parse(&m)?,
            None if is_local(&config) => SslMode::Prefer,
            None => SslMode::VerifyFull,
        };
        let roots = match ssl.root_cert.or_else(|| env("PGSSLROOTCERT")) {
            Some(r) if r == "system" => Roots::System,
            Some(r) => Roots::File(PathBuf::from(r)),
            None => default_root_file(&env).map_or(Roots::Unset, Roots::File),
        };
        PgConnector::build(config, mode, &roots)
    }

    fn build(mut config: Config, mode: SslMode, roots: &Roots) -> Result<PgConnector> {
        let unix_only = config
            .get_hosts()
            .iter()
            .all(|h| matches!(h, Host::Unix(_)));
        config.ssl_mode(match mode {
            _ if unix_only => PgSslMode::Disable,
            SslMode::Disable => PgSslMode::Disable,
            SslMode::Prefer => PgSslMode::Prefer,
            SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => PgSslMode::Require,
        });
        let tls = MakeRustlsConnect::new(client_config(mode, roots)?);
        let target = target_of(&config);
        Ok(PgConnector {
            config,
            mode,
            tls,
            target,
        })
    }

    /// The tokio-postgres configuration, to set timeouts and the like.
    pub fn config_mut(&mut self) -> &mut Config {
        &mut self.config
    }

    /// The mode in force.
    pub fn ssl_mode(&self) -> SslMode {
        self.mode
    }

    /// `host:port` of every host (comma-separated), for messages.
    pub fn target(&self) -> &str {
        &self.target
    }

    /// Opens a connection, its I/O driven by a task of its own.
    ///
    /// # Errors
    /// [`Error::Service`] naming the server, and for a TLS failure the mode and what failed.
    pub async fn connect(&self) -> Result<Client> {
        let (client, connection) = self
            .config
            .connect(self.tls.clone())
            .await
            .map_err(|e| self.connect_error(&e))?;
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, "postgres connection ended");
            }
        });
        Ok(client)
    }

    fn connect_error(&self, e: &tokio_postgres::Error) -> Error {
        let op = format!("connect to {} (sslmode={})", self.target, self.mode);
        match tls_failure(e) {
            Some(why) => Error::service("postgres", op, why, false),
            None => Error::postgres(op, e),
        }
    }
}

/// Opens one connection to the server a URL names (see [`PgConnector::new`]).
///
/// # Errors
/// As [`PgConnector::new`] and [`PgConnector::connect`].
pub async fn connect(url: &str) -> Result<Client> {
    PgConnector::new(url)?.connect().await
}

/// The TLS settings of a URL, and the URL without them.
#[derive(Debug, Default, PartialEq, Eq)]
struct SslParams {
    mode: Option<String>,
    root_cert: Option<String>,
}

/// Takes `sslmode` and `sslrootcert` out of a URL's query (or a `key=value` string), since
/// tokio-postgres knows neither `verify-*` nor `sslrootcert`.
fn split_ssl_params(url: &str) -> (String, SslParams) {
    let mut ssl = SslParams::default();
    let mut take = |key: &str, value: String| match key {
        "sslmode" => ssl.mode = Some(value),
        "sslrootcert" => ssl.root_cert = Some(value),
        _ => unreachable!("only the TLS keys are taken"),
    };
    let is_tls_key = |k: &str| matches!(k, "sslmode" | "sslrootcert");
    let rest = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let Some((head, query)) = url.split_once('?') else {
            return (url.to_string(), ssl);
        };
        let mut kept = Vec::new();
        for pair in query.split('&') {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let k = percent_encoding::percent_decode_str(k).decode_utf8_lossy();
            if is_tls_key(&k) {
                take(
                    &k,
                    percent_encoding::percent_decode_str(v)
                        .decode_utf8_lossy()
                        .into(),
                );
            } else {
                kept.push(pair);
            }
        }
        match kept.is_empty() {
            true => head.to_string(),
            false => format!("{head}?{}", kept.join("&")),
        }
    } else {
        let mut kept = Vec::new();
        for (k, v) in key_values(url) {
            if is_tls_key(&k) {
                take(&k, v);
            } else {
                kept.push(format!(
                    "{k}='{}'",
                    v.replace('\\', "\\\\").replace('\'', "\\'")
                ));
            }
        }
        kept.join(" ")
    };
    (rest, ssl)
}

/// Whether every host is a Unix socket, `localhost` or a loopback address.
fn is_local(config: &Config) -> bool {
    let hosts = config.get_hosts();
    !hosts.is_empty()
        && hosts.iter().all(|h| match h {
            Host::Unix(_) => true,
            Host::Tcp(name) => {
                name.eq_ignore_ascii_case("localhost")
                    || name
                        .trim_matches(['[', ']'])
                        .parse::<std::net::IpAddr>()
                        .is_ok_and(|ip| ip.is_loopback())
            }
        })
}

/// libpq's default root file, `~/.postgresql/root.crt`, when it exists.
fn default_root_file(env: &impl Fn(&str) -> Option<String>) -> Option<PathBuf> {
    let file = Path::new(&env("HOME")?).join(".postgresql/root.crt");
    file.is_file().then_some(file)
}

/// `host:port` of every host of a configuration, for messages.
pub(crate) fn target_of(config: &Config) -> String {
    let ports = config.get_ports();
    config
        .get_hosts()
        .iter()
        .enumerate()
        .map(|(i, h)| {
            let port = ports.get(i).or(ports.first()).copied().unwrap_or(5432);
            match h {
                Host::Tcp(name) => format!("{name}:{port}"),
                Host::Unix(path) => format!("{}/.s.PGSQL.{port}", path.display()),
            }
        })
        .collect::<Vec<_>>()
        .join(",")
}

// ---- TLS ------------------------------------------------------------------------------------

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The rustls configuration of a mode: which verifier checks the server's certificate.
fn client_config(mode: SslMode, roots: &Roots) -> Result<ClientConfig> {
    let provider = provider();
    let verifier: Arc<dyn ServerCertVerifier> = match (mode, roots) {
        (SslMode::Disable, _) | (SslMode::Prefer | SslMode::Require, Roots::Unset) => {
            Arc::new(Unverified(provider.signature_verification_algorithms))
        }
        (SslMode::Prefer | SslMode::Require | SslMode::VerifyCa, _) => {
            Arc::new(ChainOnly(webpki(roots, &provider)?))
        }
        (SslMode::VerifyFull, _) => webpki(roots, &provider)?,
    };
    Ok(ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Config(format!("TLS: {e}")))?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth())
}

fn webpki(roots: &Roots, provider: &Arc<CryptoProvider>) -> Result<Arc<WebPkiServerVerifier>> {
    let store = Arc::new(root_store(roots)?);
    WebPkiServerVerifier::builder_with_provider(store, Arc::clone(provider))
        .build()
        .map_err(|e| Error::Config(format!("TLS roots: {e}")))
}

fn root_store(roots: &Roots) -> Result<RootCertStore> {
    let mut store = RootCertStore::empty();
    match roots {
        Roots::File(path) => {
            let bad = |e: &dyn fmt::Display| {
                Error::Config(format!("sslrootcert {}: {e}", path.display()))
            };
            let certs = CertificateDer::pem_file_iter(path)
                .map_err(|e| bad(&e))?
                .collect::<std::result::Result<Vec<_>, _>>()
                .map_err(|e| bad(&e))?;
            let (added, _) = store.add_parsable_certificates(certs);
            if added == 0 {
                return Err(bad(&"no certificate in the file"));
            }
        }
        Roots::System | Roots::Unset => {
            let found = rustls_native_certs::load_native_certs();
            store.add_parsable_certificates(found.certs);
            if store.is_empty() {
                return Err(Error::Config(
                    "TLS: the system has no trusted root certificates; set sslrootcert".into(),
                ));
            }
        }
    }
    Ok(store)
}

/// `prefer`/`require` without roots: encrypted, the certificate not checked (the
/// handshake's signatures still are).
#[derive(Debug)]
struct Unverified(WebPkiSupportedAlgorithms);

impl ServerCertVerifier for Unverified {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_schemes()
    }
}

/// `verify-ca` (and `prefer`/`require` with roots): the chain checked, not the name.
#[derive(Debug)]
struct ChainOnly(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        // webpki checks the chain before the name: a name error means the chain is good.
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

/// What went wrong with TLS, in words, when a connection failed for TLS.
fn tls_failure(e: &tokio_postgres::Error) -> Option<String> {
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        let rustls_error = s.downcast_ref::<rustls::Error>().or_else(|| {
            s.downcast_ref::<std::io::Error>()
                .and_then(|io| io.get_ref())
                .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        });
        if let Some(r) = rustls_error {
            return Some(describe_rustls(r));
        }
        if s.to_string().contains("server does not support TLS") {
            return Some(
                "the server does not accept TLS connections (it answered the SSL request \
                 with no); enable ssl on the server, or use sslmode=disable on a trusted network"
                    .into(),
            );
        }
        source = s.source();
    }
    None
}

fn describe_rustls(e: &rustls::Error) -> String {
    let why = match e {
        rustls::Error::InvalidCertificate(c) => match c {
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
                "the server's certificate does not name the host connected to"
            }
            CertificateError::UnknownIssuer => {
                "the server's certificate is not signed by a trusted CA (see sslrootcert)"
            }
            CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
                "the server's certificate has expired"
            }
            CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
                "the server's certificate is not valid yet"
            }
            _ => "the server's certificate does not verify",
        },
        _ => "the TLS handshake failed",
    };
    format!("{why}: {e}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn url_tls_parameters_are_taken_out() {
        let (rest, ssl) = split_ssl_params(
            "postgres://u:p%3Fw@h:5/db?sslmode=verify-full&application_name=x&sslrootcert=%2Ftmp%2Fca.pem",
        );
        assert_eq!(rest, "postgres://u:p%3Fw@h:5/db?application_name=x");
        assert_eq!(ssl.mode.as_deref(), Some("verify-full"));
        assert_eq!(ssl.root_cert.as_deref(), Some("/tmp/ca.pem"));
        let (rest, ssl) = split_ssl_params("postgres://h/db?sslmode=require");
        assert_eq!(
            (rest.as_str(), ssl.mode.as_deref()),
            ("postgres://h/db", Some("require"))
        );
    }

    #[test]
    fn key_value_tls_parameters_are_taken_out() {
        let (rest, ssl) = split_ssl_params(
            "host=db.example.com sslmode = verify-ca password='it\\'s a secret' sslrootcert='/a b/ca.pem'",
        );
        assert_eq!(ssl.mode.as_deref(), Some("verify-ca"));
        assert_eq!(ssl.root_cert.as_deref(), Some("/a b/ca.pem"));
        let config: Config = rest.parse().unwrap();
        assert_eq!(config.get_password(), Some(&b"it's a secret"[..]));
    }

    #[test]
    fn the_default_mode_is_prefer_on_loopback_and_verify_full_elsewhere() {
        let mode = |url: &str| PgConnector::with_env(url, no_env).unwrap().ssl_mode();
        assert_eq!(mode("postgres://u@127.0.0.1:5432/db"), SslMode::Prefer);
        assert_eq!(mode("postgres://u@localhost/db"), SslMode::Prefer);
        assert_eq!(mode("postgres://u@[::1]/db"), SslMode::Prefer);
        assert_eq!(mode("host=/var/run/postgresql dbname=db"), SslMode::Prefer);
        assert_eq!(mode("postgres://u@db.example.com/db"), SslMode::VerifyFull);
        assert_eq!(mode("postgres://u@10.0.0.5/db"), SslMode::VerifyFull);
        assert_eq!(
            mode("postgres://u@localhost,db.example.com/db"),
            SslMode::VerifyFull
        );
    }

    #[test]
    fn the_url_wins_over_the_environment() {
        let env = |k: &str| (k == "PGSSLMODE").then(|| "disable".to_string());
        let mode = |url: &str| PgConnector::with_env(url, env).unwrap().ssl_mode();
        assert_eq!(mode("postgres://db.example.com/db"), SslMode::Disable);
        assert_eq!(
            mode("postgres://db.example.com/db?sslmode=require"),
            SslMode::Require
        );
    }

    #[test]
    fn bad_modes_and_root_files_are_configuration_errors() {
        let e = PgConnector::with_env("postgres://h/db?sslmode=allow", no_env).unwrap_err();
        assert!(e.to_string().contains("allow"), "{e}");
        let e = PgConnector::with_env(
            "postgres://h/db?sslmode=verify-full&sslrootcert=/nonexistent/ca.pem",
            no_env,
        )
        .unwrap_err();
        assert!(
            matches!(e, Error::Config(_)) && e.to_string().contains("/nonexistent/ca.pem"),
            "{e}"
        );
        let e = PgConnector::with_env("postgres://u:secret@h/db?port=x", no_env).unwrap_err();
        assert!(!e.to_string().contains("secret"), "{e}");
    }
}
