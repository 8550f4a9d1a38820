//! The relational store: the conformance suite against a SQLite file, and against a fresh
//! PostgreSQL database per test when `ABFORGE_TEST_DATABASE_URL` names a server
//! (`postgres://postgres@127.0.0.1:PORT/abforge_test`, as `scripts/services.sh` writes it; each
//! test creates `abforge_t_<random>` through it and drops it after). Also: migrations under
//! concurrent opens, an unreachable server, a server stopped in the middle of a load (on a
//! throwaway cluster of its own, made with `initdb`), and the load benchmarks (ignored: run
//! them with `cargo nextest run -p abforge-store --all-features --run-ignored only
//! relational::bench --no-capture`).

use abforge_store::conformance::relational as suite;
use abforge_store::relational::{self, LoadSpec, RelationalStore};
use abforge_store::{Error, conformance};
use futures_util::future::join_all;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn note(text: &str) {
    let _ = writeln!(std::io::stderr(), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_conformance() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!(
        "sqlite://{}",
        dir.path().join("nested/folder/abforge.sqlite").display()
    );
    let store = relational::open(&url).await.unwrap();
    assert_eq!(store.backend(), "sqlite");
    assert_eq!(store.url(), url);
    conformance::relational::run_all(&*store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_shares_its_file_with_the_run_log() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("abforge.sqlite");
    {
        let c = rusqlite::Connection::open(&path).unwrap();
        c.execute_batch(
            "CREATE TABLE run_log (run_id TEXT, step TEXT);
             INSERT INTO run_log VALUES ('r', 'land');
             CREATE TABLE abforge_migrations (component TEXT NOT NULL, version INTEGER NOT NULL,
                 applied_at TEXT NOT NULL, PRIMARY KEY (component, version));
             INSERT INTO abforge_migrations VALUES ('runlog', 1, '2026-11-23T08:00:00Z');",
        )
        .unwrap();
    }
    let url = format!("sqlite://{}", path.display());
    // Concurrent opens migrate once.
    let stores = join_all((0..4).map(|_| relational::open(&url))).await;
    for s in &stores {
        assert_eq!(s.as_ref().unwrap().schema_version().await.unwrap(), 2);
    }
    let c = rusqlite::Connection::open(&path).unwrap();
    let n: i64 = c
        .query_row("SELECT COUNT(*) FROM run_log", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 1, "the run log's rows are untouched");
    let versions: Vec<(String, i64)> = c
        .prepare("SELECT component, version FROM abforge_migrations ORDER BY component")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(
        versions,
        [
            ("relational".to_string(), 1),
            ("relational".to_string(), 2),
            ("runlog".to_string(), 1)
        ]
    );
    let mode: String = c
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
}

#[tokio::test]
async fn unknown_schemes_are_refused() {
    let e = relational::open("mysql://u:pw@h/db").await.unwrap_err();
    assert!(matches!(e, Error::Config(_)), "{e}");
    let e = relational::open("sqlite://").await.unwrap_err();
    assert!(matches!(e, Error::Config(_)), "{e}");
}

#[tokio::test]
async fn an_unreachable_postgres_server_is_a_transient_service_error() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let started = Instant::now();
    let e = relational::open(&format!("postgres://abforge:pw@127.0.0.1:{port}/db"))
        .await
        .unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(15));
    match &e {
        Error::Service {
            backend,
            transient,
            op,
            ..
        } => {
            assert_eq!(*backend, "postgres");
            assert!(*transient, "{e}");
            assert!(op.contains(&format!("127.0.0.1:{port}")), "{e}");
        }
        other => panic!("{other:?}"),
    }
    assert!(e.is_transient());
    assert!(!e.to_string().contains(":pw"), "{e}");
}

/// A database of its own on the test server, dropped by [`TestDb::drop_db`].
struct TestDb {
    admin: String,
    name: String,
    url: String,
}

/// Replaces the database of a `postgres://…/db?…` URL.
fn with_database(url: &str, db: &str) -> String {
    let (head, query) = match url.split_once('?') {
        Some((h, q)) => (h, format!("?{q}")),
        None => (url, String::new()),
    };
    let scheme_end = head.find("://").map_or(0, |i| i + 3);
    let base = match head[scheme_end..].find('/') {
        Some(i) => &head[..scheme_end + i],
        None => head,
    };
    format!("{base}/{db}{query}")
}

async fn admin_client(url: &str) -> tokio_postgres::Client {
    abforge_store::postgres::connect(url)
        .await
        .unwrap_or_else(|e| panic!("connect to the test server: {e}"))
}

impl TestDb {
    /// A fresh database, or `None` (saying so) when no test server is configured.
    async fn create(test: &str) -> Option<TestDb> {
        let Some(admin) = std::env::var("ABFORGE_TEST_DATABASE_URL")
            .ok()
            .filter(|u| !u.is_empty())
        else {
            note(&format!(
                "SKIPPED {test}: ABFORGE_TEST_DATABASE_URL is not set (bash scripts/services.sh start)"
            ));
            return None;
        };
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let name = format!(
            "abforge_t_{:x}{:x}",
            std::process::id(),
            nanos & 0xffff_ffff_ffff
        );
        let client = admin_client(&admin).await;
        client
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await
            .unwrap();
        Some(TestDb {
            url: with_database(&admin, &name),
            admin,
            name,
        })
    }

    async fn drop_db(self) {
        let client = admin_client(&self.admin).await;
        client
            .batch_execute(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ))
            .await
            .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_conformance() {
    let Some(db) = TestDb::create("postgres_conformance").await else {
        return;
    };
    let store = relational::open(&db.url).await.unwrap();
    assert_eq!(store.backend(), "postgres");
    conformance::relational::run_all(&*store).await;
    // Every load's table is attached: none is left over.
    let client = admin_client(&db.url).await;
    let stray: i64 = client
        .query_one(
            "SELECT count(*) FROM pg_class WHERE relname LIKE 'customers\\_%' \
             AND relkind = 'r' AND NOT relispartition",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(stray, 0);
    // run_all deleted its runs: their partitions are dropped, not emptied.
    let partitions: i64 = client
        .query_one(
            "SELECT count(*) FROM pg_inherits WHERE inhparent = 'customers'::regclass",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(partitions, 0);
    drop(store);
    db.drop_db().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_concurrent_opens_migrate_once_and_urls_hide_passwords() {
    let Some(db) =
        TestDb::create("postgres_concurrent_opens_migrate_once_and_urls_hide_passwords").await
    else {
        return;
    };
    // Trust authentication ignores the password; the store must not show it.
    let with_password = db.url.replacen("://postgres@", "://postgres:s3cr3t@", 1);
    assert!(with_password.contains("s3cr3t"), "{with_password}");
    let stores = join_all((0..4).map(|_| relational::open(&with_password))).await;
    for s in &stores {
        let s = s.as_ref().unwrap();
        assert_eq!(s.schema_version().await.unwrap(), 2);
        assert!(!s.url().contains("s3cr3t"), "{}", s.url());
    }
    let client = admin_client(&db.url).await;
    let n: i64 = client
        .query_one(
            "SELECT count(*) FROM abforge_migrations WHERE component = 'relational'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 2, "each migration applied once");
    drop(stores);
    db.drop_db().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_scans_read_the_index_in_order() {
    let Some(db) = TestDb::create("postgres_scans_read_the_index_in_order").await else {
        return;
    };
    let store = relational::open(&db.url).await.unwrap();
    let schema = suite::customers_schema(&[]);
    let run = "plans";
    let mut l = store
        .begin_load(LoadSpec {
            experiment_id: "conformance".into(),
            run_id: run.into(),
            schema: Arc::clone(&schema),
            ids: 0..20_000,
            whole_run: false,
        })
        .await
        .unwrap();
    l.write(&suite::customers(&schema, 0..20_000, 1))
        .await
        .unwrap();
    assert_eq!(l.commit().await.unwrap(), 20_000);
    let client = admin_client(&db.url).await;
    // As the store scans: sorting disabled, so that the plan shows whether an index gives
    // the order (before any ANALYZE).
    client.batch_execute("SET enable_sort = off").await.unwrap();
    let plan: Vec<String> = client
        .query(
            "EXPLAIN SELECT customer_id FROM customers WHERE run_id = 'plans' ORDER BY customer_id",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    let plan = plan.join("\n");
    assert!(!plan.contains("Sort"), "{plan}");
    drop(store);
    db.drop_db().await;
}

/// The server binaries: `initdb` on PATH, else the newest /usr/lib/postgresql/*/bin.
fn pg_bin() -> Option<PathBuf> {
    let on_path = std::env::var_os("PATH").and_then(|p| {
        std::env::split_paths(&p).find(|d| d.join("initdb").is_file() && d.join("pg_ctl").is_file())
    });
    on_path.or_else(|| {
        let mut dirs: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
            .ok()?
            .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
            .filter(|d| d.join("initdb").is_file())
            .collect();
        dirs.sort_by_key(|d| {
            d.parent()
                .and_then(|v| v.file_name()?.to_str()?.parse::<u32>().ok())
                .unwrap_or(0)
        });
        dirs.pop()
    })
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// A throwaway cluster on a free loopback port, stopped (immediately) when dropped.
struct Cluster {
    bin: PathBuf,
    dir: tempfile::TempDir,
    port: u16,
    root: bool,
}

impl Cluster {
    fn command(&self, program: &Path) -> Command {
        if self.root {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(program);
            c
        } else {
            Command::new(program)
        }
    }

    fn new(bin: PathBuf) -> Cluster {
        let root = is_root();
        let dir = tempfile::Builder::new()
            .prefix("abforge-pg-crash")
            .tempdir_in("/tmp")
            .unwrap();
        if root {
            let ok = Command::new("chown")
                .args(["postgres:"])
                .arg(dir.path())
                .status()
                .unwrap();
            assert!(ok.success(), "chown the cluster folder to postgres");
        }
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let cluster = Cluster {
            bin,
            dir,
            port,
            root,
        };
        let out = cluster
            .command(&cluster.bin.join("initdb"))
            .arg("-D")
            .arg(cluster.data())
            .args(["-U", "postgres", "--auth=trust", "--no-sync", "--locale=C"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "initdb: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        cluster.start();
        cluster
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    fn start(&self) {
        let out = self
            .command(&self.bin.join("pg_ctl"))
            .args(["start", "-w", "-t", "30", "-D"])
            .arg(self.data())
            .arg("-l")
            .arg(self.dir.path().join("server.log"))
            .arg("-o")
            .arg(format!(
                "-c listen_addresses=127.0.0.1 -c port={} -c unix_socket_directories={} \
                 -c fsync=off",
                self.port,
                self.dir.path().display()
            ))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "pg_ctl start: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Stops the server at once, as a crash would (no shutdown checkpoint).
    fn crash(&self) {
        let _ = self
            .command(&self.bin.join("pg_ctl"))
            .args(["stop", "-w", "-m", "immediate", "-D"])
            .arg(self.data())
            .output();
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.crash();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_stopped_mid_load_leaves_nothing_partial() {
    let Some(bin) = pg_bin() else {
        note("SKIPPED postgres_stopped_mid_load: no initdb on PATH or under /usr/lib/postgresql");
        return;
    };
    if is_root()
        && !Command::new("id")
            .arg("postgres")
            .output()
            .is_ok_and(|o| o.status.success())
    {
        note(
            "SKIPPED postgres_stopped_mid_load: running as root and no `postgres` user to run the server",
        );
        return;
    }
    let cluster = Cluster::new(bin);
    let store = relational::open(&cluster.url()).await.unwrap();
    let schema = suite::customers_schema(&[]);
    let spec = |ids| LoadSpec {
        experiment_id: "conformance".into(),
        run_id: "crash".into(),
        schema: Arc::clone(&schema),
        ids,
        whole_run: false,
    };
    let before = suite::customers(&schema, 0..1_000, 1);
    let mut l = store.begin_load(spec(0..1_000)).await.unwrap();
    l.write(&before).await.unwrap();
    l.commit().await.unwrap();

    let mut l = store.begin_load(spec(0..400_000)).await.unwrap();
    for k in 0..2 {
        l.write(&suite::customers(&schema, k * 50_000..(k + 1) * 50_000, 2))
            .await
            .unwrap();
    }
    cluster.crash();
    let mut failed = None;
    for k in 2..8 {
        if let Err(e) = l
            .write(&suite::customers(&schema, k * 50_000..(k + 1) * 50_000, 2))
            .await
        {
            failed = Some(e);
            break;
        }
    }
    let e = match failed {
        Some(e) => e,
        None => l.commit().await.unwrap_err(),
    };
    assert!(matches!(e, Error::Service { .. }), "{e:?}");
    assert!(e.is_transient(), "{e:?}");
    drop(store);

    cluster.start();
    let store = relational::open(&cluster.url()).await.unwrap();
    assert_eq!(store.count_customers("crash").await.unwrap(), 1_000);
    let mut got = Vec::new();
    let mut s = store
        .scan_customers("crash", Arc::clone(&schema), 4096)
        .await
        .unwrap();
    use futures_util::StreamExt;
    while let Some(b) = s.next().await {
        got.push(b.unwrap());
    }
    assert_eq!(suite::rows_of(&got), suite::rows_of(&[before]));
    let client = admin_client(&cluster.url()).await;
    let stray: i64 = client
        .query_one(
            "SELECT count(*) FROM pg_class WHERE relname LIKE 'customers\\_%' \
             AND relkind = 'r' AND NOT relispartition",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(stray, 0, "no load table is left");
}

/// The seed blueprint's customers, `n` of them, generated before the clock starts.
fn seed_batches(n: u64) -> (arrow_schema::SchemaRef, Vec<arrow_array::RecordBatch>) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/seed.toml");
    let mut bp =
        abforge_synth::Blueprint::from_toml(&std::fs::read_to_string(path).unwrap()).unwrap();
    bp.customers = n;
    let generator = abforge_synth::Generator::new(bp.resolve().unwrap());
    let mut batches = Vec::new();
    generator
        .run(
            0..generator.chunk_count(),
            |b| {
                batches.extend(b);
                Ok(())
            },
            &abforge_synth::NoReporter,
        )
        .unwrap();
    (generator.schema(), batches)
}

/// Lands `batches` as one load of run `run`; returns the seconds it took.
async fn land(
    store: &dyn RelationalStore,
    run: &str,
    schema: &arrow_schema::SchemaRef,
    batches: &[arrow_array::RecordBatch],
) -> f64 {
    let n: u64 = batches.iter().map(|b| b.num_rows() as u64).sum();
    let t0 = Instant::now();
    let mut l = store
        .begin_load(LoadSpec {
            experiment_id: "seed".into(),
            run_id: run.into(),
            schema: Arc::clone(schema),
            ids: 0..n,
            whole_run: true,
        })
        .await
        .unwrap();
    for b in batches {
        l.write(b).await.unwrap();
    }
    assert_eq!(l.commit().await.unwrap(), n);
    t0.elapsed().as_secs_f64()
}

/// Lands 10^6 seed customers into a SQLite file (three times: a new run, a rerun, and a new
/// run again) and prints rows/s.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a benchmark: run with --run-ignored only"]
async fn bench_sqlite_load() {
    let n = std::env::var("ABFORGE_BENCH_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let (schema, batches) = seed_batches(n);
    let dir = tempfile::tempdir().unwrap();
    let store = relational::open(&format!(
        "sqlite://{}",
        dir.path().join("b.sqlite").display()
    ))
    .await
    .unwrap();
    for (i, run) in ["b1", "b1", "b2"].iter().enumerate() {
        let s = land(&*store, run, &schema, &batches).await;
        note(&format!(
            "sqlite load {i} ({run}): {n} rows in {s:.3} s = {:.0} rows/s",
            n as f64 / s
        ));
    }
    let t0 = Instant::now();
    let mut rows = 0;
    let mut stream = store.scan_customers("b1", schema, 65_536).await.unwrap();
    use futures_util::StreamExt;
    while let Some(b) = stream.next().await {
        rows += b.unwrap().num_rows();
    }
    let s = t0.elapsed().as_secs_f64();
    note(&format!(
        "sqlite scan: {rows} rows in {s:.3} s = {:.0} rows/s",
        rows as f64 / s
    ));
}

/// Lands 10^7 seed customers (`ABFORGE_BENCH_ROWS` to change) into a fresh PostgreSQL
/// database, a new run then a rerun, and prints rows/s.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a benchmark: run with --run-ignored only"]
async fn bench_postgres_load() {
    let Some(db) = TestDb::create("bench_postgres_load").await else {
        return;
    };
    let n = std::env::var("ABFORGE_BENCH_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000_000);
    let (schema, batches) = seed_batches(n);
    let store = relational::open(&db.url).await.unwrap();
    let client = admin_client(&db.url).await;
    for (i, run) in ["b1", "b1", "b2"].iter().enumerate() {
        client.batch_execute("CHECKPOINT").await.unwrap();
        let s = land(&*store, run, &schema, &batches).await;
        note(&format!(
            "postgres load {i} ({run}): {n} rows in {s:.3} s = {:.0} rows/s",
            n as f64 / s
        ));
    }
    let t0 = Instant::now();
    let mut rows = 0;
    let mut stream = store.scan_customers("b1", schema, 65_536).await.unwrap();
    use futures_util::StreamExt;
    while let Some(b) = stream.next().await {
        rows += b.unwrap().num_rows();
    }
    let s = t0.elapsed().as_secs_f64();
    note(&format!(
        "postgres scan: {rows} rows in {s:.3} s = {:.0} rows/s",
        rows as f64 / s
    ));
    drop(stream);
    drop(store);
    db.drop_db().await;
}
