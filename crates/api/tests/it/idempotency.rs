//! A PUT of what is already stored writes nothing; anything else replaces it.

use crate::{Api, params_path, small};
use abforge_api::ApiConfig;
use abforge_store::{ObjectStoreConfig, Objects};
use axum::http::StatusCode;
use serde_json::json;

async fn check(objects: Objects) {
    let api = Api::on(ApiConfig::default(), objects);
    let path = params_path("demo", "r1");
    let key = "params/demo/r1.json";
    let head = || async { api.state.objects().head(key).await.unwrap().unwrap() };

    let r = api.put(&path, small("demo").to_string()).await;
    assert_eq!(r.status, StatusCode::CREATED);
    assert_eq!(r.json()["outcome"], "created");
    let hash = r.json()["blueprint_hash"].clone();
    let first = head().await;

    // The same blueprint, however it is written: unchanged, no write.
    let same = [
        small("demo").to_string(),
        serde_json::to_string_pretty(&small("demo")).unwrap(),
        // Top-level keys in another order, numbers in another spelling.
        r#"{"metrics":{"items":{"distribution":"poisson","control":{"lambda":2},
            "treatment":{"lift":1e-1}}},"groups":{"control":1.0,"treatment":1},
            "days":7,"start_date":"2026-11-23","customers":1000,"seed":7,"id":"demo"}"#
            .to_string(),
    ];
    for body in same {
        let r = api.put(&path, body).await;
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(r.json()["outcome"], "unchanged");
        assert_eq!(r.json()["blueprint_hash"], hash);
        assert!(!r.headers.contains_key("location"));
        let now = head().await;
        assert_eq!(
            (&now.e_tag, now.last_modified),
            (&first.e_tag, first.last_modified),
            "nothing was written"
        );
    }

    // Other content: replaced.
    let mut other = small("demo");
    other["customers"] = json!(2000);
    let r = api.put(&path, other.to_string()).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json()["outcome"], "replaced");
    assert_ne!(r.json()["blueprint_hash"], hash);
    assert_ne!(head().await.e_tag, first.e_tag);
    let doc = api.get(&path).await.json();
    assert_eq!(doc["blueprint"]["customers"], 2000);

    // Group order is content (it orders the arms): replaced too.
    let mut swapped = other.clone();
    swapped["groups"] = json!({ "treatment": 1, "control": 1 });
    let r = api.put(&path, swapped.to_string()).await;
    assert_eq!(r.json()["outcome"], "replaced");

    // Back to the first: replaced, with the first hash again.
    let r = api.put(&path, small("demo").to_string()).await;
    assert_eq!(r.json()["outcome"], "replaced");
    assert_eq!(r.json()["blueprint_hash"], hash);

    // Another run of the same experiment is another object.
    let r = api
        .put(&params_path("demo", "r2"), small("demo").to_string())
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
}

#[tokio::test]
async fn in_memory() {
    check(Objects::memory()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_a_local_folder() {
    let dir = tempfile::tempdir().unwrap();
    check(
        ObjectStoreConfig::new()
            .with_data_dir(dir.path())
            .build()
            .unwrap(),
    )
    .await;
}

/// On a real S3-compatible server when `ABFORGE_TEST_S3_ENDPOINT` is set (as the store's
/// conformance suite); skipped, saying so, otherwise.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_s3() {
    use std::io::Write;
    let Some(endpoint) = std::env::var("ABFORGE_TEST_S3_ENDPOINT")
        .ok()
        .filter(|e| !e.is_empty())
    else {
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED idempotency::on_s3: ABFORGE_TEST_S3_ENDPOINT is not set"
        );
        return;
    };
    let env = |k: &str, default: &str| std::env::var(k).unwrap_or_else(|_| default.into());
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let objects = ObjectStoreConfig::new()
        .with_url(format!(
            "s3://{}/api-{}-{nanos}",
            env("ABFORGE_TEST_S3_BUCKET", "abforge-test"),
            std::process::id()
        ))
        .with_s3_option("aws_endpoint_url", endpoint)
        .with_s3_option("aws_access_key_id", env("AWS_ACCESS_KEY_ID", "test"))
        .with_s3_option(
            "aws_secret_access_key",
            env("AWS_SECRET_ACCESS_KEY", "test"),
        )
        .with_s3_option("aws_region", env("AWS_REGION", "us-east-1"))
        .build()
        .unwrap();
    check(objects.clone()).await;
    let api = Api::on(ApiConfig::default(), objects.clone());
    assert_eq!(api.get("/readyz").await.status, StatusCode::OK);
    let r = api.get("/v1/experiments/demo/runs").await;
    assert_eq!(r.json()["runs"], json!(["r1", "r2"]));
    for o in objects.list("").await.unwrap() {
        objects.delete(&o.key).await.unwrap();
    }
}
