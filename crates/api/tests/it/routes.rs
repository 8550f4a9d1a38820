//! Every endpoint on its happy path.

use crate::{Api, params_path, resolved_examples, small};
use abforge_api::ApiConfig;
use abforge_store::{ObjectStoreConfig, Objects};
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use serde_json::{Value, json};

#[tokio::test]
async fn probes_answer() {
    let api = Api::open();
    let r = api.get("/healthz").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json(), json!({ "status": "ok" }));
    let r = api.get("/readyz").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json(), json!({ "status": "ready" }));
    let r = api.request(Method::HEAD, "/healthz").await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.bytes.is_empty());
}

#[tokio::test]
async fn readiness_fails_when_the_store_does_not_answer() {
    // An S3 endpoint where nothing listens: the check fails fast, liveness is unaffected.
    let objects = ObjectStoreConfig::new()
        .with_url("s3://b/p")
        .with_s3_option("aws_endpoint_url", "http://127.0.0.1:9")
        .with_s3_option("aws_access_key_id", "test")
        .with_s3_option("aws_secret_access_key", "test")
        .with_s3_option("aws_region", "us-east-1")
        .with_retries(0, std::time::Duration::from_secs(1))
        .build()
        .unwrap();
    let api = Api::on(ApiConfig::default(), objects);
    let r = api.get("/readyz").await;
    let v = r.error(StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(v["error"], "the object store does not answer");
    assert!(
        !r.bytes.windows(3).any(|w| w == b"127"),
        "no backend detail leaks"
    );
    assert_eq!(api.get("/healthz").await.status, StatusCode::OK);
}

#[tokio::test]
async fn put_then_get_every_example() {
    let api = Api::open();
    for (name, bp) in resolved_examples() {
        let id = bp["id"].as_str().unwrap();
        let path = params_path(id, "2026-11-23");
        let r = api.put(&path, bp.to_string()).await;
        assert_eq!(r.status, StatusCode::CREATED, "{name}: {}", r.json());
        assert_eq!(r.headers[header::LOCATION], path.as_str());
        let put = r.json();
        assert_eq!(put["outcome"], "created");
        assert_eq!(put["experiment_id"], id);
        assert_eq!(put["run_id"], "2026-11-23");

        let r = api.get(&path).await;
        assert_eq!(r.status, StatusCode::OK, "{name}");
        let doc = r.json();
        assert_eq!(
            &doc["blueprint"], bp,
            "{name}: the canonical form of a canonical blueprint"
        );
        assert_eq!(doc["blueprint_hash"], put["blueprint_hash"]);
        assert_eq!(doc["truth"]["experiment_id"], id);
        // The truth is the synth crate's, exactly.
        let resolved = abforge_synth::Blueprint::from_value(bp)
            .unwrap()
            .resolve()
            .unwrap();
        assert_eq!(
            doc["truth"],
            serde_json::to_value(resolved.truth()).unwrap(),
            "{name}"
        );
        let stored_at = doc["stored_at"].as_str().unwrap();
        assert!(
            stored_at.starts_with("20") && stored_at.contains('T'),
            "{stored_at}"
        );
    }
}

#[tokio::test]
async fn the_stored_document_has_no_timestamp_and_a_hash_of_the_canonical_blueprint() {
    let api = Api::open();
    let bp = small("demo");
    api.put(&params_path("demo", "r1"), bp.to_string()).await;
    let obj = api
        .state
        .objects()
        .get("params/demo/r1.json")
        .await
        .unwrap()
        .unwrap();
    let doc: Value = serde_json::from_slice(&obj.bytes).unwrap();
    let keys: Vec<&str> = doc
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "experiment_id",
            "run_id",
            "blueprint_hash",
            "blueprint",
            "truth"
        ]
    );
    let canonical = abforge_synth::Blueprint::from_value(&bp)
        .unwrap()
        .to_json_value();
    assert_eq!(doc["blueprint"], canonical);
    assert_eq!(
        doc["blueprint_hash"],
        sha256(&serde_json::to_vec(&canonical).unwrap())
    );
}

fn sha256(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[tokio::test]
async fn lists_of_experiments_and_runs() {
    let api = Api::open();
    let r = api.get("/v1/experiments").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json(), json!({ "experiments": [], "next": null }));
    for (e, run) in [
        ("beta", "r2"),
        ("alpha", "r1"),
        ("beta", "r1"),
        ("beta", "r10"),
    ] {
        let r = api.put(&params_path(e, run), small(e).to_string()).await;
        assert_eq!(r.status, StatusCode::CREATED);
    }
    // Objects that are not params of a valid id are not listed.
    let o = api.state.objects();
    o.put_json_if_changed("params/beta/NOT-AN-ID.json", &json!({}))
        .await
        .unwrap();
    o.put_json_if_changed("params/beta/nested/r3.json", &json!({}))
        .await
        .unwrap();
    o.put_json_if_changed("params/beta/r4.txt", &json!({}))
        .await
        .unwrap();
    o.put_json_if_changed("other/gamma/r1.json", &json!({}))
        .await
        .unwrap();

    let r = api.get("/v1/experiments").await;
    assert_eq!(
        r.json(),
        json!({ "experiments": ["alpha", "beta"], "next": null })
    );
    let r = api.get("/v1/experiments/beta/runs").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        r.json(),
        json!({ "experiment_id": "beta", "runs": ["r1", "r10", "r2"], "next": null })
    );
    let r = api.get("/v1/experiments/gamma/runs").await;
    r.error(StatusCode::NOT_FOUND);
    let r = api.get(&params_path("alpha", "r9")).await;
    let v = r.error(StatusCode::NOT_FOUND);
    assert_eq!(
        v["error"],
        "no params for run \"r9\" of experiment \"alpha\""
    );
}

#[tokio::test]
async fn request_ids_are_made_or_echoed() {
    let api = Api::open();
    let a = api.get("/healthz").await;
    let b = api.get("/healthz").await;
    let id = |r: &crate::Reply| r.headers["x-request-id"].to_str().unwrap().to_string();
    assert_eq!(id(&a).len(), 36, "a UUID");
    assert_ne!(id(&a), id(&b));
    let r = api
        .send(
            Request::get("/v1/experiments/nope/runs")
                .header("x-request-id", "client-chosen-42")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(id(&r), "client-chosen-42", "errors carry it too");
}

#[tokio::test]
async fn a_local_folder_store_holds_plain_json_files() {
    let dir = tempfile::tempdir().unwrap();
    let objects = ObjectStoreConfig::new()
        .with_data_dir(dir.path())
        .build()
        .unwrap();
    let api = Api::on(ApiConfig::default(), objects);
    let r = api
        .put(&params_path("demo", "r1"), small("demo").to_string())
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    let file = dir.path().join("objects/params/demo/r1.json");
    let doc: Value = serde_json::from_slice(&std::fs::read(file).unwrap()).unwrap();
    assert_eq!(doc["experiment_id"], "demo");
    assert_eq!(
        api.get(&params_path("demo", "r1")).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn the_memory_store_is_shared_with_the_state() {
    let objects = Objects::memory();
    let api = Api::on(ApiConfig::default(), objects.clone());
    api.put(&params_path("demo", "r1"), small("demo").to_string())
        .await;
    assert!(objects.head("params/demo/r1.json").await.unwrap().is_some());
}

/// Follows `next` from the first page: every id once, in order, each page at most `limit`,
/// the `Link` header equal to `next`.
async fn follow(api: &Api, first: &str, key: &str) -> (Vec<String>, usize) {
    let mut ids = Vec::new();
    let mut pages = 0;
    let mut url = Some(first.to_string());
    while let Some(u) = url {
        let r = api.get(&u).await;
        assert_eq!(r.status, StatusCode::OK, "{u}");
        let v = r.json();
        pages += 1;
        ids.extend(
            v[key]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| s.as_str().unwrap().to_string()),
        );
        url = v["next"].as_str().map(str::to_string);
        let link = r
            .headers
            .get("link")
            .map(|h| h.to_str().unwrap().to_string());
        assert_eq!(link, url.as_ref().map(|n| format!("<{n}>; rel=\"next\"")));
    }
    (ids, pages)
}

#[tokio::test]
async fn lists_come_in_pages_followed_by_their_next_links() {
    let api = Api::open();
    let o = api.state.objects();
    // 25 experiments, and 12 runs of one (ids whose keys sort otherwise: `a-b.json` is
    // before `a.json`, `a` before `a-b`).
    for i in 0..25 {
        o.put_json_if_changed(&format!("params/e{i:02}/r.json"), &json!({}))
            .await
            .unwrap();
    }
    let runs = [
        "a", "a-b", "a_c", "b", "b-1", "c", "d", "e", "f", "g", "h", "i",
    ];
    for r in runs {
        o.put_json_if_changed(&format!("params/e07/{r}.json"), &json!({}))
            .await
            .unwrap();
    }
    let (ids, pages) = follow(&api, "/v1/experiments?limit=10", "experiments").await;
    let want: Vec<String> = (0..25).map(|i| format!("e{i:02}")).collect();
    assert_eq!((ids, pages), (want, 3));
    let mut want: Vec<String> = runs.iter().chain(&["r"]).map(|s| s.to_string()).collect();
    want.sort();
    let (ids, pages) = follow(&api, "/v1/experiments/e07/runs?limit=5", "runs").await;
    assert_eq!((ids, pages), (want.clone(), 3));
    let (ids, pages) = follow(&api, "/v1/experiments/e07/runs?limit=1000", "runs").await;
    assert_eq!((ids, pages), (want, 1));
    // The default page is 100.
    let r = api.get("/v1/experiments").await;
    assert_eq!(r.json()["experiments"].as_array().unwrap().len(), 25);

    // An id added before the cursor does not shift the next page.
    let r = api.get("/v1/experiments?limit=10").await;
    let next = r.json()["next"].as_str().unwrap().to_string();
    o.put_json_if_changed("params/a00/r.json", &json!({}))
        .await
        .unwrap();
    let v = api.get(&next).await.json();
    assert_eq!(v["experiments"][0], "e10");
}

#[tokio::test]
async fn bad_page_parameters_are_400_naming_each() {
    let api = Api::open();
    api.put(&params_path("demo", "r1"), small("demo").to_string())
        .await;
    for (query, param, says) in [
        ("limit=0", "limit", "from 1 to 1000"),
        ("limit=1001", "limit", "from 1 to 1000"),
        ("limit=ten", "limit", "from 1 to 1000"),
        ("cursor=bm9wZQ", "cursor", "not a cursor this service gave"),
        ("cursor=%2e%2e", "cursor", "not a cursor this service gave"),
        ("limit=1&limit=2", "limit", "more than once"),
        ("page=2", "page", "takes limit, cursor"),
    ] {
        for path in ["/v1/experiments", "/v1/experiments/demo/runs"] {
            let r = api.get(&format!("{path}?{query}")).await;
            let v = r.error(StatusCode::BAD_REQUEST);
            assert_eq!(v["details"][0]["path"], param, "{path}?{query}: {v}");
            let m = v["details"][0]["message"].as_str().unwrap();
            assert!(m.contains(says), "{path}?{query}: {m}");
        }
    }
}
