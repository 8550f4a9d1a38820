//! The OpenAPI document: what it says, that every response matches it, and `/docs`.

use crate::{Api, Reply, resolved_examples};
use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

/// The document's template for a concrete path (`{x}` matches one segment, even empty:
/// the router does too, and an empty id is a 400).
fn template(spec: &Value, path: &str) -> Option<String> {
    let segs: Vec<&str> = path.split('/').collect();
    spec["paths"].as_object().unwrap().keys().find_map(|t| {
        let tsegs: Vec<&str> = t.split('/').collect();
        let fits = tsegs.len() == segs.len()
            && tsegs
                .iter()
                .zip(&segs)
                .all(|(t, s)| t.starts_with('{') || t == s);
        fits.then(|| t.clone())
    })
}

/// Validates `instance` against a schema of the document (refs resolve in its components).
pub fn validate(schema: &Value, instance: &Value) -> Result<(), String> {
    let spec = abforge_api::openapi();
    let mut root = schema.as_object().cloned().unwrap_or_default();
    root.insert("components".into(), spec["components"].clone());
    let validator = jsonschema::validator_for(&Value::Object(root)).map_err(|e| e.to_string())?;
    let errors: Vec<String> = validator
        .iter_errors(instance)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors.join("; "))
    }
}

fn error_body(reply: &Reply) {
    let schema = json!({ "$ref": "#/components/schemas/ErrorBody" });
    validate(&schema, &reply.json()).unwrap();
}

/// What schemathesis checks of each response: a documented status, content type and
/// required headers, a body matching the schema; and, for every response, an `x-request-id`.
#[track_caller]
pub fn conforms(method: &Method, path: &str, reply: &Reply) {
    assert!(
        reply.headers.contains_key("x-request-id"),
        "{method} {path}: no x-request-id"
    );
    let spec = abforge_api::openapi();
    let Some(t) = template(spec, path) else {
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{method} {path}");
        return error_body(reply);
    };
    let m = if *method == Method::HEAD {
        "get".to_string()
    } else {
        method.as_str().to_lowercase()
    };
    let op = &spec["paths"][&t][&m];
    if op.is_null() {
        assert_eq!(
            reply.status,
            StatusCode::METHOD_NOT_ALLOWED,
            "{method} {path}"
        );
        assert!(
            reply.headers.contains_key("allow"),
            "{method} {path}: no Allow"
        );
        return error_body(reply);
    }
    let resp = &op["responses"][reply.status.as_str()];
    assert!(
        !resp.is_null(),
        "{method} {t}: status {} is not documented: {}",
        reply.status,
        String::from_utf8_lossy(&reply.bytes)
    );
    for (name, h) in resp["headers"].as_object().into_iter().flatten() {
        if h["required"] != true {
            continue;
        }
        assert!(
            reply.headers.contains_key(name.as_str()),
            "{method} {t} {}: documented header {name} missing",
            reply.status
        );
    }
    if *method == Method::HEAD {
        return;
    }
    let (ct, media) = resp["content"]
        .as_object()
        .and_then(|c| c.iter().next())
        .unwrap_or_else(|| panic!("{method} {t} {}: no content documented", reply.status));
    let essence = reply.content_type().split(';').next().unwrap().trim();
    assert_eq!(essence, ct, "{method} {t} {}", reply.status);
    if ct == "application/json"
        && let Err(e) = validate(&media["schema"], &reply.json())
    {
        panic!(
            "{method} {t} {}: body does not match its schema: {e}",
            reply.status
        );
    }
}

#[test]
fn the_document_is_openapi_3_1_and_stable() {
    let spec = abforge_api::openapi();
    assert_eq!(spec["openapi"], "3.1.0");
    insta::assert_json_snapshot!("openapi", spec, { ".info.version" => "[version]" });
}

#[test]
fn it_describes_every_route_and_method() {
    let spec = abforge_api::openapi();
    let mut ops: Vec<String> = spec["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(p, item)| {
            item.as_object()
                .unwrap()
                .keys()
                .map(move |m| format!("{} {p}", m.to_uppercase()))
        })
        .collect();
    ops.sort();
    assert_eq!(
        ops,
        [
            "GET /docs",
            "GET /healthz",
            "GET /openapi.json",
            "GET /readyz",
            "GET /v1/experiments",
            "GET /v1/experiments/{experiment_id}/runs",
            "GET /v1/experiments/{experiment_id}/runs/{run_id}/params",
            "PUT /v1/experiments/{experiment_id}/runs/{run_id}/params",
        ]
    );
    // Every operation documents its statuses with a body, and the ids' pattern is the parser's.
    for (path, item) in spec["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            assert!(op["operationId"].is_string(), "{method} {path}");
            for (status, r) in op["responses"].as_object().unwrap() {
                assert!(
                    r["content"].is_object(),
                    "{method} {path} {status}: no content"
                );
                assert!(
                    r["headers"]["x-request-id"].is_object(),
                    "{method} {path} {status}"
                );
            }
            // A host not allowed is 421 on every route (DNS rebinding).
            assert!(
                op["responses"]["421"].is_object(),
                "{method} {path}: no 421"
            );
            for p in op["parameters"].as_array().into_iter().flatten() {
                if p["in"] == "query" {
                    assert!(["limit", "cursor"].contains(&p["name"].as_str().unwrap()));
                    assert_eq!(p["required"], false, "{method} {path}");
                    continue;
                }
                assert_eq!(p["schema"]["pattern"], abforge_api::input::ID_PATTERN);
                assert_eq!(p["required"], true);
            }
        }
    }
}

#[test]
fn every_resolved_example_matches_the_blueprint_schema() {
    let schema = json!({ "$ref": "#/components/schemas/Blueprint" });
    for (name, bp) in resolved_examples() {
        validate(&schema, bp).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
    // A choose is not a resolved blueprint.
    let mut bp = crate::small("demo");
    bp["metrics"]["items"]["control"]["lambda"] = json!({ "choose": [1, 2] });
    assert!(validate(&schema, &bp).is_err());
}

#[tokio::test]
async fn the_document_is_served_as_json() {
    let api = Api::open();
    let r = api.get("/openapi.json").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.content_type(), "application/json");
    assert_eq!(&r.json(), abforge_api::openapi());
}

#[tokio::test]
async fn docs_is_a_self_contained_page() {
    let api = Api::open();
    let r = api.get("/docs").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.content_type(), "text/html; charset=utf-8");
    let csp = r.headers["content-security-policy"].to_str().unwrap();
    assert!(csp.starts_with("default-src 'none'"), "{csp}");
    let html = String::from_utf8(r.bytes.to_vec()).unwrap();
    assert!(html.starts_with("<!doctype html>"));
    assert!(!html.contains("<script"), "no script");
    assert!(!html.contains("src="), "nothing loaded");
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "nothing linked outside"
    );
    for path in abforge_api::openapi()["paths"].as_object().unwrap().keys() {
        assert!(html.contains(&format!("<code>{path}</code>")), "{path}");
    }
    assert!(html.contains("id=\"schema-Blueprint\""));
    // Relative, so it also resolves under an API Gateway stage (`/prod/docs` → `/prod/openapi.json`).
    assert!(html.contains("href=\"openapi.json\""));
}

#[tokio::test]
async fn the_documented_example_is_accepted() {
    let spec = abforge_api::openapi();
    let op = &spec["paths"]["/v1/experiments/{experiment_id}/runs/{run_id}/params"]["put"];
    let example = &op["requestBody"]["content"]["application/json"]["example"];
    let param = |i: usize| op["parameters"][i]["example"].as_str().unwrap().to_string();
    let path = crate::params_path(&param(0), &param(1));
    let api = Api::open();
    let r = api.put(&path, example.to_string()).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.json());
    let get = &spec["paths"]["/v1/experiments/{experiment_id}/runs/{run_id}/params"]["get"];
    assert_eq!(get["parameters"][0]["example"], param(0));
    assert_eq!(api.get(&path).await.status, StatusCode::OK);
}
