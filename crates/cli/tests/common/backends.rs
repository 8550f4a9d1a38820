//! Backend sets for the process tests that compare what runs leave in every layer (reruns,
//! chaos): the embedded backends, or PostgreSQL + S3 + DynamoDB on the test services.
#![allow(dead_code)] // each test file uses a part
#![allow(clippy::print_stderr)] // the skip note of the AWS-like set without its services

use super::{abforge, ok, seed, text};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The date of the runs these tests make, and its run id.
pub const DATE: &str = "2026-12-14";
pub const RUN: &str = "seed-20261214";

/// The seed blueprint with `customers` and, with `extra`, a third metric, at `dir/name.toml`.
pub fn variant(dir: &Path, name: &str, customers: u64, extra: bool) -> PathBuf {
    let mut text = std::fs::read_to_string(seed())
        .unwrap()
        .replace("customers = 200000", &format!("customers = {customers}"));
    if extra {
        text.push_str(
            "\n[metrics.visits]\ndistribution = \"poisson\"\ncontrol = { lambda = 2 }\n\
             treatment = { lift = 0.2 }\n",
        );
    }
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(&path, text).unwrap();
    path
}

/// Where a sequence of runs goes: its data folder, and the environment of the backends.
pub struct Backends {
    pub dir: tempfile::TempDir,
    pub env: Vec<(String, String)>,
    /// PostgreSQL's URL, when the relational store is PostgreSQL.
    pub pg: Option<String>,
}

impl Backends {
    pub fn embedded() -> Backends {
        Backends {
            dir: tempfile::tempdir().unwrap(),
            env: Vec::new(),
            pg: None,
        }
    }

    /// PostgreSQL, S3 and DynamoDB on the test services; `None` when they are not running.
    pub fn aws_like(tag: &str) -> Option<Backends> {
        let Services {
            pg,
            s3,
            ddb,
            bucket,
        } = Services::from_env()?;
        let tag = format!("{tag}{}{}", std::process::id(), nanos());
        let db = fresh_database(&pg, &format!("rerun_{tag}"));
        let env = [
            ("ABFORGE_DATABASE_URL", db.clone()),
            (
                "ABFORGE_RUN_LOG_URL",
                format!("dynamodb://abforge-reruns-{tag}"),
            ),
            (
                "ABFORGE_OBJECT_STORE_URL",
                format!("s3://{bucket}/reruns-{tag}"),
            ),
            ("AWS_ENDPOINT_URL", s3),
            ("AWS_ENDPOINT_URL_DYNAMODB", ddb),
            ("AWS_ALLOW_HTTP", "true".into()),
        ];
        Some(Backends {
            dir: tempfile::tempdir().unwrap(),
            env: env.into_iter().map(|(k, v)| (k.into(), v)).collect(),
            pg: Some(db),
        })
    }

    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = abforge(self.dir.path(), args);
        c.envs(self.env.iter().map(|(k, v)| (k, v)));
        c
    }

    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.cmd(args).output().unwrap();
        ok(&out);
        text(&out.stdout)
    }

    pub fn run(&self, bp: &Path) {
        self.ok(&[
            "pipeline",
            "run",
            "-b",
            bp.to_str().unwrap(),
            "--run-date",
            DATE,
            "-q",
        ]);
    }

    /// Every step alone, generate and land on `shards` shards.
    pub fn run_in_shards(&self, bp: &Path, shards: u64) {
        let bp = bp.to_str().unwrap();
        for step in ["generate", "land"] {
            for k in 0..shards {
                let shard = format!("{k}/{shards}");
                let args = ["pipeline", "step", step, "-b", bp, "--run-date", DATE];
                let mut args = args.to_vec();
                args.extend(["--shard", &shard, "-q"]);
                self.ok(&args);
            }
        }
        for step in ["publish", "bronze", "silver", "gold", "analyze"] {
            self.ok(&["pipeline", "step", step, "-b", bp, "--run-date", DATE, "-q"]);
        }
    }

    /// What the run left in every layer, in a form to compare.
    pub fn layers(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for (table, order) in [
            ("bronze_customers", "customer_id"),
            ("silver_customers", "customer_id"),
            ("silver_quarantine", "customer_id"),
            ("gold_group_daily", "metric, \"group\", purchase_date"),
            ("gold_group_quantiles", "metric, \"group\", p"),
            ("gold_ab_results", "position"),
        ] {
            let sql = format!("SELECT * FROM {table} WHERE run_id = '{RUN}' ORDER BY {order}");
            let json = self.ok(&["lake", "query", &sql, "--json"]);
            out.push((table.to_string(), deterministic(&json)));
        }
        out.push(("customers".into(), self.customers()));
        out.push(("parts".into(), self.parts()));
        let show = self.ok(&["runs", "show", RUN, "--json"]);
        let show: serde_json::Value = serde_json::from_str(&show).unwrap();
        out.push(("ab_results".into(), show["results"].to_string()));
        out.push(("status".into(), show["run"]["status"].to_string()));
        out
    }

    /// The relational store's customers of the run: count, distinct ids, id range, and the
    /// sum of a metric.
    pub fn customers(&self) -> String {
        self.row(
            &format!(
                "SELECT COUNT(*), COUNT(DISTINCT customer_id), MIN(customer_id), \
                 MAX(customer_id), SUM(num_diff_items) FROM customers WHERE run_id = '{RUN}'"
            ),
            5,
        )
    }

    /// The relational store's customers of the run: count and distinct ids. Unlike
    /// [`Backends::customers`] it names no metric column, so it also reads a store killed
    /// after its tables were made but before a first load added the metric columns.
    pub fn customer_counts(&self) -> String {
        self.row(
            &format!(
                "SELECT COUNT(*), COUNT(DISTINCT customer_id) FROM customers \
                 WHERE run_id = '{RUN}'"
            ),
            2,
        )
    }

    /// One row of integers from the relational store, `|`-separated, `-1` for NULL.
    fn row(&self, sql: &str, columns: usize) -> String {
        match &self.pg {
            Some(db) => {
                let out = Command::new("psql")
                    .args([db, "-At", "-c", sql])
                    .output()
                    .unwrap();
                ok(&out);
                text(&out.stdout).trim().to_string()
            }
            None => {
                let c = rusqlite::Connection::open(self.dir.path().join("data/abforge.sqlite"))
                    .unwrap();
                c.query_row(sql, [], |r| {
                    Ok((0..columns)
                        .map(|i| {
                            r.get::<_, Option<i64>>(i)
                                .unwrap()
                                .unwrap_or(-1)
                                .to_string()
                        })
                        .collect::<Vec<_>>()
                        .join("|"))
                })
                .unwrap()
            }
        }
    }

    /// The run's Parquet parts: their names and sizes (the local folder), or their names
    /// (S3, through the run's generate and land steps being the only writers).
    pub fn parts(&self) -> String {
        if self.pg.is_some() {
            return String::new();
        }
        let dir = self
            .dir
            .path()
            .join("data/objects/runs/seed")
            .join(RUN)
            .join("customers");
        let mut parts: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                let bytes = std::fs::read(e.path()).unwrap();
                format!("{} {}", e.file_name().to_string_lossy(), digest(&bytes))
            })
            .collect();
        parts.sort();
        parts.join("\n")
    }
}

/// A short digest of bytes (FNV-1a), to compare files.
pub fn digest(bytes: &[u8]) -> String {
    let h = bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    });
    format!("{:016x} {}", h, bytes.len())
}

/// `lake query --json` rows without the columns that differ between two clean runs (when
/// and from where they were loaded), floats to 12 significant digits, keys sorted and NULLs
/// left out: a table whose schema
/// gained a column (a metric another blueprint of the run had) holds NULL in it for this
/// run's rows.
pub fn deterministic(json: &str) -> String {
    let rows: Vec<serde_json::Map<String, serde_json::Value>> = serde_json::from_str(json).unwrap();
    let rows: Vec<std::collections::BTreeMap<String, serde_json::Value>> = rows
        .into_iter()
        .map(|r| {
            r.into_iter()
                .filter(|(k, v)| !v.is_null() && !["loaded_at", "source"].contains(&k.as_str()))
                .map(|(k, v)| (k, rounded(v)))
                .collect()
        })
        .collect();
    serde_json::to_string(&rows).unwrap()
}

/// A float to 12 significant digits: DataFusion's parallel aggregates (gold's `VAR_SAMP`)
/// add in an order that varies from run to run, moving the last bits.
fn rounded(v: serde_json::Value) -> serde_json::Value {
    match v.as_f64() {
        Some(x) if v.is_f64() && x != 0.0 && x.is_finite() => {
            let scale = 10f64.powi(11 - x.abs().log10().floor() as i32);
            serde_json::json!((x * scale).round() / scale)
        }
        _ => v,
    }
}

pub fn nanos() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
        % 1_000_000_000
}

/// The test services of `scripts/services.sh`, from their environment.
pub struct Services {
    /// The admin URL of the PostgreSQL server.
    pub pg: String,
    /// The S3 endpoint.
    pub s3: String,
    /// The DynamoDB endpoint.
    pub ddb: String,
    /// The test bucket.
    pub bucket: String,
}

impl Services {
    /// The running services; `None` (the caller skips) when they are not running, which
    /// CI never allows.
    pub fn from_env() -> Option<Services> {
        let (Ok(pg), Ok(s3), Ok(ddb)) = (
            std::env::var("ABFORGE_TEST_DATABASE_URL"),
            std::env::var("ABFORGE_TEST_S3_ENDPOINT"),
            std::env::var("ABFORGE_TEST_DYNAMODB_ENDPOINT"),
        ) else {
            assert!(
                std::env::var_os("CI").is_none(),
                "CI runs the test services: scripts/test.sh starts them"
            );
            eprintln!("skipped: the test services are not running (scripts/services.sh start)");
            return None;
        };
        let bucket =
            std::env::var("ABFORGE_TEST_S3_BUCKET").unwrap_or_else(|_| "abforge-test".into());
        Some(Services {
            pg,
            s3,
            ddb,
            bucket,
        })
    }
}

/// A new database `abforge_<tag>` on the test server, so that tests in parallel do not meet;
/// its URL keeps the admin URL's query (the TLS settings).
pub fn fresh_database(admin: &str, tag: &str) -> String {
    let name = format!("abforge_{tag}");
    let out = Command::new("psql")
        .args([admin, "-At", "-c", &format!("CREATE DATABASE {name}")])
        .output()
        .expect("psql runs");
    ok(&out);
    let (head, query) = admin.split_once('?').unwrap_or((admin, ""));
    let (base, _) = head.rsplit_once('/').unwrap();
    match query {
        "" => format!("{base}/{name}"),
        q => format!("{base}/{name}?{q}"),
    }
}

/// Compares two sets of layers, naming the first that differs.
pub fn same(got: &[(String, String)], want: &[(String, String)], what: &str) {
    for ((layer, g), (_, w)) in got.iter().zip(want) {
        assert!(
            g == w,
            "{what}: {layer} differs from a clean run's\n got: {g:.600}\nwant: {w:.600}"
        );
    }
}
