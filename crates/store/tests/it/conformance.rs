//! The conformance suite against every backend: memory and a local folder always, an
//! S3-compatible server when `ABFORGE_TEST_S3_ENDPOINT` names one.

use abforge_store::{ObjectStoreConfig, conformance};
use std::io::Write;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory() {
    let objects = ObjectStoreConfig::new()
        .with_url("memory://")
        .build()
        .unwrap();
    conformance::run_all(&objects).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_folder() {
    let dir = tempfile::tempdir().unwrap();
    let objects = ObjectStoreConfig::new()
        .with_data_dir(dir.path())
        .build()
        .unwrap();
    assert!(dir.path().join("objects").is_dir());
    conformance::run_all(&objects).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_folder_by_url_under_a_prefix() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("file://{}", dir.path().join("nested/store").display());
    let objects = ObjectStoreConfig::new().with_url(url).build().unwrap();
    let objects = objects.child("tenant").unwrap();
    conformance::run_all(&objects).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_writes_are_plain_files_in_the_folder() {
    let dir = tempfile::tempdir().unwrap();
    let objects = ObjectStoreConfig::new()
        .with_data_dir(dir.path())
        .build()
        .unwrap();
    let doc = serde_json::json!({ "a": 1 });
    objects
        .put_json_if_changed("params/e/r.json", &doc)
        .await
        .unwrap();
    let text = std::fs::read_to_string(dir.path().join("objects/params/e/r.json")).unwrap();
    assert_eq!(text, "{\n  \"a\": 1\n}\n");
}

/// Against a real S3-compatible server: `ABFORGE_TEST_S3_ENDPOINT=http://127.0.0.1:PORT`,
/// `ABFORGE_TEST_S3_BUCKET` (default `abforge-test`, must exist), credentials and region from
/// the `AWS_*` variables (default `test`/`test`, `us-east-1`). Skipped, saying so, when the
/// endpoint is not set.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_compatible_server() {
    let Some(endpoint) = std::env::var("ABFORGE_TEST_S3_ENDPOINT")
        .ok()
        .filter(|e| !e.is_empty())
    else {
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED s3_compatible_server: ABFORGE_TEST_S3_ENDPOINT is not set"
        );
        return;
    };
    let bucket = std::env::var("ABFORGE_TEST_S3_BUCKET").unwrap_or_else(|_| "abforge-test".into());
    let env = |k: &str, default: &str| std::env::var(k).unwrap_or_else(|_| default.into());
    // A fresh prefix per run, so runs never see each other's objects.
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let prefix = format!("conformance-{}-{nanos}", std::process::id());
    let objects = ObjectStoreConfig::new()
        .with_url(format!("s3://{bucket}/{prefix}"))
        .with_s3_option("aws_endpoint_url", &endpoint)
        .with_s3_option("aws_access_key_id", env("AWS_ACCESS_KEY_ID", "test"))
        .with_s3_option(
            "aws_secret_access_key",
            env("AWS_SECRET_ACCESS_KEY", "test"),
        )
        .with_s3_option("aws_region", env("AWS_REGION", "us-east-1"))
        .build()
        .unwrap();
    assert_eq!(objects.to_string(), format!("s3://{bucket}/{prefix}"));
    conformance::run_all(&objects).await;
}

#[tokio::test]
async fn an_unreachable_s3_endpoint_fails_the_check() {
    // Port 9 (discard) on loopback: nothing listens, the connection is refused at once.
    let objects = ObjectStoreConfig::new()
        .with_url("s3://b/p")
        .with_s3_option("aws_endpoint_url", "http://127.0.0.1:9")
        .with_s3_option("aws_access_key_id", "test")
        .with_s3_option("aws_secret_access_key", "test")
        .with_s3_option("aws_region", "us-east-1")
        .with_retries(0, std::time::Duration::from_secs(1))
        .build()
        .unwrap();
    let e = objects.check().await.unwrap_err();
    assert!(e.to_string().contains("s3://b/p"), "{e}");
}
