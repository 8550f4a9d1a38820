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
mod s3;

pub use config::{DEFAULT_DATA_DIR, DEFAULT_RETRIES, ObjectStoreConfig};

use crate::error::{Error, Result};
use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures_util::{StreamExt, TryStreamExt};
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::{GetOptions, ObjectMeta, ObjectStore, ObjectStoreExt, PutPayload};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

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

/// What [`Objects::put_if_changed_tagged`] did, and the entity tag of the object now
/// stored (the one written, or the one found identical).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PutReport {
    /// Created, replaced or unchanged.
    pub outcome: PutOutcome,
    /// The stored object's entity tag, when the backend gives one.
    pub e_tag: Option<String>,
}

/// What [`Objects::get_if_none_match`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fetched {
    /// The object still has the entity tag given: its content was not read.
    NotModified,
    /// The object has another entity tag (or none): here it is.
    Object(Object),
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
    /// The backend's folder when it is a local one: small objects are then read and
    /// checked with plain file calls on the calling task (see [`Objects::get`]).
    local: Option<Arc<std::path::Path>>,
    /// Whether the backend gives every write a new entity tag, same content or not.
    tags_every_write: bool,
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
            local: None,
            tags_every_write: false,
        })
    }

    /// A local folder's handle, whose small objects are read without object_store's hop
    /// to the blocking pool.
    pub(crate) fn local(
        fs: Arc<LocalFileSystem>,
        prefix: &str,
        name: impl Into<String>,
    ) -> Result<Self> {
        // The folder exactly as object_store resolves it (canonical): the parent of a file's.
        let root = fs
            .path_to_filesystem(&Path::from("x"))
            .ok()
            .and_then(|f| f.parent().map(Arc::from));
        let mut objects = Self::with_name(fs as Arc<dyn ObjectStore>, prefix, name)?;
        objects.local = root;
        objects.tags_every_write = true;
        Ok(objects)
    }

    /// An empty in-memory store built by [`ObjectStoreConfig`] (`memory://`).
    pub(crate) fn memory_named(name: impl Into<String>) -> Self {
        let mut objects =
            Self::with_name(Arc::new(object_store::memory::InMemory::new()), "", name)
                .expect("the empty prefix is valid");
        objects.tags_every_write = true;
        objects
    }

    /// Whether every write gives the object a new entity tag, even with the same content
    /// (a local folder: inode, modification time and size; memory: a counter). Then an
    /// unchanged tag also means an unchanged modification time. Not so on S3, whose tag
    /// follows the content. Handles made by [`new`](Self::new) say `false`.
    pub fn tags_every_write(&self) -> bool {
        self.tags_every_write
    }

    /// An empty in-memory store (tests, examples).
    pub fn memory() -> Self {
        Self::memory_named("memory://")
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
            local: self.local.clone(),
            tags_every_write: self.tags_every_write,
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
        Ok(self.put_if_changed_tagged(key, bytes).await?.outcome)
    }

    /// As [`put_if_changed`](Self::put_if_changed), also giving the entity tag of the
    /// object now stored: the one written, or the one found with exactly these bytes. A
    /// later [`head`](Self::head) or [`get_if_none_match`](Self::get_if_none_match) with
    /// that tag tells whether the object is still the one this call left.
    ///
    /// # Errors
    /// [`Error::InvalidKey`], [`Error::Backend`].
    pub async fn put_if_changed_tagged(&self, key: &str, bytes: Bytes) -> Result<PutReport> {
        let path = self.path(key)?;
        let existing = self.get_path(key, &path, None).await?.map(|f| match f {
            Fetched::Object(o) => o,
            Fetched::NotModified => unreachable!("no entity tag was given"),
        });
        if let Some(o) = &existing
            && o.bytes == bytes
        {
            tracing::debug!(store = %self.name, key, "unchanged; not written");
            return Ok(PutReport {
                outcome: PutOutcome::Unchanged,
                e_tag: o.info.e_tag.clone(),
            });
        }
        let put = self
            .store
            .put(&path, PutPayload::from(bytes))
            .await
            .map_err(|e| self.backend("put", key, e))?;
        let outcome = if existing.is_some() {
            PutOutcome::Replaced
        } else {
            PutOutcome::Created
        };
        tracing::debug!(store = %self.name, key, ?outcome, "written");
        Ok(PutReport {
            outcome,
            e_tag: put.e_tag,
        })
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
        Ok(self.put_json_if_changed_tagged(key, value).await?.outcome)
    }

    /// As [`put_json_if_changed`](Self::put_json_if_changed), also giving the entity tag
    /// of the object now stored (see [`put_if_changed_tagged`](Self::put_if_changed_tagged)).
    ///
    /// # Errors
    /// Those of [`put_json_if_changed`](Self::put_json_if_changed).
    pub async fn put_json_if_changed_tagged<T: Serialize + ?Sized>(
        &self,
        key: &str,
        value: &T,
    ) -> Result<PutReport> {
        let mut bytes = serde_json::to_vec_pretty(value).map_err(|source| Error::Json {
            store: self.name.to_string(),
            key: key.to_string(),
            source,
        })?;
        bytes.push(b'\n');
        self.put_if_changed_tagged(key, Bytes::from(bytes)).await
    }

    /// The object under `key`, or `None`.
    ///
    /// On a local folder, an object up to 1 MiB is opened, checked and read with plain
    /// file calls on the calling task: the documents kept here are small and read from the
    /// page cache in microseconds, and object_store's hop to the blocking pool (and back)
    /// was most of a read's cost under load. Larger objects and other backends go through
    /// object_store.
    ///
    /// # Errors
    /// [`Error::InvalidKey`], [`Error::Backend`].
    pub async fn get(&self, key: &str) -> Result<Option<Object>> {
        let path = self.path(key)?;
        Ok(self.get_path(key, &path, None).await?.map(|f| match f {
            Fetched::Object(o) => o,
            Fetched::NotModified => unreachable!("no entity tag was given"),
        }))
    }

    /// The object under `key` unless it still has the entity tag `e_tag`
    /// ([`Fetched::NotModified`], its content unread); `None` when there is none.
    ///
    /// On a local folder the check is one `stat` of the file on the calling task (the tag
    /// is object_store's: inode, modification time and size); on S3 and in memory it is
    /// a conditional GET (`If-None-Match`).
    ///
    /// # Errors
    /// [`Error::InvalidKey`], [`Error::Backend`].
    pub async fn get_if_none_match(&self, key: &str, e_tag: &str) -> Result<Option<Fetched>> {
        let path = self.path(key)?;
        self.get_path(key, &path, Some(e_tag)).await
    }

    async fn get_path(
        &self,
        key: &str,
        path: &Path,
        if_none_match: Option<&str>,
    ) -> Result<Option<Fetched>> {
        match self.local_get(key, path, if_none_match)? {
            LocalGet::Missing => return Ok(None),
            LocalGet::Found(f) => return Ok(Some(f)),
            LocalGet::Fallback => {}
        }
        let options = GetOptions {
            if_none_match: if_none_match.map(str::to_string),
            ..GetOptions::default()
        };
        let r = match self.store.get_opts(path, options).await {
            Ok(r) => r,
            Err(object_store::Error::NotFound { .. }) => return Ok(None),
            Err(object_store::Error::NotModified { .. }) => {
                return Ok(Some(Fetched::NotModified));
            }
            Err(e) => return Err(self.backend("get", key, e)),
        };
        let meta = r.meta.clone();
        let bytes = match r.payload {
            // A local file already opened on the blocking pool (a large one, or a handle
            // built without its config): read here rather than hop to the pool again.
            object_store::GetResultPayload::File(mut file, _)
                if r.range.end - r.range.start <= INLINE_READ =>
            {
                use std::io::{Seek, SeekFrom};
                file.seek(SeekFrom::Start(r.range.start))
                    .and_then(|_| read_len(&mut file, r.range.end - r.range.start))
                    .map_err(|e| self.io_error("get", key, e))?
            }
            payload => object_store::GetResult { payload, ..r }
                .bytes()
                .await
                .map_err(|e| self.backend("get", key, e))?,
        };
        Ok(Some(Fetched::Object(Object {
            info: self.info(meta),
            bytes,
        })))
    }

    /// The file of `path` on a local folder. Keys are checked plain relative paths of
    /// `[A-Za-z0-9._=-]` segments, which object_store maps to the same names under its
    /// folder (nothing to percent-encode, never a staging file's `#n` name).
    fn local_file(&self, path: &Path) -> Option<std::path::PathBuf> {
        self.local.as_ref().map(|root| root.join(path.as_ref()))
    }

    /// A small object of a local folder, with plain file calls on this task.
    fn local_get(&self, key: &str, path: &Path, if_none_match: Option<&str>) -> Result<LocalGet> {
        let Some(file_path) = self.local_file(path) else {
            return Ok(LocalGet::Fallback);
        };
        if let Some(tag) = if_none_match {
            match std::fs::metadata(&file_path) {
                Ok(md) if md.is_dir() => return Ok(LocalGet::Missing),
                Ok(md) if local_e_tag(&md) == tag => {
                    return Ok(LocalGet::Found(Fetched::NotModified));
                }
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    return Ok(LocalGet::Missing);
                }
                Err(e) => return Err(self.io_error("get", key, e)),
            }
        }
        // Open, then stat and read the opened file: its metadata and content belong to
        // one object even when another writer renames a new one into place meanwhile.
        let mut file = match std::fs::File::open(&file_path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(LocalGet::Missing),
            Err(e) => return Err(self.io_error("get", key, e)),
        };
        let md = file.metadata().map_err(|e| self.io_error("get", key, e))?;
        if md.is_dir() {
            return Ok(LocalGet::Missing);
        }
        if md.len() > INLINE_READ {
            return Ok(LocalGet::Fallback);
        }
        let e_tag = local_e_tag(&md);
        if if_none_match == Some(e_tag.as_str()) {
            return Ok(LocalGet::Found(Fetched::NotModified));
        }
        let bytes = read_len(&mut file, md.len()).map_err(|e| self.io_error("get", key, e))?;
        let last_modified = md
            .modified()
            .map_err(|e| self.io_error("get", key, e))?
            .into();
        let meta = ObjectMeta {
            location: path.clone(),
            last_modified,
            size: md.len(),
            e_tag: Some(e_tag),
            version: None,
        };
        Ok(LocalGet::Found(Fetched::Object(Object {
            info: self.info(meta),
            bytes,
        })))
    }

    fn io_error(&self, op: &'static str, key: &str, e: std::io::Error) -> Error {
        self.backend(
            op,
            key,
            object_store::Error::Generic {
                store: "LocalFileSystem",
                source: Box::new(e),
            },
        )
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
        if let Some(file_path) = self.local_file(&path) {
            // One stat on this task, as object_store would do it on the blocking pool.
            return match std::fs::metadata(&file_path) {
                Ok(md) if md.is_dir() => Ok(None),
                Ok(md) => {
                    let last_modified = md
                        .modified()
                        .map_err(|e| self.io_error("head", key, e))?
                        .into();
                    Ok(Some(self.info(ObjectMeta {
                        location: path,
                        last_modified,
                        size: md.len(),
                        e_tag: Some(local_e_tag(&md)),
                        version: None,
                    })))
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(self.io_error("head", key, e)),
            };
        }
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

    /// Deletes the staging files a local folder's writes left when their process died
    /// (object_store writes `<key>#<n>` and renames it when the write completes; a process
    /// killed before that leaves it, invisible to listings but taking space) under `prefix`,
    /// when they were last written more than `older_than` ago: a write still going on keeps
    /// touching its file. Returns how many it deleted. Nothing to do on S3 (an unfinished
    /// multipart upload is no object; a bucket lifecycle rule aborts it) or in memory.
    ///
    /// # Errors
    /// [`Error::InvalidKey`] for a bad prefix; I/O errors other than a missing folder.
    pub async fn sweep_staging(&self, prefix: &str, older_than: Duration) -> Result<u64> {
        let location = self.path(prefix)?;
        let Some(dir) = self.local_file(&location) else {
            return Ok(0);
        };
        let generic =
            |source: Box<dyn std::error::Error + Send + Sync>| object_store::Error::Generic {
                store: "LocalFileSystem",
                source,
            };
        tokio::task::spawn_blocking(move || sweep_dir(&dir, older_than))
            .await
            .map_err(|e| self.backend("sweep staging files", prefix, generic(Box::new(e))))?
            .map_err(|e| self.backend("sweep staging files", prefix, generic(Box::new(e))))
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

/// What [`Objects::local_get`] found.
enum LocalGet {
    Missing,
    Found(Fetched),
    /// Not a local folder, or a large object: ask object_store.
    Fallback,
}

/// Reads `len` bytes (fewer at the end of the file) from where `file` is.
fn read_len(file: &mut std::fs::File, len: u64) -> std::io::Result<Bytes> {
    use std::io::Read;
    let mut buf = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
    file.take(len).read_to_end(&mut buf)?;
    Ok(Bytes::from(buf))
}

/// object_store's entity tag of a local file: inode, modification time (µs) and size, in
/// hex (`LocalFileSystem`'s own scheme, so the tags match whichever path read the file).
fn local_e_tag(md: &std::fs::Metadata) -> String {
    #[cfg(unix)]
    let inode = std::os::unix::fs::MetadataExt::ino(md);
    #[cfg(not(unix))]
    let inode = 0u64;
    let mtime = md
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::SystemTime::UNIX_EPOCH).ok())
        .unwrap_or_default()
        .as_micros();
    format!("{inode:x}-{mtime:x}-{:x}", md.len())
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

/// Whether a file name is one of object_store's local staging files: `<name>#<digits>`.
fn is_staging(name: &str) -> bool {
    name.rsplit_once('#')
        .is_some_and(|(_, n)| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// Deletes the staging files under `dir` last modified more than `older_than` ago.
fn sweep_dir(dir: &std::path::Path, older_than: Duration) -> std::io::Result<u64> {
    let mut deleted = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let entries = match std::fs::read_dir(&d) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        for entry in entries {
            let entry = entry?;
            let kind = entry.file_type()?;
            if kind.is_dir() {
                stack.push(entry.path());
                continue;
            }
            let stale = entry
                .metadata()?
                .modified()?
                .elapsed()
                .is_ok_and(|age| age >= older_than);
            if kind.is_file() && is_staging(&entry.file_name().to_string_lossy()) && stale {
                match std::fs::remove_file(entry.path()) {
                    Ok(()) => deleted += 1,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => return Err(e),
                }
            }
        }
    }
    Ok(deleted)
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

    #[tokio::test]
    async fn sweeping_deletes_only_stale_staging_files_under_the_prefix() {
        let dir = tempfile::tempdir().unwrap();
        let objects = crate::ObjectStoreConfig::new()
            .with_data_dir(dir.path())
            .build()
            .unwrap();
        objects
            .put_if_changed("runs/a/part.parquet", Bytes::from_static(b"x"))
            .await
            .unwrap();
        let folder = dir.path().join("objects/runs/a");
        for f in ["part.parquet#1", "part.parquet#2", "note#draft"] {
            std::fs::write(folder.join(f), b"partial").unwrap();
        }
        std::fs::create_dir_all(dir.path().join("objects/lake")).unwrap();
        std::fs::write(dir.path().join("objects/lake/t.parquet#1"), b"p").unwrap();
        // Fresh files are kept when the sweep asks for old ones.
        let hour = Duration::from_secs(3600);
        assert_eq!(objects.sweep_staging("runs", hour).await.unwrap(), 0);
        assert_eq!(
            objects.sweep_staging("runs", Duration::ZERO).await.unwrap(),
            2
        );
        let mut left: Vec<String> = std::fs::read_dir(&folder)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(left, ["note#draft", "part.parquet"]);
        assert!(
            dir.path().join("objects/lake/t.parquet#1").exists(),
            "another prefix"
        );
        assert_eq!(
            objects
                .sweep_staging("nothing/here", Duration::ZERO)
                .await
                .unwrap(),
            0
        );
        assert_eq!(
            Objects::memory()
                .sweep_staging("runs", Duration::ZERO)
                .await
                .unwrap(),
            0
        );
    }

    #[test]
    fn staging_files_are_told_by_their_digit_suffix() {
        assert!(super::is_staging("part-00000-of-00001.parquet#1"));
        assert!(super::is_staging("x#12"));
        assert!(!super::is_staging("x#"));
        assert!(!super::is_staging("x#a1"));
        assert!(!super::is_staging("part.parquet"));
    }
}
