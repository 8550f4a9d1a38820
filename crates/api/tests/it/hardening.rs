//! The server's protections: the security headers on every response, the Host allow-list
//! (421), and on a real socket the slow client dropped while others are served, and idle
//! keep-alive connections closed. Bounded by counts and generous timeouts, never timed.

use crate::{Api, params_path, small};
use abforge_api::{AllowedHosts, ApiConfig, AppState, ServeOptions, app, serve_with};
use abforge_store::Objects;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tower::ServiceExt;

/// What a test waits at most for something that should happen (a failure bound, not a
/// measurement).
const BOUND: Duration = Duration::from_secs(20);

async fn raw(api: &Api, req: Request<Body>) -> (StatusCode, axum::http::HeaderMap, String) {
    let res = api.app.clone().oneshot(req).await.unwrap();
    let (parts, body) = res.into_parts();
    let bytes = axum::body::to_bytes(body, usize::MAX).await.unwrap();
    (
        parts.status,
        parts.headers,
        String::from_utf8_lossy(&bytes).into_owned(),
    )
}

fn get(path: &str, host: &str) -> Request<Body> {
    Request::get(path)
        .header(header::HOST, host)
        .body(Body::empty())
        .unwrap()
}

#[tokio::test]
async fn every_response_has_the_security_headers() {
    let api = Api::open();
    let put = api
        .put(&params_path("demo", "r1"), small("demo").to_string())
        .await;
    let mut replies = vec![("PUT params".to_string(), put.headers)];
    for path in [
        "/healthz",
        "/v1/experiments",
        "/v1/experiments/demo/runs",
        &params_path("demo", "r1"),
        "/openapi.json",
        "/docs",
        "/no/such/route",
    ] {
        let (_, headers, _) = raw(&api, get(path, "127.0.0.1:8080")).await;
        replies.push((path.to_string(), headers));
    }
    let (_, headers, _) = raw(&api, get("/healthz", "evil.example")).await;
    replies.push(("421".to_string(), headers));
    for (what, h) in replies {
        assert_eq!(h[header::X_CONTENT_TYPE_OPTIONS], "nosniff", "{what}");
        assert_eq!(h[header::REFERRER_POLICY], "no-referrer", "{what}");
        let csp = h[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
        assert!(csp.starts_with("default-src 'none'"), "{what}: {csp}");
        assert!(csp.contains("frame-ancestors 'none'"), "{what}: {csp}");
    }
}

#[tokio::test]
async fn a_request_for_another_host_gets_421_with_a_json_body() {
    let api = Api::open();
    for host in [
        "evil.example",
        "evil.example:8080",
        "10.0.0.1",
        "localhost.evil.example",
    ] {
        let (status, headers, body) = raw(&api, get("/v1/experiments", host)).await;
        assert_eq!(status, StatusCode::MISDIRECTED_REQUEST, "{host}");
        assert_eq!(headers[header::CONTENT_TYPE], "application/json", "{host}");
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert!(
            v["error"].as_str().unwrap().contains("--allowed-host"),
            "{v}"
        );
    }
    for host in ["127.0.0.1:8080", "localhost", "[::1]:80", "app.localhost"] {
        let (status, _, _) = raw(&api, get("/v1/experiments", host)).await;
        assert_eq!(status, StatusCode::OK, "{host}");
    }
    // An absolute URI names the host too.
    let (status, _, _) = raw(&api, get("http://evil.example/healthz", "127.0.0.1")).await;
    assert_eq!(status, StatusCode::MISDIRECTED_REQUEST);
}

#[tokio::test]
async fn more_hosts_can_be_allowed() {
    let api = Api::new(ApiConfig {
        allowed_hosts: AllowedHosts::with(["abforge.internal"]),
        ..ApiConfig::default()
    });
    let (status, _, _) = raw(&api, get("/healthz", "abforge.internal:8080")).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, _) = raw(&api, get("/healthz", "evil.example")).await;
    assert_eq!(status, StatusCode::MISDIRECTED_REQUEST);
    let any = Api::new(ApiConfig {
        allowed_hosts: AllowedHosts::Any,
        ..ApiConfig::default()
    });
    let (status, _, _) = raw(&any, get("/healthz", "evil.example")).await;
    assert_eq!(status, StatusCode::OK);
}

/// A server with a short header-read timeout and room for `max` connections.
async fn start(max: usize) -> (SocketAddr, tokio::sync::oneshot::Sender<()>) {
    let state = AppState::new(ApiConfig::default(), Objects::memory()).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let options = ServeOptions {
        header_read_timeout: Duration::from_millis(300),
        max_connections: max,
    };
    tokio::spawn(serve_with(listener, app(state), options, async {
        let _ = stopped.await;
    }));
    (addr, stop)
}

/// Reads until the server closes the connection; what it sent.
async fn until_closed(s: &mut TcpStream) -> String {
    let mut buf = Vec::new();
    tokio::time::timeout(BOUND, s.read_to_end(&mut buf))
        .await
        .expect("the server closes the connection")
        .ok();
    String::from_utf8_lossy(&buf).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_clients_are_dropped_and_others_are_served() {
    let (addr, _stop) = start(2).await;
    // As many slowloris clients as the server takes connections: headers never finished.
    let mut slow = Vec::new();
    for _ in 0..2 {
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
            .await
            .unwrap();
        slow.push(s);
    }
    // A normal client still gets its answer: the slow ones are dropped to make room.
    let client = reqwest::Client::new();
    let r = tokio::time::timeout(BOUND, client.get(format!("http://{addr}/healthz")).send())
        .await
        .expect("served while slow clients hold every slot")
        .unwrap();
    assert_eq!(r.status(), 200);
    for mut s in slow {
        let answer = until_closed(&mut s).await;
        assert!(
            answer.is_empty() || answer.starts_with("HTTP/1.1 408"),
            "{answer}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_keep_alive_connection_is_closed() {
    let (addr, _stop) = start(4).await;
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .await
        .unwrap();
    // The response, then the connection closed once idle past the header-read timeout.
    let answer = until_closed(&mut s).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert_eq!(answer.matches("HTTP/1.1 ").count(), 1, "{answer}");
}
