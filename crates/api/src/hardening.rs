//! What protects the server: the Host allow-list (DNS rebinding), the headers on every
//! response, and the socket server's limits (header-read timeout, idle keep-alive bounded,
//! a cap on connections) — see [`serve_with`].

use crate::error::{ErrorBody, json_response};
use abforge_env::EnvVars;
use axum::Router;
use axum::body::Body;
use axum::http::{HeaderValue, Request, StatusCode, header};
use axum::response::Response;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;

/// The host names requests may be addressed to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AllowedHosts {
    /// Any `Host` (behind API Gateway, which checks the host itself).
    Any,
    /// The loopback names (`localhost`, `*.localhost`, `127.0.0.0/8`, `[::1]`) and these
    /// names (lower case, without port).
    Loopback(Vec<String>),
}

impl Default for AllowedHosts {
    fn default() -> Self {
        AllowedHosts::Loopback(Vec::new())
    }
}

impl AllowedHosts {
    /// The loopback names and `extra` (`*` among them: any host).
    pub fn with(extra: impl IntoIterator<Item = impl AsRef<str>>) -> AllowedHosts {
        let mut names = Vec::new();
        for name in extra {
            let name = name
                .as_ref()
                .trim()
                .trim_end_matches('.')
                .to_ascii_lowercase();
            match name.as_str() {
                "" => {}
                "*" => return AllowedHosts::Any,
                _ => names.push(host_without_port(&name).to_string()),
            }
        }
        AllowedHosts::Loopback(names)
    }

    /// Whether a request for `host` (the `Host` header's value, port included or not) is
    /// served.
    pub fn allows(&self, host: &str) -> bool {
        let name = host_without_port(host)
            .trim_end_matches('.')
            .to_ascii_lowercase();
        match self {
            AllowedHosts::Any => true,
            AllowedHosts::Loopback(extra) => is_loopback(&name) || extra.contains(&name),
        }
    }
}

/// `host` without its `:port` (`[::1]:80` → `[::1]`).
fn host_without_port(host: &str) -> &str {
    if host.starts_with('[') {
        return host.find(']').map_or(host, |i| &host[..=i]);
    }
    host.rsplit_once(':').map_or(host, |(name, _)| name)
}

fn is_loopback(name: &str) -> bool {
    name == "localhost"
        || name.ends_with(".localhost")
        || name
            .trim_matches(['[', ']'])
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Answers 421 to a request whose `Host` (or absolute URI) names a host not allowed. A
/// request naming no host at all (HTTP/1.0, tests) is served: a browser always names one.
pub(crate) async fn host_guard(
    allowed: Arc<AllowedHosts>,
    req: Request<Body>,
    next: axum::middleware::Next,
) -> Response {
    let host = req
        .uri()
        .authority()
        .map(|a| a.as_str().rsplit('@').next().unwrap_or("").to_string())
        .or_else(|| {
            req.headers()
                .get(header::HOST)
                .map(|h| String::from_utf8_lossy(h.as_bytes()).into_owned())
        });
    match host {
        Some(host) if !allowed.allows(&host) => misdirected(&host),
        _ => next.run(req).await,
    }
}

fn misdirected(host: &str) -> Response {
    tracing::warn!(host, "refused a request for a host not allowed (421)");
    json_response(
        StatusCode::MISDIRECTED_REQUEST,
        &ErrorBody {
            error: format!(
                "this server does not answer for host {host:?}; allow it with --allowed-host \
                 or {}",
                EnvVars::ABFORGE_API_ALLOWED_HOSTS
            ),
            details: vec![],
        },
    )
}

/// The CSP of responses that set none (JSON, errors): nothing may load, nothing may frame.
const DEFAULT_CSP: &str = "default-src 'none'; frame-ancestors 'none'";

/// Adds `X-Content-Type-Options: nosniff`, `Referrer-Policy: no-referrer` and a CSP with
/// `frame-ancestors 'none'` to every response (a page's own CSP kept, the directive added).
pub(crate) async fn security_headers(mut res: Response) -> Response {
    let h = res.headers_mut();
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    let csp = match h.get(header::CONTENT_SECURITY_POLICY).map(|v| v.to_str()) {
        Some(Ok(own)) if own.contains("frame-ancestors") => None,
        Some(Ok(own)) => HeaderValue::from_str(&format!("{own}; frame-ancestors 'none'")).ok(),
        _ => Some(HeaderValue::from_static(DEFAULT_CSP)),
    };
    if let Some(csp) = csp {
        h.insert(header::CONTENT_SECURITY_POLICY, csp);
    }
    res
}

/// The socket server's limits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServeOptions {
    /// Time a client has to send a request's headers, and that an idle keep-alive
    /// connection stays open; then the connection is closed (slowloris).
    pub header_read_timeout: Duration,
    /// Connections served at once; more wait in the listen backlog.
    pub max_connections: usize,
}

impl Default for ServeOptions {
    /// 10 s to send headers or stay idle, 256 connections.
    fn default() -> Self {
        ServeOptions {
            header_read_timeout: Duration::from_secs(10),
            max_connections: 256,
        }
    }
}

/// Serves `app` on `listener` (HTTP/1.1) until `shutdown` resolves, then stops accepting,
/// asks each connection to close after its request in flight, and waits for them.
///
/// Each connection must send a request's headers within `header_read_timeout` (an idle
/// keep-alive connection is closed after as long); at most `max_connections` are served at
/// once.
///
/// # Errors
/// The listener's I/O errors.
pub async fn serve_with(
    listener: tokio::net::TcpListener,
    app: Router,
    options: ServeOptions,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let slots = Arc::new(Semaphore::new(options.max_connections.max(1)));
    let (stop, stopped) = watch::channel(());
    let mut connections = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            () = &mut shutdown => break,
            p = Arc::clone(&slots).acquire_owned() => p.expect("never closed"),
        };
        let stream = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) if is_per_connection(&e) => continue,
                Err(e) => return Err(e),
            },
        };
        let service = TowerToHyperService::new(app.clone());
        let timeout = options.header_read_timeout;
        let stopped = stopped.clone();
        connections.spawn(async move {
            serve_connection(stream, service, timeout, stopped).await;
            drop(permit);
        });
        while connections.try_join_next().is_some() {}
    }
    drop(listener);
    let _ = stop.send(());
    while connections.join_next().await.is_some() {}
    Ok(())
}

/// Errors of `accept` that concern one connection (it was reset before accepted).
fn is_per_connection(e: &std::io::Error) -> bool {
    use std::io::ErrorKind as K;
    matches!(
        e.kind(),
        K::ConnectionAborted | K::ConnectionReset | K::Interrupted
    )
}

async fn serve_connection(
    stream: tokio::net::TcpStream,
    service: TowerToHyperService<Router>,
    header_read_timeout: Duration,
    mut stopped: watch::Receiver<()>,
) {
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(header_read_timeout)
        .keep_alive(true);
    let conn = builder.serve_connection(TokioIo::new(stream), service);
    tokio::pin!(conn);
    let result = tokio::select! {
        r = conn.as_mut() => r,
        _ = stopped.changed() => {
            conn.as_mut().graceful_shutdown();
            conn.await
        }
    };
    if let Err(e) = result {
        tracing::debug!(error = %e, "connection closed");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_names_are_allowed_by_default() {
        let a = AllowedHosts::default();
        for host in [
            "localhost",
            "LOCALHOST:8080",
            "app.localhost",
            "127.0.0.1",
            "127.1.2.3:80",
            "[::1]",
            "[::1]:8080",
            "localhost.",
        ] {
            assert!(a.allows(host), "{host}");
        }
        for host in [
            "evil.example",
            "localhost.evil.example",
            "10.0.0.1",
            "[::2]:80",
            "",
        ] {
            assert!(!a.allows(host), "{host}");
        }
    }

    #[test]
    fn more_names_can_be_allowed() {
        let a = AllowedHosts::with(["abforge.internal", " Box.Lan:8080 "]);
        assert!(a.allows("abforge.internal:8080") && a.allows("box.lan"));
        assert!(!a.allows("evil.example"));
        assert_eq!(AllowedHosts::with(["x", "*"]), AllowedHosts::Any);
        assert!(AllowedHosts::Any.allows("evil.example"));
    }
}
