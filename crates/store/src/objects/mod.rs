//! The object store: whole documents under keys, on a local folder, in memory, or on S3.
//!
//! [`ObjectStoreConfig`] picks the backend from a URL; [`Objects`] is the handle: an
//! `Arc<dyn object_store::ObjectStore>` and a key prefix, cheap to clone. Keys are relative
//! paths (`params/<experiment>/<run>.json`) checked before any call: no empty segment, no
//! `.` or `..`, only `[A-Za-z0-9._=-]` in a segment, so a key can never leave the prefix.
//!
//! Every write is atomic: a reader sees the old document or the new one, never a part
//! (the local backend writes a temporary file and renames it; S3 and memory replace an
//! object whole). [`Objects::put_if_changed`] writes only when the content differs, and
//! says whether it created, replaced or left the object alone.

mod config;

pub use config::{DATA_DIR_VAR, DEFAULT_DATA_DIR, DEFAULT_RETRIES, ObjectStoreConfig, URL_VAR};

use crate::error::{Error, Result};
use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures_util::{StreamExt, TryStreamExt};
use object_store::path::Path;
use object_store::{ObjectMeta, ObjectStore, ObjectStoreExt, PutPayload};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::fmt;
use std::sync::Arc;

/// Local objects up to this size are read on the calling task (see [`Objects::get`]).
const INLINE_READ: u64 = 1 << 20;

/// Longest key accepted, in bytes (S3's limit).
pub const MAX_KEY_LEN: usize = 1024;

/// What [`Objects::put_if_changed`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PutOutcome {
    /// There was no object: it was written.
    Created,
    /// There was an object with other content: it was replaced.
    Replaced,
    /// The object already had exactly this content: nothing was written.
    Unchanged,
}

impl PutOutcome {
    /// Whether the store was written to.
    pub fn wrote(self) -> bool {
        self != PutOutcome::Unchanged
    }
}

/// What the store knows of an object, without its content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectInfo {
    /// The key, relative to the handle's prefix.
    pub key: String,
    /// Size in bytes.
    pub size: u64,
    /// When it was last written.
    pub last_modified: DateTime<Utc>,
    /// The backend's entity tag: it changes on every write (on S3, with the content).
    pub e_tag: Option<String>,
    /// The backend's version id, where versioning is on.
    pub version: Option<String>,
}

/// An object: its metadata and its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Object {
    /// Metadata.
    pub info: ObjectInfo,
    /// Content.
    pub bytes: Bytes,
}

/// A handle on an object store under a key prefix. Clones share the store.
///
/// ```
/// use abforge_store::objects::{Objects, PutOutcome};
/// use serde_json::json;
///
/// # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
/// let objects = Objects::memory();
/// let doc = json!({ "seed": 7 });
/// assert_eq!(objects.put_json_if_changed("params/e/r.json", &doc).await?, PutOutcome::Created);
/// assert_eq!(objects.put_json_if_changed("params/e/r.json", &doc).await?, PutOutcome::Unchanged);
///
/// let back: serde_json::Value = objects.get_json("params/e/r.json").await?.unwrap().0;
/// assert_eq!(back, doc);
/// assert_eq!(objects.list_dirs("params").await?, ["e"]);
/// assert_eq!(objects.list("params/e").await?[0].key, "params/e/r.json");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct Objects {
    store: Arc<dyn ObjectStore>,
    prefix: Option<Path>,
    name: Arc<str>,
}

impl fmt::Debug for Objects {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Objects")
            .field("store", &self.name)
            .finish_non_exhaustive()
    }
}

impl fmt::Display for Objects {
    /// The store's URL, e.g. `s3://bucket/prefix` (no secret).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

impl Objects {
    /// Wraps any object_store backend; keys are taken under `prefix` (`""` for none).
    ///
    /// # Errors
    /// [`Error::InvalidKey`] when the prefix is not a valid key.
    pub fn new(store: Arc<dyn ObjectStore>, prefix: &str) -> Result<Self> {
        let name = format!("{store}");
        Self::with_name(store, prefix, name)
    }

    pub(crate) fn with_name(
        store: Arc<dyn ObjectStore>,
        prefix: &str,
        name: impl Into<String>,
    ) -> Result<Self> {
        let prefix = prefix.trim_matches('/');
        let prefix = if prefix.is_empty() {
            None
        } else {
            Some(Path::parse(check_key(prefix)?).map_err(|_| invalid(prefix, "not a path"))?)
        };
        Ok(Self {
            store,
            prefix,
            name: Arc::from(name.into()),
        })
    }

    /// An empty in-memory store (tests, examples).
    pub fn memory() -> Self {
        Self::with_name(
            Arc::new(object_store::memory::InMemory::new()),
            "",
            "memory://",
        )
        .expect("the empty prefix is valid")
    }

    /// The same store under `prefix/` (a sub-folder of this handle's prefix).
    ///
    /// # Errors
    /// [`Error::InvalidKey`] when `prefix` is not a valid key.
    pub fn child(&self, prefix: &str) -> Result<Self> {
        let full = self.path(prefix)?;
        Ok(Self {
            store: Arc::clone(&self.store),
            name: Arc::from(if self.name.ends_with('/') {
                format!("{}{prefix}", self.name)
            } else {
                format!("{}/{prefix}", self.name)
            }),
            prefix: Some(full),
        })
    }

    /// The underlying object_store backend.
    pub fn store(&self) -> &Arc<dyn ObjectStore> {
        &self.store
    }

    /// The key prefix of this handle in the backend (`""` for none).
    pub fn prefix(&self) -> &str {
        self.prefix.as_ref().map_or("", Path::as_ref)
    }

    /// The full path of `key` in [`store`](Self::store), for callers that stream large
    /// objects with object_store's own readers and writers (e.g. Parquet).
    ///
    /// # Errors
    /// [`Error::InvalidKey`] for a key that is not a plain relative path.
    pub fn location(&self, key: &str) -> Result<Path> {
        self.path(key)
    }

    /// The full path of `key`.
    fn path(&self, key: &str) -> Result<Path> {
        let key = check_key(key)?;
        let full = match &self.prefix {
            Some(p) => format!("{p}/{key}"),
            None => key.to_string(),
        };
        Path::parse(&full).map_err(|_| invalid(key, "not a path"))
    }

    /// The path of a listing prefix (`""`: the whole handle).
    fn prefix_path(&self, prefix: &str) -> Result<Option<Path>> {
        let prefix = prefix.trim_end_matches('/');
        if prefix.is_empty() {
            Ok(self.prefix.clone())
        } else {
            self.path(prefix).map(Some)
        }
    }

    /// `location` relative to this handle's prefix.
    fn relative(&self, location: &Path) -> String {
        let loc = location.as_ref();
        match &self.prefix {
            Some(p) => loc
                .strip_prefix(p.as_ref())
                .and_then(|r| r.strip_prefix('/'))
                .unwrap_or(loc)
                .to_string(),
            None => loc.to_string(),
        }
    }

    fn info(&self, meta: ObjectMeta) -> ObjectInfo {
        ObjectInfo {
            key: self.relative(&meta.location),
            size: meta.size,
            last_modified: meta.last_modified,
            e_tag: meta.e_tag,
            version: meta.version,
        }
    }

    fn backend(&self, op: &'static str, key: &str, source: object_store::Error) -> Error {
        Error::Backend {
            store: self.name.to_string(),
            op,
            key: key.to_string(),
            source: Box::new(source),
        }
    }

    /// Writes `bytes` under `key` unless the object already holds exactly them.
    ///
    /// The write itself is atomic. Two writers of one key at once each write a whole
    /// document and the last one wins; both may report [`PutOutcome::Created`].
    ///
    /// # Errors
    /// [`Error::InvalidKey`], [`Error::Backend`].
    pub async fn put_if_changed(&self, key: &str, bytes: Bytes) -> Result<PutOutcome> {
        let path = self.path(key)?;
        let existing = match self.store.get(&path).await {
            Ok(r) => Some(r.bytes().await.map_err(|e| self.backend("get", key, e))?),
            Err(object_store::Error::NotFound { .. }) => None,
            Err(e) => return Err(self.backend("get", key, e)),
        };
        if existing.as_deref() == Some(&bytes[..]) {
            tracing::debug!(store = %self.name, key, "unchanged; not written");
            return Ok(PutOutcome::Unchanged);
        }
        self.store
            .put(&path, PutPayload::from(bytes))
            .await
            .map_err(|e| self.backend("put", key, e))?;
        let outcome = if existing.is_some() {
            PutOutcome::Replaced
        } else {
            PutOutcome::Created
        };
        tracing::debug!(store = %self.name, key, ?outcome, "written");
        Ok(outcome)
    }

    /// Writes `value` as pretty JSON (with a final newline) under `key`, unless the object
    /// already holds exactly that document. Serialisation is deterministic, so the same
    /// value twice is [`PutOutcome::Unchanged`] the second time.
    ///
    /// # Errors
    /// [`Error::Json`] when `value` cannot be serialised, and those of
    /// [`put_if_changed`](Self::put_if_changed).
    pub async fn put_json_if_changed<T: Serialize + ?Sized>(
        &self,
        key: &str,
        value: &T,
    ) -> Result<PutOutcome> {
        let mut bytes = serde_json::to_vec_pretty(value).map_err(|source| Error::Json {
            store: self.name.to_string(),
            key: key.to_string(),
            source,
        })?;
        bytes.push(b'\n');
        self.put_if_changed(key, Bytes::from(bytes)).await
    }

    /// The object under `key`, or `None`.
    ///
    /// # Errors
    /// [`Error::InvalidKey`], [`Error::Backend`].
    pub async fn get(&self, key: &str) -> Result<Option<Object>> {
        let path = self.path(key)?;
        let r = match self.store.get(&path).await {
            Ok(r) => r,
            Err(object_store::Error::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(self.backend("get", key, e)),
        };
        let meta = r.meta.clone();
        let bytes = match r.payload {
            // A local file, already opened on the blocking pool: read it here rather than hop
            // to the pool a second time. The objects kept here are small documents (the
            // API caps them at its body limit), read from the page cache in microseconds;
            // under load the second hop was most of a GET's cost (measured with perf).
            object_store::GetResultPayload::File(mut file, _)
                if r.range.end - r.range.start <= INLINE_READ =>
            {
                use std::io::{Read, Seek, SeekFrom};
                let len = usize::try_from(r.range.end - r.range.start).unwrap_or(usize::MAX);
                let mut buf = Vec::with_capacity(len);
                file.seek(SeekFrom::Start(r.range.start))
                    .and_then(|_| file.take(len as u64).read_to_end(&mut buf))
                    .map_err(|e| {
                        self.backend(
                            "get",
                            key,
                            object_store::Error::Generic {
                                store: "LocalFileSystem",
                                source: Box::new(e),
                            },
                        )
                    })?;
                Bytes::from(buf)
            }
            payload => object_store::GetResult { payload, ..r }
                .bytes()
                .await
                .map_err(|e| self.backend("get", key, e))?,
        };
        Ok(Some(Object {
            info: self.info(meta),
            bytes,
        }))
    }

    /// The JSON document under `key`, decoded, with its metadata; or `None`.
    ///
    /// # Errors
    /// [`Error::Json`] when the object is not a `T`, and those of [`get`](Self::get).
    pub async fn get_json<T: DeserializeOwned>(
        &self,
        key: &str,
    ) -> Result<Option<(T, ObjectInfo)>> {
        let Some(obj) = self.get(key).await? else {
            return Ok(None);
        };
        let value = serde_json::from_slice(&obj.bytes).map_err(|source| Error::Json {
            store: self.name.to_string(),
            key: key.to_string(),
            source,
        })?;
        Ok(Some((value, obj.info)))
    }

    /// The metadata of the object under `key`, or `None`.
    ///
    /// # Errors
    /// [`Error::InvalidKey`], [`Error::Backend`].
    pub async fn head(&self, key: &str) -> Result<Option<ObjectInfo>> {
        let path = self.path(key)?;
        match self.store.head(&path).await {
            Ok(meta) => Ok(Some(self.info(meta))),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(self.backend("head", key, e)),
        }
    }

    /// Every object under the folder `prefix` (`""` for all), sorted by key. A prefix is
    /// a whole folder: `params/a` does not list `params/ab/…`.
    ///
    /// # Errors
    /// [`Error::InvalidKey`], [`Error::Backend`].
    pub async fn list(&self, prefix: &str) -> Result<Vec<ObjectInfo>> {
        let path = self.prefix_path(prefix)?;
        let metas: Vec<ObjectMeta> = match self.store.list(path.as_ref()).try_collect().await {
            Ok(m) => m,
            Err(object_store::Error::NotFound { .. }) => Vec::new(),
            Err(e) => return Err(self.backend("list", prefix, e)),
        };
        let mut out: Vec<ObjectInfo> = metas.into_iter().map(|m| self.info(m)).collect();
        out.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(out)
    }

    /// Names of the folders directly under `prefix` (`""` for the top), sorted.
    ///
    /// # Errors
    /// [`Error::InvalidKey`], [`Error::Backend`].
    pub async fn list_dirs(&self, prefix: &str) -> Result<Vec<String>> {
        let path = self.prefix_path(prefix)?;
        let listing = match self.store.list_with_delimiter(path.as_ref()).await {
            Ok(l) => l,
            Err(object_store::Error::NotFound { .. }) => return Ok(Vec::new()),
            Err(e) => return Err(self.backend("list", prefix, e)),
        };
        let mut out: Vec<String> = listing
            .common_prefixes
            .iter()
            .filter_map(|p| p.filename().map(str::to_string))
            .collect();
        out.sort();
        Ok(out)
    }

    /// Removes the object under `key`; a missing object is not an error.
    ///
    /// # Errors
    /// [`Error::InvalidKey`], [`Error::Backend`].
    pub async fn delete(&self, key: &str) -> Result<()> {
        let path = self.path(key)?;
        match self.store.delete(&path).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(self.backend("delete", key, e)),
        }
    }

    /// Whether the backend answers: one listing call under the prefix (for readiness
    /// probes). On S3 this checks the endpoint, the credentials and the bucket.
    ///
    /// # Errors
    /// [`Error::Backend`] with what failed.
    pub async fn check(&self) -> Result<()> {
        let mut stream = self.store.list(self.prefix.as_ref());
        match stream.next().await {
            None | Some(Ok(_)) | Some(Err(object_store::Error::NotFound { .. })) => Ok(()),
            Some(Err(e)) => Err(self.backend("check", "", e)),
        }
    }
}

fn invalid(key: &str, reason: &'static str) -> Error {
    Error::InvalidKey {
        key: key.to_string(),
        reason,
    }
}

/// Checks that `key` is a plain relative path; returns it.
fn check_key(key: &str) -> Result<&str> {
    if key.is_empty() {
        return Err(invalid(key, "empty"));
    }
    if key.len() > MAX_KEY_LEN {
        return Err(invalid(key, "longer than 1024 bytes"));
    }
    for seg in key.split('/') {
        if seg.is_empty() {
            return Err(invalid(
                key,
                "an empty segment (a leading, trailing or double '/')",
            ));
        }
        if seg == "." || seg == ".." {
            return Err(invalid(key, "a '.' or '..' segment"));
        }
        if !seg
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'='))
        {
            return Err(invalid(
                key,
                "a character outside A-Z a-z 0-9 . _ - = in a segment",
            ));
        }
    }
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_plain_relative_paths() {
        for ok in ["a", "params/e-1/r_2.json", "date=2026-01-01/x"] {
            assert!(check_key(ok).is_ok(), "{ok}");
        }
        let long = "a".repeat(MAX_KEY_LEN + 1);
        for bad in [
            "", "/a", "a/", "a//b", "..", "../a", "a/../b", ".", "a\\b", "a b", "é", "a%2Fb",
            "a#1", &long,
        ] {
            assert!(check_key(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn children_nest_their_prefix() {
        let o = Objects::memory().child("x").unwrap().child("y/z").unwrap();
        assert_eq!(o.prefix(), "x/y/z");
        assert_eq!(o.to_string(), "memory://x/y/z");
        assert_eq!(o.path("k").unwrap().as_ref(), "x/y/z/k");
        assert!(Objects::memory().child("../x").is_err());
    }
}
