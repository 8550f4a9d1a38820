//! A reference engine of the engine protocol (`docs/engine-protocol.md`), in Rust: it
//! answers with abforge's own Welch t-test (`welch`, final look) and mSPRT (`msprt`, every
//! look), so that `abforge calibrate --engine` can be checked against the lab's own results
//! replication by replication, and the protocol's overhead measured without a Python engine.
//!
//! `ABFORGE_ENGINE_FAULT=KIND:R` makes it misbehave on replication `R`, for the tests of the
//! driver: `error` (an error line), `garbage` (a line that is not JSON), `nan` (a NaN
//! estimate), `crash` (exits), `hang` (sleeps forever).

use abforge_stats::{Hypothesis, MsprtOptions, Summary, msprt, welch_t};
use arrow_array::RecordBatch;
use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, UInt64Type};
use arrow_ipc::reader::StreamReader;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};

fn main() {
    let fault = std::env::var("ABFORGE_ENGINE_FAULT").ok().and_then(|f| {
        let (kind, r) = f.split_once(':')?;
        Some((kind.to_string(), r.parse::<u64>().ok()?))
    });
    let mut out = std::io::stdout().lock();
    let hello = json!({
        "protocol": "abforge-engine/1",
        "engine": "abforge-reference",
        "version": env!("CARGO_PKG_VERSION"),
        "tests": [
            {"name": "welch", "kinds": ["binary", "count", "continuous"], "sequential": false,
             "needs_covariate": false, "estimand": "difference"},
            {"name": "msprt", "kinds": ["binary", "count", "continuous"], "sequential": true,
             "needs_covariate": false, "estimand": "difference"},
        ],
    });
    writeln!(out, "{hello}")
        .and_then(|()| out.flush())
        .expect("stdout");
    let mut input = BufReader::new(std::io::stdin().lock());
    while input.fill_buf().is_ok_and(|b| !b.is_empty()) {
        let reader = match StreamReader::try_new(&mut input, None) {
            Ok(r) => r,
            Err(e) => return fatal(&mut out, &format!("not an Arrow IPC stream: {e}")),
        };
        let request: Value = match reader
            .schema()
            .metadata()
            .get("abforge.request")
            .and_then(|s| serde_json::from_str(s).ok())
        {
            Some(v) => v,
            None => return fatal(&mut out, "no abforge.request metadata"),
        };
        let batches: Vec<RecordBatch> = match reader.collect::<Result<_, _>>() {
            Ok(b) => b,
            Err(e) => return fatal(&mut out, &format!("reading the stream: {e}")),
        };
        answer(&mut out, &request, &batches, fault.as_ref());
    }
}

fn fatal(out: &mut impl Write, why: &str) {
    let _ = writeln!(out, "{}", json!({ "fatal": why }));
    std::process::exit(2);
}

/// Values of every (replication, group) of one metric, in arrival order.
type Cells = BTreeMap<(u64, String), Vec<f64>>;

fn cells(batches: &[RecordBatch], metric: &str) -> Cells {
    let mut out = Cells::new();
    for b in batches {
        let rep = b.column_by_name("replication").expect("replication");
        let rep = rep.as_primitive::<UInt64Type>();
        let group = b.column_by_name("group").expect("group").as_string::<i32>();
        let v = b.column_by_name(metric).expect("metric");
        let v = v.as_primitive::<Float64Type>();
        for i in 0..b.num_rows() {
            let key = (rep.value(i), group.value(i).to_string());
            out.entry(key).or_default().push(v.value(i));
        }
    }
    out
}

fn answer(
    out: &mut impl Write,
    req: &Value,
    batches: &[RecordBatch],
    fault: Option<&(String, u64)>,
) {
    let batch = req["batch"].as_u64().unwrap_or(0);
    let alpha = req["alpha"].as_f64().unwrap_or(0.05);
    let looks = req["looks"].as_u64().unwrap_or(1).max(1) as u32;
    let control = req["control"].as_str().unwrap_or("control").to_string();
    let arms: Vec<String> = req["arms"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default();
    let tests: Vec<String> = req["tests"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default();
    let mut items = 0u64;
    for m in req["metrics"].as_array().into_iter().flatten() {
        let name = m["name"].as_str().unwrap_or_default();
        let data = cells(batches, name);
        let reps: Vec<u64> = {
            let mut r: Vec<u64> = data.keys().map(|k| k.0).collect();
            r.dedup();
            r
        };
        for r in reps {
            let empty = Vec::new();
            let c = data.get(&(r, control.clone())).unwrap_or(&empty);
            for arm in &arms {
                let t = data.get(&(r, arm.clone())).unwrap_or(&empty);
                for test in &tests {
                    let ks: Vec<u32> = if test == "msprt" {
                        (1..=looks).collect()
                    } else {
                        vec![0]
                    };
                    for k in ks {
                        let mut line = json!({"batch": batch, "replication": r, "metric": name,
                            "arm": arm, "test": test});
                        if k > 0 {
                            line["look"] = k.into();
                        }
                        if misbehave(out, fault, r, &mut line) {
                            continue;
                        }
                        let kk = if k == 0 { looks } else { k };
                        let cut = |n: usize| {
                            (n * kk as usize)
                                .div_ceil(looks as usize)
                                .clamp(2, n.max(2))
                                .min(n)
                        };
                        let (st, sc) = (
                            Summary::from_slice(&t[..cut(t.len())]),
                            Summary::from_slice(&c[..cut(c.len())]),
                        );
                        fill(&mut line, test, &st, &sc, alpha);
                        if fault.is_some_and(|(f, at)| f == "nan" && *at == r) {
                            line["estimate"] = json!("NaN");
                        }
                        writeln!(out, "{line}").expect("stdout");
                        items += 1;
                    }
                }
            }
        }
    }
    writeln!(
        out,
        "{}",
        json!({"batch": batch, "done": true, "items": items})
    )
    .expect("stdout");
    out.flush().expect("stdout");
}

/// Misbehaves as `ABFORGE_ENGINE_FAULT` asks on replication `r`; `true` when the item's
/// own line is not to be written (replaced by garbage).
fn misbehave(
    out: &mut impl Write,
    fault: Option<&(String, u64)>,
    r: u64,
    line: &mut Value,
) -> bool {
    let Some((kind, _)) = fault.filter(|(_, at)| *at == r) else {
        return false;
    };
    match kind.as_str() {
        "crash" => std::process::exit(3),
        "hang" => std::thread::sleep(std::time::Duration::from_secs(3600)),
        "garbage" => {
            let _ = writeln!(out, "this is not JSON");
            return true;
        }
        "error" => line["error"] = json!("the reference engine refuses this replication"),
        _ => {}
    }
    false
}

fn fill(line: &mut Value, test: &str, st: &Summary, sc: &Summary, alpha: f64) {
    if line.get("error").is_some() {
        return;
    }
    let h = Hypothesis::two_sided(alpha);
    let result = if test == "msprt" {
        let o = MsprtOptions {
            alpha,
            ..MsprtOptions::default()
        };
        msprt(st, sc, &o).map(|r| (r.estimate, r.ci_low, r.ci_high, r.p_value, r.reject))
    } else {
        welch_t(st, sc, &h).map(|r| (r.estimate, r.ci_low, r.ci_high, r.p_value, r.reject))
    };
    match result {
        Ok((e, lo, hi, p, reject)) => {
            line["estimate"] = e.into();
            line["ci_low"] = lo.into();
            line["ci_high"] = hi.into();
            line["p_value"] = p.into();
            line["reject"] = reject.into();
        }
        Err(e) => line["error"] = e.to_string().into(),
    }
}
