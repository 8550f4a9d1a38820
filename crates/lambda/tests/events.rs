//! API Gateway events, shaped like AWS's published examples (tests/events/*.json), through the
//! same adapter `lambda_http::run` uses: each event is deserialized as a
//! [`LambdaRequest`], turned into an `http::Request`, answered by the API's router behind
//! [`abforge_lambda::service`], and the answer turned into the proxy response API Gateway
//! expects, serialized as the Lambda runtime would send it.
//!
//! tests/events/cases.json lists the events in order with what each answer must hold; the
//! emulator test (scripts/lambda-test.sh) checks the same list against the real bootstrap.

use abforge_api::{ApiConfig, AppState};
use abforge_store::Objects;
use lambda_http::request::LambdaRequest;
use lambda_http::tower::ServiceExt;
use lambda_http::{Adapter, Context, LambdaEvent};
use serde_json::{Value, json};
use std::path::PathBuf;

const TOKEN: &str = "lambda-test-token";
const INVOCATION_ID: &str = "52fdfc07-2182-154f-163f-5f0f9a621d72";

fn events_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/events")
}

fn read_json(name: &str) -> Value {
    let path = events_dir().join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn state() -> AppState {
    let config = ApiConfig {
        token: Some(TOKEN.into()),
        // Behind API Gateway, as main sets it: the gateway routes by host itself.
        allowed_hosts: abforge_api::AllowedHosts::Any,
        ..ApiConfig::default()
    };
    AppState::new(config, Objects::memory()).expect("state")
}

/// One invocation as the runtime makes it: event JSON in, response JSON out.
async fn invoke(state: &AppState, event: &Value) -> Value {
    let payload: LambdaRequest =
        serde_json::from_value(event.clone()).expect("a Lambda HTTP event");
    let mut context = Context::default();
    context.request_id = INVOCATION_ID.into();
    let adapter = Adapter::from(abforge_lambda::service(abforge_api::app(state.clone())));
    let response = adapter
        .oneshot(LambdaEvent::new(payload, context))
        .await
        .expect("the router is infallible");
    serde_json::to_value(response).expect("a serializable response")
}

/// Response headers, lower-cased: REST (v1) answers carry `multiValueHeaders`, HTTP API (v2)
/// answers `headers`.
fn headers(resp: &Value) -> serde_json::Map<String, Value> {
    let mut out = serde_json::Map::new();
    if let Some(h) = resp["headers"].as_object() {
        for (k, v) in h {
            out.insert(k.to_ascii_lowercase(), v.clone());
        }
    }
    if let Some(h) = resp["multiValueHeaders"].as_object() {
        for (k, v) in h {
            let joined = v
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .collect::<Vec<_>>()
                        .join(", ")
                })
                .unwrap_or_default();
            out.entry(k.to_ascii_lowercase())
                .or_insert(Value::String(joined));
        }
    }
    out
}

fn body_text(resp: &Value) -> String {
    let body = resp["body"].as_str().unwrap_or_default();
    assert_ne!(
        resp["isBase64Encoded"], true,
        "JSON answers are sent as text, not base64"
    );
    body.to_owned()
}

/// Every key of `expected` is in `actual` with an equal value (objects recursively).
fn check_subset(expected: &Value, actual: &Value, path: &str, errors: &mut Vec<String>) {
    match (expected, actual) {
        (Value::Null, _) => {} // no constraint
        (Value::Object(e), Value::Object(a)) => {
            for (k, v) in e {
                match a.get(k) {
                    Some(av) => check_subset(v, av, &format!("{path}.{k}"), errors),
                    None => errors.push(format!("{path}.{k}: missing")),
                }
            }
        }
        (Value::Object(_), _) => errors.push(format!("{path}: expected an object, got {actual}")),
        _ if expected != actual => {
            errors.push(format!("{path}: expected {expected}, got {actual}"))
        }
        _ => {}
    }
}

/// What cases.json says an answer must hold; the errors found.
fn check_case(case: &Value, event: &Value, resp: &Value) -> Vec<String> {
    let mut errors = Vec::new();
    if resp["statusCode"] != case["status"] {
        errors.push(format!(
            "status {}, expected {}",
            resp["statusCode"], case["status"]
        ));
    }
    let headers = headers(resp);
    let ctype = headers
        .get("content-type")
        .and_then(Value::as_str)
        .unwrap_or("");
    let want_ctype = case["content_type"].as_str().unwrap_or("application/json");
    if !ctype.starts_with(want_ctype) {
        errors.push(format!("content-type {ctype:?}, expected {want_ctype}"));
    }
    // The client's x-request-id, else API Gateway's request id, is echoed.
    let sent = event["headers"]
        .as_object()
        .and_then(|h| {
            h.iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("x-request-id"))
        })
        .map(|(_, v)| v.clone());
    let want_id = sent.unwrap_or_else(|| event["requestContext"]["requestId"].clone());
    if headers.get("x-request-id") != Some(&want_id) {
        errors.push(format!(
            "x-request-id {:?}, expected {want_id}",
            headers.get("x-request-id")
        ));
    }
    let text = body_text(resp);
    match serde_json::from_str::<Value>(&text) {
        Ok(doc) => {
            check_subset(&case["json"], &doc, "body", &mut errors);
            for key in case["non_empty"].as_array().into_iter().flatten() {
                let key = key.as_str().expect("a key");
                let empty = match &doc[key] {
                    Value::Null => true,
                    Value::String(s) => s.is_empty(),
                    Value::Array(a) => a.is_empty(),
                    Value::Object(o) => o.is_empty(),
                    _ => false,
                };
                if empty {
                    errors.push(format!("body.{key} is missing or empty"));
                }
            }
        }
        Err(e) => errors.push(format!("body is not JSON ({e}): {text:.200}")),
    }
    for needle in case["contains"].as_array().into_iter().flatten() {
        let needle = needle.as_str().expect("a string");
        if !text.contains(needle) {
            errors.push(format!("body lacks {needle:?}"));
        }
    }
    errors
}

#[tokio::test]
async fn every_case_of_cases_json_in_order() {
    let cases = read_json("cases.json");
    let cases = cases.as_array().expect("a list of cases");
    assert!(cases.len() >= 10);
    let state = state();
    let mut failures = Vec::new();
    for (i, case) in cases.iter().enumerate() {
        let name = case["event"].as_str().expect("an event file");
        let event = read_json(name);
        let resp = invoke(&state, &event).await;
        for e in check_case(case, &event, &resp) {
            failures.push(format!("#{} {name}: {e}\n    response: {resp}", i + 1));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The answer to a REST (v1) event has the REST proxy shape; to an HTTP API (v2) event, the
/// v2 shape.
#[tokio::test]
async fn answers_have_the_shape_of_their_api() {
    let state = state();
    let rest = invoke(&state, &read_json("rest-healthz.json")).await;
    assert_eq!(rest["statusCode"], 200);
    assert_eq!(
        rest["headers"],
        json!({}),
        "v1: headers go in multiValueHeaders"
    );
    assert_eq!(
        rest["multiValueHeaders"]["content-type"],
        json!(["application/json"])
    );
    assert_eq!(rest["isBase64Encoded"], false);
    assert!(rest.get("cookies").is_none());

    let http = invoke(&state, &read_json("http-healthz.json")).await;
    assert_eq!(http["statusCode"], 200);
    assert_eq!(http["headers"]["content-type"], "application/json");
    assert_eq!(http["cookies"], json!([]));
    assert_eq!(
        serde_json::from_str::<Value>(http["body"].as_str().unwrap()).unwrap(),
        json!({"status": "ok"})
    );
}

/// The route is found whatever the stage: REST events (path without the stage, which
/// lambda_http adds), HTTP API events on `$default` (no stage) and on a named stage (in
/// `rawPath`), and HTTP API events whose `rawPath` lacks the named stage (custom domains).
#[tokio::test]
async fn stages_are_stripped_for_every_payload_version() {
    let state = state();
    let mut seen = Vec::new();
    for (file, stage, path) in [
        ("rest-healthz.json", "testStage", "/healthz"),
        ("rest-healthz.json", "prod", "/healthz"),
        ("rest-healthz.json", "v1", "/healthz"),
        ("http-healthz.json", "$default", "/healthz"),
        ("http-healthz.json", "prod", "/prod/healthz"),
        ("http-healthz.json", "prod", "/healthz"),
        ("http-healthz.json", "healthz", "/healthz/healthz"),
    ] {
        let mut event = read_json(file);
        event["requestContext"]["stage"] = json!(stage);
        if event["version"] == "2.0" {
            event["rawPath"] = json!(path);
            event["requestContext"]["http"]["path"] = json!(path);
        } else {
            event["path"] = json!(path);
        }
        let resp = invoke(&state, &event).await;
        seen.push((file, stage, path, resp["statusCode"].clone()));
    }
    let wrong: Vec<_> = seen.iter().filter(|s| s.3 != 200).collect();
    assert!(wrong.is_empty(), "not routed to /healthz: {wrong:?}");
}

/// A REST path that starts with the stage's name keeps it: with a stage named `v1`,
/// `/v1/experiments` is the route, not the stage plus `/experiments`.
#[tokio::test]
async fn a_rest_route_named_like_its_stage_keeps_its_first_segment() {
    let state = state();
    let mut event = read_json("rest-healthz.json");
    event["requestContext"]["stage"] = json!("v1");
    event["path"] = json!("/v1/experiments");
    let resp = invoke(&state, &event).await;
    assert_eq!(resp["statusCode"], 200, "{resp}");
    assert_eq!(
        serde_json::from_str::<Value>(resp["body"].as_str().unwrap()).unwrap(),
        json!({"experiments": [], "next": null})
    );
}

/// Query strings survive the stage being stripped, and an unknown route is a JSON 404 that
/// names no stage.
#[tokio::test]
async fn query_strings_survive_and_unknown_routes_are_json_404s() {
    let state = state();
    let mut event = read_json("http-list-experiments.json");
    event["requestContext"]["stage"] = json!("prod");
    event["rawPath"] = json!("/prod/v1/experiments");
    event["rawQueryString"] = json!("limit=1001&cursor=a%20b");
    let resp = invoke(&state, &event).await;
    // Both parameters reached the router: each is named in the 400.
    assert_eq!(resp["statusCode"], 400, "{resp}");
    let body: Value = serde_json::from_str(resp["body"].as_str().unwrap()).unwrap();
    assert_eq!(body["details"][0]["path"], "limit", "{body}");
    assert_eq!(body["details"][1]["path"], "cursor", "{body}");
    assert!(
        body["details"][1]["message"]
            .as_str()
            .unwrap()
            .contains("\"a b\""),
        "{body}"
    );

    let mut event = read_json("rest-healthz.json");
    event["path"] = json!("/nowhere");
    let resp = invoke(&state, &event).await;
    assert_eq!(resp["statusCode"], 404, "{resp}");
    let body: Value = serde_json::from_str(resp["body"].as_str().unwrap()).unwrap();
    assert!(body["error"].is_string(), "{body}");
}

/// Without an x-request-id from the client or API Gateway, the Lambda invocation's id is used.
#[tokio::test]
async fn the_invocation_id_is_the_fallback_request_id() {
    let state = state();
    let mut event = read_json("http-healthz.json");
    event["requestContext"]
        .as_object_mut()
        .unwrap()
        .remove("requestId");
    let resp = invoke(&state, &event).await;
    assert_eq!(resp["statusCode"], 200);
    assert_eq!(headers(&resp)["x-request-id"], INVOCATION_ID);
}
