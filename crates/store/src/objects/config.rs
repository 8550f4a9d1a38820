//! [`ObjectStoreConfig`]: which backend to open, from a URL.

use super::Objects;
use crate::error::{Error, Result};
use abforge_env::EnvVars;
use object_store::ObjectStore;
use object_store::local::LocalFileSystem;
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// The data folder when none is given.
pub const DEFAULT_DATA_DIR: &str = "./abforge-data";

/// Where the objects live, resolved into an [`Objects`] handle by [`build`](Self::build).
///
/// Shaped like object_store's `AmazonS3Builder`: start from [`new`](Self::new) (a local
/// folder, `./abforge-data/objects`) or [`from_env`](Self::from_env), override with the
/// `with_*` methods, then `build()`. The URL picks the backend:
///
/// | URL                  | backend                                                         |
/// |----------------------|-----------------------------------------------------------------|
/// | none                 | local folder `<data dir>/objects`                               |
/// | `file:///abs/path`   | local folder (created if missing)                               |
/// | `memory://`          | in memory, gone with the process (tests)                        |
/// | `s3://bucket/prefix` | S3 or an S3-compatible server; endpoint, region and credentials |
/// |                      | from the `aws_*` options (`AWS_*` variables in `from_env`)      |
///
/// For S3, an `http://` endpoint turns on plain HTTP, and requests are path-style
/// (`endpoint/bucket/key`) unless `aws_virtual_hosted_style_request` says otherwise, so a
/// local S3-compatible server works with just `AWS_ENDPOINT_URL`.
///
/// ```
/// use abforge_store::objects::ObjectStoreConfig;
///
/// let dir = tempfile::tempdir()?;
/// let objects = ObjectStoreConfig::new().with_data_dir(dir.path()).build()?;
/// assert!(objects.to_string().starts_with("file://"));
///
/// let s3 = ObjectStoreConfig::new()
///     .with_url("s3://my-bucket/abforge")
///     .with_s3_option("aws_endpoint_url", "http://127.0.0.1:9000")
///     .with_s3_option("aws_access_key_id", "test")
///     .with_s3_option("aws_secret_access_key", "test")
///     .build()?; // no request is made until the store is used
/// assert_eq!(s3.to_string(), "s3://my-bucket/abforge");
/// assert_eq!(s3.prefix(), "abforge");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Default)]
pub struct ObjectStoreConfig {
    url: Option<String>,
    data_dir: Option<PathBuf>,
    s3: Vec<(String, String)>,
    retries: Option<(usize, Duration)>,
}

/// Retries of a failed S3 request, and the time after which none is tried, by default.
///
/// Fewer than object_store's (10 within 3 minutes): a readiness probe or an API request
/// should fail in seconds when the server is down, not minutes.
pub const DEFAULT_RETRIES: (usize, Duration) = (3, Duration::from_secs(15));

impl fmt::Debug for ObjectStoreConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Option values can be secrets: show their keys only.
        f.debug_struct("ObjectStoreConfig")
            .field("url", &self.url)
            .field("data_dir", &self.data_dir)
            .field("retries", &self.retries)
            .field(
                "s3_options",
                &self.s3.iter().map(|(k, _)| k).collect::<Vec<_>>(),
            )
            .finish()
    }
}

/// The backend a URL names.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Location {
    Memory,
    Local(PathBuf),
    S3 { bucket: String, prefix: String },
}

impl ObjectStoreConfig {
    /// The default: a local folder, `./abforge-data/objects`.
    pub fn new() -> Self {
        Self::default()
    }

    /// Reads `ABFORGE_OBJECT_STORE_URL`, `ABFORGE_DATA_DIR` and every `AWS_*` variable that
    /// object_store's S3 builder knows (`AWS_ENDPOINT_URL`, `AWS_REGION`,
    /// `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, `AWS_ALLOW_HTTP`,
    /// ...). Empty variables count as unset.
    pub fn from_env() -> Self {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        let mut cfg = Self::new();
        if let Some(url) = var(EnvVars::ABFORGE_OBJECT_STORE_URL) {
            cfg = cfg.with_url(url.trim());
        }
        if let Some(dir) = var(EnvVars::ABFORGE_DATA_DIR) {
            cfg = cfg.with_data_dir(dir);
        }
        let mut aws: Vec<(String, String)> = std::env::vars()
            .filter(|(k, v)| k.starts_with("AWS_") && !v.is_empty())
            .map(|(k, v)| (k.to_ascii_lowercase(), v))
            .filter(|(k, _)| super::s3::is_option(k))
            .collect();
        aws.sort();
        for (k, v) in aws {
            cfg = cfg.with_s3_option(k, v);
        }
        cfg
    }

    /// The store's URL: `s3://bucket/prefix`, `file:///path` or `memory://`.
    pub fn with_url(mut self, url: impl Into<String>) -> Self {
        self.url = Some(url.into());
        self
    }

    /// The data folder; without a URL the objects live in its `objects/` folder.
    pub fn with_data_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.data_dir = Some(dir.into());
        self
    }

    /// An S3 option by its object_store name (`aws_endpoint_url`, `aws_region`,
    /// `aws_access_key_id`, `aws_allow_http`, ...). Checked by [`build`](Self::build).
    pub fn with_s3_option(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        let key = key.into().to_ascii_lowercase();
        self.s3.retain(|(k, _)| *k != key);
        self.s3.push((key, value.into()));
        self
    }

    /// How often a failed S3 request is retried, and for how long at most
    /// (default [`DEFAULT_RETRIES`]; `0` retries none).
    pub fn with_retries(mut self, max_retries: usize, timeout: Duration) -> Self {
        self.retries = Some((max_retries, timeout));
        self
    }

    /// The URL of the store this configuration opens (`file://` with the folder for the
    /// default). Contains no secret.
    ///
    /// # Errors
    /// [`Error::Config`] for a URL this crate cannot open.
    pub fn url(&self) -> Result<String> {
        Ok(describe(&self.location()?))
    }

    fn location(&self) -> Result<Location> {
        let Some(url) = &self.url else {
            let dir = self
                .data_dir
                .clone()
                .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR));
            return Ok(Location::Local(dir.join("objects")));
        };
        let url = url.trim();
        if let Some(rest) = url.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            if bucket.is_empty() {
                return Err(Error::Config(format!("{url:?} names no bucket")));
            }
            return Ok(Location::S3 {
                bucket: bucket.to_string(),
                prefix: prefix.trim_matches('/').to_string(),
            });
        }
        if let Some(path) = url.strip_prefix("file://") {
            if !path.starts_with('/') {
                return Err(Error::Config(format!(
                    "{url:?}: a file URL needs an absolute path, as in file:///srv/abforge"
                )));
            }
            return Ok(Location::Local(PathBuf::from(path)));
        }
        if url == "memory://" || url == "memory:" {
            return Ok(Location::Memory);
        }
        Err(Error::Config(format!(
            "{url:?} is not supported; expected s3://bucket/prefix, file:///path or memory://"
        )))
    }

    /// Opens the store. A local folder is created if missing; nothing else touches the
    /// backend (use [`Objects::check`] for that).
    ///
    /// # Errors
    /// [`Error::Config`] for a bad URL or an unknown S3 option, [`Error::CreateDir`],
    /// [`Error::Build`] when object_store rejects the S3 settings.
    pub fn build(self) -> Result<Objects> {
        let location = self.location()?;
        let url = describe(&location);
        let (store, prefix): (Arc<dyn ObjectStore>, String) = match location {
            Location::Memory => return Ok(Objects::memory_named(url)),
            Location::Local(dir) => {
                std::fs::create_dir_all(&dir).map_err(|source| Error::CreateDir {
                    path: dir.clone(),
                    source,
                })?;
                let fs = LocalFileSystem::new_with_prefix(&dir).map_err(|source| Error::Build {
                    url: url.clone(),
                    source: Box::new(source),
                })?;
                return Objects::local(Arc::new(fs), "", url);
            }
            Location::S3 { bucket, prefix } => {
                let retries = self.retries.unwrap_or(DEFAULT_RETRIES);
                (super::s3::build(&bucket, &self.s3, retries, &url)?, prefix)
            }
        };
        Objects::with_name(store, &prefix, url)
    }
}

fn describe(location: &Location) -> String {
    match location {
        Location::Memory => "memory://".into(),
        Location::Local(dir) => {
            let abs = std::path::absolute(dir).unwrap_or_else(|_| dir.clone());
            format!("file://{}", abs.display())
        }
        Location::S3 { bucket, prefix } if prefix.is_empty() => format!("s3://{bucket}"),
        Location::S3 { bucket, prefix } => format!("s3://{bucket}/{prefix}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn loc(url: &str) -> Result<Location> {
        ObjectStoreConfig::new().with_url(url).location()
    }

    #[test]
    fn urls_name_their_backend() {
        assert_eq!(loc("memory://").unwrap(), Location::Memory);
        assert_eq!(
            loc("file:///srv/abforge").unwrap(),
            Location::Local("/srv/abforge".into())
        );
        assert_eq!(
            loc("s3://b/p/q/").unwrap(),
            Location::S3 {
                bucket: "b".into(),
                prefix: "p/q".into()
            }
        );
        assert_eq!(
            loc("s3://b").unwrap(),
            Location::S3 {
                bucket: "b".into(),
                prefix: String::new()
            }
        );
        for bad in ["s3://", "s3:///p", "gs://b", "file://rel", "/plain/path"] {
            assert!(matches!(loc(bad), Err(Error::Config(_))), "{bad}");
        }
    }

    #[test]
    fn the_default_is_the_data_dir_objects_folder() {
        let l = ObjectStoreConfig::new().location().unwrap();
        assert_eq!(l, Location::Local(PathBuf::from("./abforge-data/objects")));
        let l = ObjectStoreConfig::new()
            .with_data_dir("/d")
            .location()
            .unwrap();
        assert_eq!(l, Location::Local(PathBuf::from("/d/objects")));
    }

    #[test]
    fn debug_hides_option_values() {
        let c = ObjectStoreConfig::new().with_s3_option("aws_secret_access_key", "hunter2");
        let d = format!("{c:?}");
        assert!(
            d.contains("aws_secret_access_key") && !d.contains("hunter2"),
            "{d}"
        );
    }

    #[test]
    fn unknown_s3_options_are_refused() {
        let e = ObjectStoreConfig::new()
            .with_url("s3://b")
            .with_s3_option("aws_no_such_thing", "1")
            .build()
            .unwrap_err();
        assert!(e.to_string().contains("aws_no_such_thing"), "{e}");
    }
}
