//! The conformance suite every object store backend must pass (feature `testing`).
//!
//! Each check takes an [`Objects`] handle on an empty prefix and panics on the first
//! failure, like object_store's own integration suite. [`run_all`] runs every check in its
//! own sub-folder of the handle and removes what it wrote, so it can run against a shared
//! bucket. The crate's integration tests run it against memory, a local folder and (when
//! `ABFORGE_TEST_S3_ENDPOINT` is set) an S3-compatible server.

pub mod locks;
pub mod relational;
pub mod runlog;

use crate::objects::{Objects, PutOutcome};
use bytes::Bytes;
use futures_util::future::join_all;
use serde_json::{Value, json};

/// Runs every check, each in its own sub-folder of `objects`, then deletes what they wrote.
pub async fn run_all(objects: &Objects) {
    check_answers(objects).await;
    let case = |name: &str| objects.child(name).expect("a valid case name");
    put_then_get(&case("put_then_get")).await;
    missing_keys(&case("missing_keys")).await;
    overwrite_and_unchanged(&case("overwrite_and_unchanged")).await;
    json_documents(&case("json_documents")).await;
    listing(&case("listing")).await;
    prefix_isolation(&case("prefix_isolation")).await;
    invalid_keys(&case("invalid_keys")).await;
    concurrent_writers(&case("concurrent_writers")).await;
    for o in objects.list("").await.expect("list") {
        objects.delete(&o.key).await.expect("delete");
    }
    assert!(objects.list("").await.expect("list").is_empty());
}

/// The readiness check passes.
pub async fn check_answers(objects: &Objects) {
    objects.check().await.expect("the store answers");
}

/// What is put is what is got, with its size.
pub async fn put_then_get(objects: &Objects) {
    let data = Bytes::from_static(b"hello, store");
    let out = objects.put_if_changed("a/b.txt", data.clone()).await;
    assert_eq!(out.expect("put"), PutOutcome::Created);
    let got = objects.get("a/b.txt").await.expect("get").expect("present");
    assert_eq!(got.bytes, data);
    assert_eq!(got.info.key, "a/b.txt");
    assert_eq!(got.info.size, data.len() as u64);
    let head = objects
        .head("a/b.txt")
        .await
        .expect("head")
        .expect("present");
    assert_eq!(head.size, got.info.size);
    assert_eq!(head.e_tag, got.info.e_tag);
}

/// A missing key is `None` (get, head), an empty listing, and a no-op delete.
pub async fn missing_keys(objects: &Objects) {
    assert!(objects.get("nope.json").await.expect("get").is_none());
    assert!(objects.head("nope.json").await.expect("head").is_none());
    assert!(objects.list("nope").await.expect("list").is_empty());
    assert!(
        objects
            .list_dirs("nope")
            .await
            .expect("list_dirs")
            .is_empty()
    );
    objects
        .delete("nope.json")
        .await
        .expect("delete of a missing key");
    let v: Option<(Value, _)> = objects.get_json("nope.json").await.expect("get_json");
    assert!(v.is_none());
}

/// Created, then Unchanged without a write, then Replaced; delete removes.
pub async fn overwrite_and_unchanged(objects: &Objects) {
    let key = "doc.json";
    let first = Bytes::from_static(b"{\"v\":1}\n");
    let second = Bytes::from_static(b"{\"v\":2}\n");
    let put = |b: &Bytes| objects.put_if_changed(key, b.clone());
    assert_eq!(put(&first).await.expect("put"), PutOutcome::Created);
    let before = objects.head(key).await.expect("head").expect("present");
    assert_eq!(put(&first).await.expect("put"), PutOutcome::Unchanged);
    let after = objects.head(key).await.expect("head").expect("present");
    assert_eq!(
        (&before.e_tag, before.last_modified),
        (&after.e_tag, after.last_modified),
        "an unchanged put must not write"
    );
    assert_eq!(put(&second).await.expect("put"), PutOutcome::Replaced);
    let got = objects.get(key).await.expect("get").expect("present");
    assert_eq!(got.bytes, second);
    assert!(PutOutcome::Replaced.wrote() && !PutOutcome::Unchanged.wrote());
    objects.delete(key).await.expect("delete");
    assert!(objects.get(key).await.expect("get").is_none());
    assert_eq!(put(&second).await.expect("put"), PutOutcome::Created);
}

/// JSON documents round-trip; the same value is Unchanged; a non-JSON object is an error.
pub async fn json_documents(objects: &Objects) {
    let doc = json!({ "id": "e", "seed": 7, "groups": { "control": 1, "treatment": 1 } });
    let put = objects.put_json_if_changed("e/r.json", &doc).await;
    assert_eq!(put.expect("put"), PutOutcome::Created);
    let put = objects.put_json_if_changed("e/r.json", &doc).await;
    assert_eq!(put.expect("put"), PutOutcome::Unchanged);
    let (back, info): (Value, _) = objects
        .get_json("e/r.json")
        .await
        .expect("get")
        .expect("present");
    assert_eq!(back, doc);
    assert_eq!(info.key, "e/r.json");
    objects
        .put_if_changed("e/bad.json", Bytes::from_static(b"{not json"))
        .await
        .expect("put");
    let bad = objects.get_json::<Value>("e/bad.json").await;
    assert!(matches!(bad, Err(crate::Error::Json { .. })), "{bad:?}");
}

/// Listings are sorted, relative to the handle, recursive; folder listings are one level.
pub async fn listing(objects: &Objects) {
    for key in [
        "p/b/2.json",
        "p/a/1.json",
        "p/b/1.json",
        "p/top.json",
        "q/x.json",
    ] {
        objects
            .put_if_changed(key, Bytes::from(key.to_string()))
            .await
            .expect("put");
    }
    let keys =
        |v: Vec<crate::objects::ObjectInfo>| v.into_iter().map(|o| o.key).collect::<Vec<_>>();
    assert_eq!(
        keys(objects.list("p").await.expect("list")),
        ["p/a/1.json", "p/b/1.json", "p/b/2.json", "p/top.json"]
    );
    assert_eq!(
        keys(objects.list("p/b/").await.expect("list")),
        ["p/b/1.json", "p/b/2.json"]
    );
    assert_eq!(keys(objects.list("").await.expect("list")).len(), 5);
    assert_eq!(objects.list_dirs("p").await.expect("dirs"), ["a", "b"]);
    assert_eq!(objects.list_dirs("").await.expect("dirs"), ["p", "q"]);
}

/// A prefix is a whole folder, and sibling handles do not see each other's keys.
pub async fn prefix_isolation(objects: &Objects) {
    let put = |o: Objects, k: &'static str| async move {
        o.put_if_changed(k, Bytes::from_static(b"x"))
            .await
            .expect("put")
    };
    put(objects.clone(), "run/a.json").await;
    put(objects.clone(), "runs/b.json").await;
    let listed = objects.list("run").await.expect("list");
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0].key, "run/a.json");

    let left = objects.child("left").expect("child");
    let right = objects.child("right").expect("child");
    put(left.clone(), "k.json").await;
    assert!(right.get("k.json").await.expect("get").is_none());
    assert!(right.list("").await.expect("list").is_empty());
    assert_eq!(left.list("").await.expect("list")[0].key, "k.json");
    let via_parent = objects.get("left/k.json").await.expect("get");
    assert!(via_parent.is_some());
}

/// Keys that could leave the prefix or mean something else are refused before any call.
pub async fn invalid_keys(objects: &Objects) {
    for key in [
        "", "/abs", "a//b", "../up", "a/../b", "a/.", "a\\b", "sp ace", "é", "%2e%2e",
    ] {
        let put = objects.put_if_changed(key, Bytes::from_static(b"x")).await;
        assert!(
            matches!(put, Err(crate::Error::InvalidKey { .. })),
            "{key:?}: {put:?}"
        );
        let get = objects.get(key).await;
        assert!(
            matches!(get, Err(crate::Error::InvalidKey { .. })),
            "{key:?}"
        );
    }
    assert!(objects.list("").await.expect("list").is_empty());
}

/// Writers racing on one key, with readers in between: every read, and the final state, is
/// one writer's whole document.
pub async fn concurrent_writers(objects: &Objects) {
    const WRITERS: usize = 8;
    const SIZE: usize = 256 * 1024;
    let key = "race.json";
    let doc = |i: usize| {
        let mut v = serde_json::to_vec(&json!({
            "writer": i,
            "payload": char::from(b'a' + i as u8).to_string().repeat(SIZE),
        }))
        .expect("json");
        v.push(b'\n');
        Bytes::from(v)
    };
    let whole = |b: &Bytes| {
        let v: Value = serde_json::from_slice(b).expect("a whole JSON document");
        let i = v["writer"].as_u64().expect("writer") as usize;
        assert!(i < WRITERS);
        assert_eq!(b, &doc(i), "writer {i}'s document, intact");
    };
    let writers = (0..WRITERS).map(|i| {
        let o = objects.clone();
        async move {
            o.put_if_changed(key, doc(i)).await.expect("put");
        }
    });
    let readers = (0..WRITERS).map(|_| {
        let o = objects.clone();
        async move {
            if let Some(obj) = o.get(key).await.expect("get") {
                whole(&obj.bytes);
            }
        }
    });
    let tasks: Vec<std::pin::Pin<Box<dyn Future<Output = ()> + Send>>> = writers
        .map(|f| Box::pin(f) as _)
        .chain(readers.map(|f| Box::pin(f) as _))
        .collect();
    join_all(tasks).await;
    let last = objects.get(key).await.expect("get").expect("present");
    whole(&last.bytes);
    assert_eq!(
        objects.list("").await.expect("list").len(),
        1,
        "no stray files"
    );
}
