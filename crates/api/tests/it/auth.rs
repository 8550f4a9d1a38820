//! Bearer tokens: writes need one when configured, reads when so configured.

use crate::{Api, params_path, small};
use abforge_api::ApiConfig;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};

fn with_token(read_token_required: bool) -> Api {
    Api::new(ApiConfig {
        token: Some("s3cret-token".into()),
        read_token_required,
        ..ApiConfig::default()
    })
}

async fn put_as(api: &Api, auth: Option<&str>, experiment: &str) -> crate::Reply {
    let mut req = Request::put(params_path(experiment, "r1"))
        .header(header::CONTENT_TYPE, "application/json");
    if let Some(a) = auth {
        req = req.header(header::AUTHORIZATION, a);
    }
    api.send(req.body(Body::from(small("demo").to_string())).unwrap())
        .await
}

async fn get_as(api: &Api, auth: Option<&str>, path: &str) -> crate::Reply {
    let mut req = Request::get(path);
    if let Some(a) = auth {
        req = req.header(header::AUTHORIZATION, a);
    }
    api.send(req.body(Body::empty()).unwrap()).await
}

#[tokio::test]
async fn without_a_token_writes_are_open() {
    let api = Api::open();
    assert_eq!(put_as(&api, None, "demo").await.status, StatusCode::CREATED);
    // A token sent anyway is ignored.
    let r = put_as(&api, Some("Bearer whatever"), "demo").await;
    assert_eq!(r.status, StatusCode::OK);
}

#[tokio::test]
async fn with_a_token_writes_need_it() {
    let api = with_token(false);
    for auth in [
        None,
        Some("Bearer wrong"),
        Some("Bearer s3cret-toke"),
        Some("Bearer s3cret-token-and-more"),
        Some("Basic czNjcmV0LXRva2Vu"),
        Some("s3cret-token"),
        Some("Bearer"),
    ] {
        let r = put_as(&api, auth, "demo").await;
        let v = r.error(StatusCode::UNAUTHORIZED);
        assert_eq!(v["error"], "missing or invalid bearer token");
        assert_eq!(
            r.headers[header::WWW_AUTHENTICATE],
            "Bearer realm=\"abforge\""
        );
    }
    assert!(api.state.objects().list("").await.unwrap().is_empty());
    // Authentication comes first: a bad id without the token is 401, not 400.
    put_as(&api, None, "BAD")
        .await
        .error(StatusCode::UNAUTHORIZED);

    let r = put_as(&api, Some("Bearer s3cret-token"), "demo").await;
    assert_eq!(r.status, StatusCode::CREATED);
    let r = put_as(&api, Some("bearer s3cret-token"), "demo").await;
    assert_eq!(r.status, StatusCode::OK, "the scheme is case-insensitive");
    // Reads stay open.
    assert_eq!(
        get_as(&api, None, &params_path("demo", "r1")).await.status,
        StatusCode::OK
    );
    assert_eq!(
        get_as(&api, None, "/v1/experiments").await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn reads_can_need_the_token_too() {
    let api = with_token(true);
    let r = put_as(&api, Some("Bearer s3cret-token"), "demo").await;
    assert_eq!(r.status, StatusCode::CREATED);
    for path in [
        params_path("demo", "r1"),
        "/v1/experiments".into(),
        "/v1/experiments/demo/runs".into(),
    ] {
        get_as(&api, None, &path)
            .await
            .error(StatusCode::UNAUTHORIZED);
        get_as(&api, Some("Bearer nope"), &path)
            .await
            .error(StatusCode::UNAUTHORIZED);
        let r = get_as(&api, Some("Bearer s3cret-token"), &path).await;
        assert_eq!(r.status, StatusCode::OK, "{path}");
    }
    // Probes and the description never need it.
    for path in ["/healthz", "/readyz", "/openapi.json", "/docs"] {
        assert_eq!(
            get_as(&api, None, path).await.status,
            StatusCode::OK,
            "{path}"
        );
    }
}

#[test]
fn reads_cannot_need_a_token_that_is_not_set() {
    let e = abforge_api::AppState::new(
        ApiConfig {
            read_token_required: true,
            ..ApiConfig::default()
        },
        abforge_store::Objects::memory(),
    )
    .unwrap_err();
    assert!(e.to_string().contains("ABFORGE_API_TOKEN"), "{e}");
}
