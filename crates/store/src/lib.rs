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
//! PostgreSQL is reached over TLS with libpq's `sslmode` and `sslrootcert`
//! ([`postgres_conn`]); every URL printed, logged or stored goes through [`redact_url`].
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

#[cfg(feature = "testing")]
pub mod conformance;
mod error;
mod migrations;
pub mod objects;
pub mod postgres_conn;
mod redact;
pub mod relational;
pub mod runlog;
mod sqlite_conn;

pub use error::{Error, Result};
pub use objects::{Object, ObjectInfo, ObjectStoreConfig, Objects, PutOutcome};
pub use postgres_conn::{PgConnector, SslMode};
pub use redact::redact_url;
