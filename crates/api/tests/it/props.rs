//! Property tests: the id and body parsers are total, and no input makes the server fail.

use crate::{Api, params_path, small};
use abforge_api::AppError;
use abforge_api::input::{parse_id, parse_run};
use axum::http::StatusCode;
use proptest::prelude::*;
use serde_json::{Value, json};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// The id rule, written independently of the parser: bytes, not chars.
fn is_id(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.bytes()
            .all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'_' | b'-'))
}

/// Percent-encodes every byte that is not unreserved, as a client would.
fn encode(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                char::from(*b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A JSON value of any shape, small.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        prop::sample::select(vec![-1.0, 0.0, 0.5, 1.0, 2.0, 7.0, 1e3, -1e-9, 1e300])
            .prop_map(|f: f64| json!(f)),
        "[a-z_]{0,8}".prop_map(Value::from),
        Just(json!("2026-11-23")),
    ];
    leaf.prop_recursive(3, 12, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            prop::collection::btree_map("[a-z_]{1,8}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Every path to a value inside `v` (keys and indices).
fn paths(v: &Value, prefix: Vec<String>, out: &mut Vec<Vec<String>>) {
    out.push(prefix.clone());
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                let mut p = prefix.clone();
                p.push(k.clone());
                paths(x, p, out);
            }
        }
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                let mut p = prefix.clone();
                p.push(i.to_string());
                paths(x, p, out);
            }
        }
        _ => {}
    }
}

fn set(v: &mut Value, path: &[String], new: Value) {
    let mut cur = v;
    for k in path {
        cur = match cur {
            Value::Object(m) => m.get_mut(k).unwrap(),
            Value::Array(a) => &mut a[k.parse::<usize>().unwrap()],
            _ => unreachable!(),
        };
    }
    *cur = new;
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn ids_are_exactly_the_pattern(s in "\\PC{0,70}|[a-z0-9_.%/-]{0,70}") {
        prop_assert_eq!(parse_id(&s).is_ok(), is_id(&s), "{:?}", s);
    }

    #[test]
    fn valid_ids_pass(s in "[a-z0-9_-]{1,64}") {
        prop_assert_eq!(parse_id(&s), Ok(s.as_str()));
    }

    #[test]
    fn arbitrary_bodies_are_refused_with_422(body in prop::collection::vec(any::<u8>(), 0..512)) {
        match parse_run("demo", "r1", &body) {
            Err(AppError::Unprocessable { details, .. }) => prop_assert!(!details.is_empty()),
            other => prop_assert!(false, "{:?}", other.map(|r| r.run_id)),
        }
    }

    #[test]
    fn arbitrary_json_is_refused_with_422(v in any_json()) {
        match parse_run("demo", "r1", v.to_string().as_bytes()) {
            Err(AppError::Unprocessable { details, .. }) => prop_assert!(!details.is_empty()),
            other => prop_assert!(false, "{:?}", other.map(|r| r.run_id)),
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    /// A valid blueprint with one value replaced by anything: valid (stored) or 422 with
    /// details, never a server error.
    #[test]
    fn mutated_blueprints_are_stored_or_refused(
        pick in any::<prop::sample::Index>(),
        new in any_json(),
    ) {
        let mut bp = small("demo");
        let mut all = Vec::new();
        paths(&bp, Vec::new(), &mut all);
        let path = pick.get(&all).clone();
        set(&mut bp, &path, new);
        match parse_run("demo", "r1", bp.to_string().as_bytes()) {
            Ok(run) => prop_assert_eq!(run.experiment_id, "demo"),
            Err(AppError::Unprocessable { details, .. }) => prop_assert!(!details.is_empty()),
            Err(e) => prop_assert!(false, "{path:?}: {e}"),
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Any bytes as ids, percent-encoded on the wire: 400 unless they are an id, never 5xx;
    /// every answer conforms to the OpenAPI document (checked by `Api::send`).
    #[test]
    fn any_path_segment_is_400_or_an_id(
        e in prop::collection::vec(any::<u8>(), 1..80),
        r in prop::collection::vec(any::<u8>(), 1..80),
    ) {
        let (es, rs) = (encode(&e), encode(&r));
        let ok = |b: &[u8]| std::str::from_utf8(b).is_ok_and(is_id);
        runtime().block_on(async {
            let api = Api::open();
            let reply = api.get(&params_path(&es, &rs)).await;
            let want = if ok(&e) && ok(&r) { StatusCode::NOT_FOUND } else { StatusCode::BAD_REQUEST };
            assert_eq!(reply.status, want, "{es} {rs}");
            let reply = api.put(&params_path(&es, &rs), small("demo").to_string()).await;
            assert!(!reply.status.is_server_error());
            assert!(api.state.objects().list("").await.unwrap().iter().all(|o| {
                o.key.starts_with("params/") && o.key.matches('/').count() == 2
            }));
        });
    }

    /// Any body through the whole service: a 4xx (or a store), never 5xx.
    #[test]
    fn any_body_through_the_router(body in prop::collection::vec(any::<u8>(), 0..2048)) {
        runtime().block_on(async {
            let api = Api::open();
            let reply = api.put(&params_path("demo", "r1"), body).await;
            assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
        });
    }
}
