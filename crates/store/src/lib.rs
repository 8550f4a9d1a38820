//! Where abforge keeps what it makes, each behind a trait with one conformance suite
//! (feature `testing`) that every backend passes:
//!
//! - the **object store** ([`objects`]): a local folder by default, an S3 bucket when a URL
//!   says so, memory for tests;
//! - the **relational store** ([`relational`]): customers, runs and results in a SQLite file
//!   by default, in PostgreSQL by a `postgres://` URL;
//! - the **run log** ([`runlog`]): one item per step attempt, in the SQLite file by default,
//!   in DynamoDB by `dynamodb://table`, or in PostgreSQL.
//!
//! The code is organised by backend, each behind a cargo feature of its name (all on by
//! default), so a crate that needs only the object store (the params API, the Lambda)
//! compiles no database client:
//!
//! | feature | module | what |
//! |---|---|---|
//! | `sqlite` | [`sqlite`] | relational store and run log in a SQLite file (bundled SQLite) |
//! | `postgres` | [`postgres`] | relational store and run log in PostgreSQL, over TLS with libpq's `sslmode` and `sslrootcert` |
//! | `dynamodb` | [`dynamodb`] | run log in DynamoDB |
//! | `s3` | [`objects`] | the object store in S3 or an S3-compatible server (a local folder and memory are always there) |
//!
//! A URL naming a backend this build lacks is an [`Error::Config`] naming the feature.
//! Locks with leases and a scheduler's ticks are traits of their own ([`locks`]), which
//! every relational store implements. Every URL printed, logged or stored goes through
//! [`redact_url`].
//!
//! Errors say whether a retry may help ([`Error::is_transient`]).
//!
//! [`ObjectStoreConfig`] names the backend — [`from_env`](ObjectStoreConfig::from_env)
//! reads `ABFORGE_OBJECT_STORE_URL` (`s3://bucket/prefix`, `file:///path`, `memory://`),
//! `ABFORGE_DATA_DIR` (default `./abforge-data`; objects go in its `objects/`) and the usual
//! `AWS_*` variables — and [`build`](ObjectStoreConfig::build) opens it as an [`Objects`]
//! handle: whole documents under checked relative keys, written atomically, with
//! [`put_json_if_changed`](Objects::put_json_if_changed) telling whether it created,
//! replaced or left an object alone.
//!
//! ```
//! use abforge_store::{ObjectStoreConfig, PutOutcome};
//! use serde_json::json;
//!
//! # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
//! let objects = ObjectStoreConfig::new().with_url("memory://").build()?;
//! objects.check().await?; // readiness: the backend answers
//!
//! let key = "params/checkout/2026-11-23.json";
//! let doc = json!({ "experiment_id": "checkout", "seed": 7 });
//! assert_eq!(objects.put_json_if_changed(key, &doc).await?, PutOutcome::Created);
//! assert_eq!(objects.put_json_if_changed(key, &doc).await?, PutOutcome::Unchanged);
//! let changed = json!({ "experiment_id": "checkout", "seed": 8 });
//! assert_eq!(objects.put_json_if_changed(key, &changed).await?, PutOutcome::Replaced);
//!
//! let info = objects.head(key).await?.expect("stored");
//! assert_eq!(info.key, key);
//! assert_eq!(objects.list_dirs("params").await?, ["checkout"]);
//! assert!(objects.get("params/../secrets").await.is_err()); // keys cannot escape
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # })?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![deny(missing_docs)]
// The helpers shared by backends (column layouts, timestamps, error chains) serve a subset of
// them each; a build with only some backends leaves the others' helpers unused. The build
// with every backend (the default, which clippy checks) keeps dead code an error.
#![cfg_attr(
    not(all(
        feature = "sqlite",
        feature = "postgres",
        feature = "dynamodb",
        feature = "s3"
    )),
    allow(dead_code, unused_imports)
)]

#[cfg(feature = "testing")]
pub mod conformance;
#[cfg(feature = "dynamodb")]
pub mod dynamodb;
mod error;
pub mod locks;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
mod migrations;
pub mod objects;
#[cfg(feature = "postgres")]
pub mod postgres;
mod redact;
pub mod relational;
pub mod runlog;
#[cfg(feature = "sqlite")]
pub mod sqlite;

pub use error::{Error, Result};
pub use objects::{Object, ObjectInfo, ObjectStoreConfig, Objects, PutOutcome};
pub use redact::redact_url;

/// The error for a URL naming a backend this build was made without.
#[allow(dead_code, reason = "used only by builds without some backend")]
fn not_built(what: &str, url: &str, feature: &str) -> Error {
    Error::Config(format!(
        "{what} URL {:?}: this abforge was built without the `{feature}` backend; build it \
         with the `{feature}` feature of abforge-store (on by default)",
        redact_url(url)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_backend_not_built_is_named_with_its_feature() {
        let e = not_built("run log", "postgres://u:hunter2@db/abforge", "postgres");
        let text = e.to_string();
        assert!(matches!(e, Error::Config(_)), "{text}");
        assert!(
            text.contains("run log URL") && text.contains("the `postgres` feature"),
            "{text}"
        );
        assert!(!text.contains("hunter2"), "{text}");
    }
}
