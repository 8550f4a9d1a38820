//! What the params routes remember between requests (the rendered GET answer, the last
//! accepted PUT body) is used only while the stored object is still the one it came from:
//! a write by another replica or another process is seen by the very next request.

use crate::{Api, params_path, small};
use abforge_api::ApiConfig;
use abforge_store::{ObjectStoreConfig, Objects};
use axum::http::StatusCode;
use serde_json::{Value, json};
use std::path::Path;

fn with_seed(seed: u64) -> Value {
    let mut bp = small("demo");
    bp["seed"] = json!(seed);
    bp
}

/// Two apps on one store, each with its own caches: what one writes, the other sees.
async fn replicas(objects: Objects) {
    let (a, b) = (
        Api::on(ApiConfig::default(), objects.clone()),
        Api::on(ApiConfig::default(), objects),
    );
    let path = params_path("demo", "r1");
    assert_eq!(a.get(&path).await.status, StatusCode::NOT_FOUND);
    let seven = with_seed(7).to_string();
    assert_eq!(
        a.put(&path, seven.clone()).await.status,
        StatusCode::CREATED
    );
    let first = a.get(&path).await;
    assert_eq!(first.status, StatusCode::OK);
    assert_eq!(first.json()["blueprint"]["seed"], 7);
    // Asked again: the same answer, byte for byte (stored_at included).
    assert_eq!(a.get(&path).await.bytes, first.bytes);
    assert_eq!(
        a.put(&path, seven.clone()).await.json()["outcome"],
        "unchanged"
    );
    assert_eq!(
        a.put(&path, seven.clone()).await.json()["outcome"],
        "unchanged"
    );

    // The other replica replaces the params.
    let r = b.put(&path, with_seed(8).to_string()).await;
    assert_eq!(r.json()["outcome"], "replaced");
    let doc = a.get(&path).await.json();
    assert_eq!(doc["blueprint"]["seed"], 8);
    assert_eq!(doc, b.get(&path).await.json());
    // The body `a` accepted last is no longer what is stored: it is written again.
    let r = a.put(&path, seven.clone()).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json()["outcome"], "replaced");
    assert_eq!(b.get(&path).await.json()["blueprint"]["seed"], 7);
    assert_eq!(
        b.put(&path, seven.clone()).await.json()["outcome"],
        "unchanged"
    );

    // Deleted underneath: GET is 404, the same PUT creates it again.
    b.state
        .objects()
        .delete("params/demo/r1.json")
        .await
        .unwrap();
    assert_eq!(a.get(&path).await.status, StatusCode::NOT_FOUND);
    let r = a.put(&path, seven.clone()).await;
    assert_eq!(r.status, StatusCode::CREATED);
    assert_eq!(r.json()["outcome"], "created");
    assert_eq!(a.get(&path).await.json()["blueprint"]["seed"], 7);
}

#[tokio::test]
async fn replicas_in_memory() {
    replicas(Objects::memory()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_on_a_local_folder() {
    let dir = tempfile::tempdir().unwrap();
    replicas(
        ObjectStoreConfig::new()
            .with_data_dir(dir.path())
            .build()
            .unwrap(),
    )
    .await;
}

/// Runs `script` in `sh` with the file as `$1`: another process at work on the store.
fn another_process(script: &str, file: &Path) {
    let status = std::process::Command::new("sh")
        .arg("-c")
        .arg(script)
        .arg("sh")
        .arg(file)
        .status()
        .unwrap();
    assert!(status.success(), "{script}");
}

/// Another process rewrites the object file (a new file renamed over it, the way the
/// store writes), or removes it: GET and PUT see it at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rewrites_by_another_process() {
    let dir = tempfile::tempdir().unwrap();
    let objects = ObjectStoreConfig::new()
        .with_data_dir(dir.path())
        .build()
        .unwrap();
    let api = Api::on(ApiConfig::default(), objects);
    let path = params_path("demo", "r1");
    let file = dir.path().join("objects/params/demo/r1.json");

    // The document seed 8 makes, kept aside; then seed 7 stored, read and cached.
    api.put(&path, with_seed(8).to_string()).await;
    let eight = std::fs::read(&file).unwrap();
    let seven = with_seed(7).to_string();
    assert_eq!(
        api.put(&path, seven.clone()).await.json()["outcome"],
        "replaced"
    );
    assert_eq!(
        api.put(&path, seven.clone()).await.json()["outcome"],
        "unchanged"
    );
    let cached = api.get(&path).await;
    assert_eq!(api.get(&path).await.bytes, cached.bytes);

    std::fs::write(dir.path().join("eight.json"), &eight).unwrap();
    let script = format!(
        r#"cp "{}" "$1.new" && mv "$1.new" "$1""#,
        dir.path().join("eight.json").display()
    );
    another_process(&script, &file);
    let r = api.get(&path).await;
    assert_eq!(r.status, StatusCode::OK);
    let doc = r.json();
    assert_eq!(doc["blueprint"]["seed"], 8);
    // stored_at is the new file's modification time.
    let now = api
        .state
        .objects()
        .head("params/demo/r1.json")
        .await
        .unwrap();
    assert_eq!(doc["stored_at"], now.unwrap().last_modified.to_rfc3339());
    assert_ne!(doc["stored_at"], cached.json()["stored_at"]);

    // The PUT body accepted last no longer matches what is stored: written again.
    let r = api.put(&path, seven.clone()).await;
    assert_eq!(r.json()["outcome"], "replaced");
    assert_eq!(api.get(&path).await.json()["blueprint"]["seed"], 7);
    assert_eq!(
        api.put(&path, seven.clone()).await.json()["outcome"],
        "unchanged"
    );

    // Removed by another process.
    api.get(&path).await;
    another_process(r#"rm "$1""#, &file);
    assert_eq!(api.get(&path).await.status, StatusCode::NOT_FOUND);
    let r = api.put(&path, seven.clone()).await;
    assert_eq!(r.json()["outcome"], "created");
    assert!(file.is_file());
}

/// Bodies are compared byte for byte: the same blueprint spelt otherwise takes the full
/// path (and is still unchanged), and an invalid body is never remembered.
#[tokio::test]
async fn only_identical_bodies_are_short_cut() {
    let api = Api::open();
    let path = params_path("demo", "r1");
    let compact = small("demo").to_string();
    let pretty = serde_json::to_string_pretty(&small("demo")).unwrap();
    let hash = api.put(&path, compact.clone()).await.json()["blueprint_hash"].clone();
    for body in [&compact, &pretty, &compact, &pretty] {
        let r = api.put(&path, body.clone()).await;
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(r.json()["outcome"], "unchanged");
        assert_eq!(r.json()["blueprint_hash"], hash);
    }
    // Valid for one experiment is not valid for another.
    let r = api.put(&params_path("other", "r1"), compact.clone()).await;
    r.error(StatusCode::UNPROCESSABLE_ENTITY);
    let mut bad = small("demo");
    bad["days"] = json!(0);
    for _ in 0..2 {
        api.put(&path, bad.to_string())
            .await
            .error(StatusCode::UNPROCESSABLE_ENTITY);
    }
    assert_eq!(api.get(&path).await.json()["blueprint_hash"], hash);
}
