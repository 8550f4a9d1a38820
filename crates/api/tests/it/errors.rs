//! Bad input and abuse: each gets its status and a JSON `{error, details}` body.

use crate::{Api, params_path, small};
use abforge_api::ApiConfig;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use serde_json::json;

async fn put_value(api: &Api, v: &serde_json::Value) -> crate::Reply {
    api.put(&params_path("demo", "r1"), v.to_string()).await
}

#[tokio::test]
async fn invalid_json_is_422() {
    let api = Api::open();
    for body in ["", "{", "{\"id\": }", "nul", "\u{feff}{}", "{} {}"] {
        let r = api.put(&params_path("demo", "r1"), body).await;
        let v = r.error(StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(v["error"], "the body is not valid JSON", "{body:?}");
        let d = r.details();
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].0, "");
        assert!(d[0].1.starts_with("JSON syntax: "), "{d:?}");
    }
    let r = api
        .put(&params_path("demo", "r1"), vec![0xff_u8, 0xfe, 0x00])
        .await;
    r.error(StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn every_problem_is_reported_with_its_path() {
    let api = Api::open();
    let mut bp = small("demo");
    bp["customers"] = json!("many"); // wrong type
    bp["colour"] = json!("blue"); // unknown field
    bp["metrics"]["items"]["control"]["lambda"] = json!(-1); // out of range
    bp["metrics"]["items"]["control"]["lamda"] = json!(1); // unknown parameter
    let r = put_value(&api, &bp).await;
    let v = r.error(StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(v["error"], "invalid blueprint");
    let paths: Vec<String> = r.details().into_iter().map(|(p, _)| p).collect();
    for want in [
        "customers",
        "colour",
        "metrics.items.control.lambda",
        "metrics.items.control.lamda",
    ] {
        assert!(paths.iter().any(|p| p == want), "{want} in {paths:?}");
    }
    insta::assert_json_snapshot!("every_problem", r.json());
}

#[tokio::test]
async fn not_an_object_is_422() {
    let api = Api::open();
    for body in ["[]", "1", "\"x\"", "null", "true"] {
        let r = api.put(&params_path("demo", "r1"), body).await;
        let v = r.error(StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(v["error"], "invalid blueprint", "{body}");
    }
}

#[tokio::test]
async fn a_choose_is_refused_with_its_path() {
    let api = Api::open();
    let mut bp = small("demo");
    bp["metrics"]["items"]["control"]["lambda"] = json!({ "choose": [1, 2, 3] });
    bp["metrics"]["items"]["treatment"] = json!({ "lift": { "choose": [0.0, 0.1] } });
    let r = put_value(&api, &bp).await;
    r.error(StatusCode::UNPROCESSABLE_ENTITY);
    let d = r.details();
    let paths: Vec<&str> = d.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(
        paths,
        [
            "metrics.items.control.lambda",
            "metrics.items.treatment.lift"
        ]
    );
    assert!(d[0].1.contains("choose"), "{d:?}");
    assert!(
        api.state.objects().list("").await.unwrap().is_empty(),
        "nothing stored"
    );
}

#[tokio::test]
async fn the_blueprint_id_must_be_the_paths_experiment() {
    let api = Api::open();
    let r = api
        .put(&params_path("other", "r1"), small("demo").to_string())
        .await;
    r.error(StatusCode::UNPROCESSABLE_ENTITY);
    let d = r.details();
    assert_eq!(d.len(), 1);
    assert_eq!(d[0].0, "id");
    assert!(
        d[0].1.contains("\"demo\"") && d[0].1.contains("\"other\""),
        "{d:?}"
    );
}

#[tokio::test]
async fn a_lift_the_family_cannot_have_is_422() {
    let api = Api::open();
    let mut bp = small("demo");
    bp["metrics"]["items"]["treatment"] = json!({ "lift": -1.5 });
    let r = put_value(&api, &bp).await;
    let v = r.error(StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(v["error"], "invalid blueprint");
}

#[tokio::test]
async fn bad_ids_are_400_whatever_the_encoding() {
    let api = Api::open();
    let body = small("demo").to_string();
    let bad = [
        "..",
        "%2e%2e",
        "%2E%2E",
        ".",
        "a%2Fb",
        "%2F",
        "..%2F..%2Fetc",
        "%252e%252e",
        "UPPER",
        "%C3%A9",
        "caf%C3%A9",
        "%FF",
        "a%00b",
        "a%20b",
        "a.json",
        "a%5Cb",
        &"x".repeat(65),
    ];
    for id in bad {
        let r = api.get(&params_path(id, "r1")).await;
        let v = r.error(StatusCode::BAD_REQUEST);
        assert!(
            !v["details"].as_array().unwrap().is_empty() || id == "%FF",
            "{id}: {v}"
        );
        let r = api.get(&params_path("demo", id)).await;
        r.error(StatusCode::BAD_REQUEST);
        let r = api.put(&params_path(id, "r1"), body.clone()).await;
        r.error(StatusCode::BAD_REQUEST);
        let r = api.put(&params_path("demo", id), body.clone()).await;
        let d = r.details();
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{id}");
        if id != "%FF" {
            assert_eq!(d[0].0, "run_id", "{id}");
        }
        let r = api.get(&format!("/v1/experiments/{id}/runs")).await;
        r.error(StatusCode::BAD_REQUEST);
    }
    assert!(
        api.state.objects().list("").await.unwrap().is_empty(),
        "nothing stored"
    );
    // Both bad ids are reported at once.
    let r = api.get(&params_path("A", "B")).await;
    let paths: Vec<String> = r.details().into_iter().map(|(p, _)| p).collect();
    assert_eq!(paths, ["experiment_id", "run_id"]);
}

#[tokio::test]
async fn raw_dot_segments_never_reach_the_store() {
    let api = Api::open();
    // Not normalised by the server: `..` is a segment like any other, so an id of `..` is
    // a bad id, and extra segments are no route.
    for path in [
        "/v1/experiments/../runs/r1/params",
        "/v1/experiments/demo/runs/../params",
        "/v1/experiments/demo/runs/../../x/params",
        "/v1/experiments/a/b/runs/r1/params",
        "/v1/experiments//runs/r1/params",
        "/v1/experiments/demo/runs//params",
    ] {
        let r = api.put(path, small("demo").to_string()).await;
        assert!(
            matches!(r.status, StatusCode::BAD_REQUEST | StatusCode::NOT_FOUND),
            "{path}: {}",
            r.status
        );
        r.error(r.status);
    }
    assert!(api.state.objects().list("").await.unwrap().is_empty());
}

#[tokio::test]
async fn bodies_over_the_limit_are_413() {
    let api = Api::open();
    // Valid JSON just over 1 MiB: the limit is on bytes, before any parsing.
    let mut bp = small("demo");
    bp["description"] = json!("x".repeat(1 << 20));
    let r = put_value(&api, &bp).await;
    let v = r.error(StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(v["error"], "the request body is larger than 1048576 bytes");
    // Without a content length (a stream), the same.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        (0..17).map(|_| Ok(vec![b' '; 65536])).collect();
    let stream = futures_util::stream::iter(chunks);
    let r = api
        .send(
            Request::put(params_path("demo", "r1"))
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from_stream(stream))
                .unwrap(),
        )
        .await;
    r.error(StatusCode::PAYLOAD_TOO_LARGE);
    // Just under the limit is read (and judged on its content).
    let mut bp = small("demo");
    let base = bp.to_string().len();
    bp["description"] = json!("x".repeat((1 << 20) - base - 20));
    let r = put_value(&api, &bp).await;
    assert_eq!(r.status, StatusCode::CREATED);
    // A smaller configured limit applies.
    let api = Api::new(ApiConfig {
        body_limit: 100,
        ..ApiConfig::default()
    });
    let r = put_value(&api, &small("demo")).await;
    let v = r.error(StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(v["error"], "the request body is larger than 100 bytes");
}

#[tokio::test]
async fn bodies_not_declared_json_are_415() {
    let api = Api::open();
    for ct in [
        None,
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
    ] {
        let mut req = Request::put(params_path("demo", "r1"));
        if let Some(ct) = ct {
            req = req.header(header::CONTENT_TYPE, ct);
        }
        let r = api
            .send(req.body(Body::from(small("demo").to_string())).unwrap())
            .await;
        r.error(StatusCode::UNSUPPORTED_MEDIA_TYPE);
    }
    let r = api
        .send(
            Request::put(params_path("demo", "r1"))
                .header(header::CONTENT_TYPE, "application/json; charset=utf-8")
                .body(Body::from(small("demo").to_string()))
                .unwrap(),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
}

#[tokio::test]
async fn unknown_routes_are_404_json() {
    let api = Api::open();
    for path in [
        "/",
        "/v2/experiments",
        "/v1",
        "/v1/experiments/demo",
        "/docs/",
        "/%2e%2e/etc/passwd",
    ] {
        let r = api.get(path).await;
        let v = r.error(StatusCode::NOT_FOUND);
        assert_eq!(v["error"], "no such route", "{path}");
    }
    let r = api.request(Method::POST, "/nowhere").await;
    r.error(StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn wrong_methods_are_405_json_with_allow() {
    let api = Api::open();
    for (method, path, allow) in [
        (Method::POST, params_path("demo", "r1"), "GET,HEAD,PUT"),
        (Method::DELETE, params_path("demo", "r1"), "GET,HEAD,PUT"),
        (Method::PATCH, params_path("demo", "r1"), "GET,HEAD,PUT"),
        (Method::PUT, "/v1/experiments".to_string(), "GET,HEAD"),
        (Method::POST, "/healthz".to_string(), "GET,HEAD"),
        (Method::DELETE, "/openapi.json".to_string(), "GET,HEAD"),
        (
            Method::OPTIONS,
            "/v1/experiments/demo/runs".to_string(),
            "GET,HEAD",
        ),
    ] {
        let r = api.request(method.clone(), &path).await;
        let v = r.error(StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(v["error"], "method not allowed");
        let mut got: Vec<&str> = r.headers["allow"].to_str().unwrap().split(',').collect();
        got.sort_unstable();
        let mut want: Vec<&str> = allow.split(',').collect();
        want.sort_unstable();
        assert_eq!(got, want, "{method} {path}");
    }
}
