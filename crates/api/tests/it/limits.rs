//! Bounded work per request: a timed-out PUT stops its computation and frees its CPU
//! permit; any blueprint gets an answer within the timeout, in bounded memory. No test
//! asserts a time: they assert which answer comes, and in which order.

use crate::{Api, params_path, small};
use abforge_api::ApiConfig;
use axum::http::StatusCode;
use proptest::prelude::*;
use serde_json::{Map, Value, json};
use std::time::Duration;

/// A valid blueprint whose truth takes the whole budget (seconds of one core) before it is
/// refused: 400 segments, each with its own Poisson law of rate 10⁶ in both arms.
fn slow(id: &str) -> Value {
    let mut bp = small(id);
    let values: Map<String, Value> = (0..400).map(|v| (format!("v{v}"), json!(1))).collect();
    bp["attributes"] = json!({ "a": values });
    let segments: Vec<Value> = (0..400)
        .map(|v| {
            let l = 1e6 + f64::from(v);
            json!({ "when": { "a": format!("v{v}") },
                    "control": { "lambda": l }, "treatment": { "lambda": l + 1.0 } })
        })
        .collect();
    bp["metrics"]["items"]["segments"] = json!(segments);
    bp
}

/// Before: the blocking task kept its permit until its truth ended (42 s for a negative
/// binomial of p = 1e-6; never for 1e-9), so as many such PUTs as cores stopped every
/// later PUT. Now the request's drop sets a cancel flag the truth checks between bounded
/// steps: as many slow PUTs as permits time out, and the PUT sent right after them gets a
/// permit within its own (equally short) timeout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timed_out_put_frees_its_permit_for_the_next() {
    let api = Api::new(ApiConfig {
        request_timeout: Duration::from_millis(300),
        ..ApiConfig::default()
    });
    let permits = api.state.idle_cpu_permits();
    assert!(permits >= 1);
    let body = slow("demo").to_string();
    let paths: Vec<String> = (0..permits)
        .map(|i| params_path("demo", &format!("slow{i}")))
        .collect();
    let puts = paths.iter().map(|p| api.put(p, body.clone()));
    for reply in futures_util::future::join_all(puts).await {
        reply.error(StatusCode::SERVICE_UNAVAILABLE);
    }
    let next = api
        .put(&params_path("demo", "next"), small("demo").to_string())
        .await;
    assert_eq!(next.status, StatusCode::CREATED, "{:?}", next.bytes);
    // Every slow computation ends at its next check of the flag (one bounded step): all
    // permits come back, long before any of them could have used its budget.
    for _ in 0..100 {
        if api.state.idle_cpu_permits() == permits {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(api.state.idle_cpu_permits(), permits);
}

/// The same slow blueprint with the default timeout: refused (422) at the truth's budget,
/// naming the metric and the limit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_truth_past_its_budget_is_422() {
    let api = Api::open();
    let r = api
        .put(&params_path("demo", "r1"), slow("demo").to_string())
        .await;
    r.error(StatusCode::UNPROCESSABLE_ENTITY);
    let d = r.details();
    assert_eq!(d.len(), 1, "{d:?}");
    assert_eq!(d[0].0, "metrics.items");
    let budget = abforge_synth::truth::TRUTH_BUDGET.to_string();
    assert!(d[0].1.contains(&budget), "{}", d[0].1);
}

/// Peak resident memory of this process (VmHWM), in bytes.
fn peak_rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

/// A number as a parameter could be: every range's edges and far beyond.
fn number() -> impl Strategy<Value = Value> + Clone {
    prop::sample::select(vec![
        -1.0, 0.0, 1e-12, 1e-9, 1e-6, 0.01, 0.5, 1.0, 2.0, 20.0, 700.0, 1e6, 1e9, 1e12, 1e300,
    ])
    .prop_map(|x: f64| json!(x))
}

/// A label: plain, or with what validation refuses.
fn label() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => "[a-z]{1,6}",
        1 => "\\PC{0,6}",
        1 => Just("{{x}}".to_string()),
        1 => Just(" pad ".to_string()),
        1 => "[a-z]{1,3}\u{0}",
    ]
}

/// A metric: a distribution, parameters per arm (or a lift), maybe segments over `attrs`.
fn metric(groups: Vec<String>, attrs: Vec<(String, usize)>) -> impl Strategy<Value = Value> {
    let dist = prop::sample::select(vec![
        "poisson",
        "gamma",
        "bernoulli",
        "lognormal",
        "normal",
        "negative_binomial",
    ]);
    let n = groups.len();
    let arms = prop::collection::vec((number(), number(), any::<bool>()), n);
    let segment = (any::<prop::sample::Index>(), 1usize..50, number(), number());
    let segments = prop::sample::select(vec![0usize, 1, 3, 40, 400])
        .prop_flat_map(move |n| prop::collection::vec(segment.clone(), n));
    (dist, arms, segments).prop_map(move |(dist, arms, segments)| {
        let params = |a: &Value, b: &Value| match dist {
            "poisson" => json!({ "lambda": a }),
            "bernoulli" => json!({ "p": a }),
            "gamma" => json!({ "shape": a, "scale": b }),
            "lognormal" => json!({ "mu": a, "sigma": b }),
            "normal" => json!({ "mean": a, "sd": b }),
            _ => json!({ "r": a, "p": b }),
        };
        let mut m = json!({ "distribution": dist });
        for (i, (g, (a, b, lift))) in groups.iter().zip(&arms).enumerate() {
            m[g] = if *lift && i > 0 {
                json!({ "lift": a })
            } else {
                params(a, b)
            };
        }
        if !attrs.is_empty() {
            let segs: Vec<Value> = segments
                .iter()
                .map(|(pick, v, a, b)| {
                    let (attr, count) = pick.get(&attrs);
                    let mut s =
                        json!({ "when": { attr.clone(): format!("v{}", v % (count + 1)) } });
                    s[&groups[groups.len() - 1]] = params(a, b);
                    s
                })
                .collect();
            m["segments"] = json!(segs);
        }
        m
    })
}

/// A blueprint of any size up to about a MiB: arms, attributes of up to 10⁴ values, up
/// to 400 segments, parameters anywhere, labels valid or not.
fn blueprint() -> impl Strategy<Value = Value> {
    let groups = prop::collection::vec(label(), 2..6);
    let attrs = prop::collection::vec(prop::sample::select(vec![1usize, 3, 100, 10_000]), 0..4);
    (groups, attrs)
        .prop_flat_map(|(mut groups, attrs)| {
            groups[0] = "control".into();
            let attrs: Vec<(String, usize)> = attrs
                .into_iter()
                .enumerate()
                .map(|(i, n)| (format!("a{i}"), n))
                .collect();
            let metrics = prop::collection::vec(metric(groups.clone(), attrs.clone()), 1..4);
            (Just(groups), Just(attrs), metrics)
        })
        .prop_map(|(groups, attrs, metrics)| {
            let mut bp = small("demo");
            bp["groups"] = groups
                .iter()
                .map(|g| (g.clone(), json!(1)))
                .collect::<Map<_, _>>()
                .into();
            bp["attributes"] = attrs
                .iter()
                .map(|(a, n)| {
                    let values: Map<String, Value> =
                        (0..*n).map(|v| (format!("v{v}"), json!(1))).collect();
                    (a.clone(), Value::Object(values))
                })
                .collect::<Map<_, _>>()
                .into();
            bp["metrics"] = metrics
                .into_iter()
                .enumerate()
                .map(|(i, m)| (format!("m{i}"), m))
                .collect::<Map<_, _>>()
                .into();
            bp
        })
}

/// Any blueprint up to the 1 MiB body limit: an answer — stored, or a 4xx — within the
/// request timeout (never the 503 of a timeout, never a 5xx), and the process's peak
/// memory over all cases grows by at most 512 MiB (VmHWM, reset first where the kernel
/// allows). The truth's budget and the validation's caps are what bound both.
#[test]
fn any_blueprint_gets_an_answer_in_bounded_memory() {
    // Resets VmHWM to the current RSS (Linux ≥ 4.0); otherwise the baseline is the peak so far.
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    let before = peak_rss();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let api = Api::open();
    let config = ProptestConfig {
        cases: 40,
        ..ProptestConfig::default()
    };
    proptest!(config, |(bp in blueprint())| {
        let body = bp.to_string();
        prop_assume!(body.len() <= 1 << 20);
        let reply = runtime.block_on(api.put(&params_path("demo", "r1"), body));
        prop_assert!(
            reply.status.is_success() || reply.status.is_client_error(),
            "{}: {}", reply.status, String::from_utf8_lossy(&reply.bytes)
        );
        prop_assert_ne!(reply.status, StatusCode::PAYLOAD_TOO_LARGE);
    });
    let grown = peak_rss().saturating_sub(before);
    assert!(
        grown <= 512 << 20,
        "peak memory grew by {} MiB",
        grown >> 20
    );
}
