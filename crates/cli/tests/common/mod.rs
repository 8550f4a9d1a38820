//! What the process tests of the CLI share (`mod common;` in each): the binary, run with
//! none of the pipeline's variables from the outer environment, and small helpers.
#![allow(dead_code)] // each test file uses a part

pub mod backends;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub const BIN: &str = env!("CARGO_BIN_EXE_abforge");

pub fn seed() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/seed.toml")
}

/// `abforge ARGS` in `dir`, with none of the pipeline's variables from the outer environment.
pub fn abforge(dir: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(BIN);
    c.current_dir(dir)
        .args(args)
        .env("ABFORGE_DATA_DIR", dir.join("data"));
    for v in [
        "ABFORGE_DATABASE_URL",
        "ABFORGE_RUN_LOG_URL",
        "ABFORGE_OBJECT_STORE_URL",
        "ABFORGE_API_URL",
        "ABFORGE_API_TOKEN",
        "ABFORGE_BLUEPRINT",
        "ABFORGE_CONFIG",
        "ABFORGE_RETRY_ATTEMPTS",
        "ABFORGE_RETRY_DELAY_MS",
        "ABFORGE_LAKE_QUARANTINE_MAX",
        "ABFORGE_RUN_LEASE_MS",
        "ABFORGE_RUN_WAIT_MS",
        "ABFORGE_FAULT_INJECT",
        "AWS_ENDPOINT_URL",
        "AWS_ENDPOINT_URL_DYNAMODB",
        "RUST_LOG",
    ] {
        c.env_remove(v);
    }
    c
}

pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

pub fn ok(out: &Output) {
    assert!(
        out.status.success(),
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        text(&out.stdout),
        text(&out.stderr)
    );
}

/// A copy of the seed blueprint with `customers` changed, at `dir/bp.toml`.
pub fn blueprint(dir: &Path, customers: u64) -> PathBuf {
    let src = std::fs::read_to_string(seed()).unwrap();
    let out = src.replace("customers = 200000", &format!("customers = {customers}"));
    assert_ne!(src, out, "the seed blueprint has customers = 200000");
    let path = dir.join("bp.toml");
    std::fs::write(&path, out).unwrap();
    path
}
