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
    assert!(!objects.tags_every_write(), "S3's tags follow the content");
    tags_follow_the_object(&objects).await;
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

/// Entity tags: the one `put_if_changed_tagged` reports is the one `head` and `get` see
/// afterwards; `get_if_none_match` with it reads nothing until the object changes.
async fn tags_follow_the_object(objects: &abforge_store::Objects) {
    use abforge_store::objects::{Fetched, PutOutcome};
    let key = "tags/e/r.json";
    assert_eq!(objects.get_if_none_match(key, "x").await.unwrap(), None);
    let put = objects
        .put_if_changed_tagged(key, "one".into())
        .await
        .unwrap();
    assert_eq!(put.outcome, PutOutcome::Created);
    let tag = put.e_tag.expect("every backend here gives entity tags");
    let head = objects.head(key).await.unwrap().unwrap();
    assert_eq!(head.e_tag.as_deref(), Some(tag.as_str()));
    let got = objects.get(key).await.unwrap().unwrap();
    assert_eq!(got.info, head);
    assert_eq!(&got.bytes[..], b"one");

    let again = objects
        .put_if_changed_tagged(key, "one".into())
        .await
        .unwrap();
    assert_eq!(again.outcome, PutOutcome::Unchanged);
    assert_eq!(again.e_tag.as_deref(), Some(tag.as_str()));
    assert_eq!(
        objects.get_if_none_match(key, &tag).await.unwrap(),
        Some(Fetched::NotModified)
    );
    match objects.get_if_none_match(key, "another").await.unwrap() {
        Some(Fetched::Object(o)) => assert_eq!(o, got),
        other => panic!("{other:?}"),
    }

    let put = objects
        .put_if_changed_tagged(key, "two".into())
        .await
        .unwrap();
    assert_eq!(put.outcome, PutOutcome::Replaced);
    assert_ne!(put.e_tag.as_deref(), Some(tag.as_str()));
    match objects.get_if_none_match(key, &tag).await.unwrap() {
        Some(Fetched::Object(o)) => {
            assert_eq!(&o.bytes[..], b"two");
            assert_eq!(o.info.e_tag, put.e_tag);
        }
        other => panic!("{other:?}"),
    }
    objects.delete(key).await.unwrap();
    assert_eq!(objects.get_if_none_match(key, &tag).await.unwrap(), None);
    assert_eq!(objects.head(key).await.unwrap(), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entity_tags_in_memory_and_on_a_local_folder() {
    let memory = ObjectStoreConfig::new()
        .with_url("memory://")
        .build()
        .unwrap();
    assert!(memory.tags_every_write());
    tags_follow_the_object(&memory).await;
    let dir = tempfile::tempdir().unwrap();
    let local = ObjectStoreConfig::new()
        .with_data_dir(dir.path())
        .build()
        .unwrap()
        .child("nested")
        .unwrap();
    assert!(local.tags_every_write());
    tags_follow_the_object(&local).await;
    // A handle on any backend, made without the config, takes object_store's own path.
    let plain = abforge_store::Objects::new(
        std::sync::Arc::new(
            object_store::local::LocalFileSystem::new_with_prefix(dir.path()).unwrap(),
        ),
        "plain",
    )
    .unwrap();
    assert!(!plain.tags_every_write());
    tags_follow_the_object(&plain).await;
}

/// The local folder's reads on the calling task give what object_store's own reads give:
/// the same bytes, modification time and entity tag; a folder is no object.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_reads_match_object_store() {
    use object_store::ObjectStoreExt;
    let dir = tempfile::tempdir().unwrap();
    let objects = ObjectStoreConfig::new()
        .with_data_dir(dir.path())
        .build()
        .unwrap();
    objects
        .put_if_changed("a/b.json", "{}".into())
        .await
        .unwrap();
    let ours = objects.get("a/b.json").await.unwrap().unwrap();
    let theirs = objects
        .store()
        .get(&objects.location("a/b.json").unwrap())
        .await
        .unwrap();
    assert_eq!(ours.info.last_modified, theirs.meta.last_modified);
    assert_eq!(ours.info.e_tag, theirs.meta.e_tag);
    assert_eq!(ours.info.size, theirs.meta.size);
    assert_eq!(ours.bytes, theirs.bytes().await.unwrap());
    assert_eq!(objects.get("a").await.unwrap(), None);
    assert_eq!(objects.head("a").await.unwrap(), None);
    assert_eq!(objects.get_if_none_match("a", "x").await.unwrap(), None);
    assert_eq!(objects.get("a/c.json").await.unwrap(), None);
}

/// Another process replaces the file (a new file renamed over it, as every writer of the
/// store does): the next conditional read sees the new object, not the tag it was given.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_rewrites_by_another_process_change_the_tag() {
    use abforge_store::objects::Fetched;
    let dir = tempfile::tempdir().unwrap();
    let objects = ObjectStoreConfig::new()
        .with_data_dir(dir.path())
        .build()
        .unwrap();
    let put = objects
        .put_if_changed_tagged("p/r.json", "old".into())
        .await
        .unwrap();
    let tag = put.e_tag.unwrap();
    let file = dir.path().join("objects/p/r.json");
    let status = std::process::Command::new("sh")
        .arg("-c")
        .arg(r#"printf new > "$1.tmp" && mv "$1.tmp" "$1""#)
        .arg("sh")
        .arg(&file)
        .status()
        .unwrap();
    assert!(status.success());
    match objects.get_if_none_match("p/r.json", &tag).await.unwrap() {
        Some(Fetched::Object(o)) => {
            assert_eq!(&o.bytes[..], b"new");
            assert_ne!(o.info.e_tag.as_deref(), Some(tag.as_str()));
        }
        other => panic!("{other:?}"),
    }
    std::fs::remove_file(&file).unwrap();
    assert_eq!(
        objects.get_if_none_match("p/r.json", &tag).await.unwrap(),
        None
    );
}
