//! On a real socket: a client's view, the timeout, and graceful shutdown.

use crate::{params_path, small};
use abforge_api::{ApiConfig, AppState, app, serve};
use abforge_store::Objects;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

struct Server {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<std::io::Result<()>>,
}

async fn start(config: ApiConfig) -> Server {
    let state = AppState::new(config, Objects::memory()).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(serve(listener, app(state), async {
        let _ = rx.await;
    }));
    Server {
        addr,
        stop: Some(tx),
        task,
    }
}

impl Server {
    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    async fn shutdown(mut self) {
        let _ = self.stop.take().unwrap().send(());
        tokio::time::timeout(Duration::from_secs(10), self.task)
            .await
            .expect("stops")
            .unwrap()
            .unwrap();
    }
}

/// Reads a whole HTTP/1.1 response from a connection the server closes.
async fn read_all(s: &mut TcpStream) -> String {
    let mut buf = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut buf))
        .await
        .expect("an answer in time")
        .unwrap();
    String::from_utf8_lossy(&buf).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_puts_and_gets_over_http() {
    let server = start(ApiConfig::default()).await;
    let client = reqwest::Client::new();
    let path = params_path("demo", "r1");
    let r = client
        .put(server.url(&path))
        .header("content-type", "application/json")
        .body(small("demo").to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    assert_eq!(r.headers()["location"], path.as_str());
    assert!(r.headers().contains_key("x-request-id"));
    let r = client
        .get(server.url(&path))
        .header("x-request-id", "abc-123")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-request-id"], "abc-123");
    let doc: serde_json::Value = r.json().await.unwrap();
    assert_eq!(doc["truth"]["experiment_id"], "demo");

    let r = client.get(server.url("/nope")).send().await.unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(r.headers()["content-type"], "application/json");
    let r = client.get(server.url("/healthz")).send().await.unwrap();
    assert_eq!(r.text().await.unwrap(), r#"{"status":"ok"}"#);

    // Encoded traversal on the wire.
    let r = client
        .get(server.url("/v1/experiments/%2e%2e%2f%2e%2e/runs"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_declared_oversized_body_is_refused_before_it_is_read() {
    let server = start(ApiConfig::default()).await;
    let mut s = TcpStream::connect(server.addr).await.unwrap();
    // Only the headers: a 2 MiB body is announced but never sent.
    s.write_all(
        format!(
            "PUT {} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n",
            params_path("demo", "r1"),
            2 << 20
        )
        .as_bytes(),
    )
    .await
    .unwrap();
    let answer = read_all(&mut s).await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("larger than 1048576 bytes"), "{answer}");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_too_slow_to_send_its_body_gets_503() {
    let server = start(ApiConfig {
        request_timeout: Duration::from_millis(300),
        ..ApiConfig::default()
    })
    .await;
    let mut s = TcpStream::connect(server.addr).await.unwrap();
    s.write_all(
        format!(
            "PUT {} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
             Content-Length: 100\r\nConnection: close\r\n\r\n{{",
            params_path("demo", "r1"),
        )
        .as_bytes(),
    )
    .await
    .unwrap();
    let answer = read_all(&mut s).await;
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(answer.contains("x-request-id"), "{answer}");
    assert!(
        answer.ends_with(r#"{"error":"the request took too long","details":[]}"#),
        "{answer}"
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_finishes_the_requests_in_flight() {
    let server = start(ApiConfig::default()).await;
    let body = small("demo").to_string();
    let (first, rest) = body.split_at(body.len() / 2);
    let mut s = TcpStream::connect(server.addr).await.unwrap();
    s.write_all(
        format!(
            "PUT {} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\n\r\n{first}",
            params_path("demo", "r1"),
            body.len()
        )
        .as_bytes(),
    )
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;

    // Ask the server to stop while the request is half sent.
    let Server {
        addr,
        mut stop,
        task,
    } = server;
    stop.take().unwrap().send(()).unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!task.is_finished(), "it waits for the request in flight");

    s.write_all(rest.as_bytes()).await.unwrap();
    let answer = read_all(&mut s).await;
    assert!(answer.starts_with("HTTP/1.1 201"), "{answer}");
    assert!(answer.contains("\"outcome\":\"created\""), "{answer}");
    tokio::time::timeout(Duration::from_secs(10), task)
        .await
        .expect("stops once the request is done")
        .unwrap()
        .unwrap();
    assert!(
        TcpStream::connect(addr).await.is_err(),
        "no longer listening"
    );
}
