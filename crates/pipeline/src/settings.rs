//! Where the pipeline keeps things and how hard it retries: each setting resolves
//! flag → environment variable → `abforge.toml` → default.
//!
//! | setting | flag | variable | `abforge.toml` | default |
//! |---|---|---|---|---|
//! | data folder | `--data-dir` | `ABFORGE_DATA_DIR` | `data_dir` | `./abforge-data` |
//! | relational store | `--database-url` | `ABFORGE_DATABASE_URL` | `database_url` | `sqlite://<data>/abforge.sqlite` |
//! | run log | `--run-log-url` | `ABFORGE_RUN_LOG_URL` | `run_log_url` | `sqlite://<data>/abforge.sqlite` (the same file) |
//! | object store | `--object-store-url` | `ABFORGE_OBJECT_STORE_URL` | `object_store_url` | `<data>/objects` |
//! | params API | `--api-url` | `ABFORGE_API_URL` | `api_url` | an in-process API on a loopback port |
//! | API token | — | `ABFORGE_API_TOKEN` | `api_token` | none |
//! | blueprint | `--blueprint` | `ABFORGE_BLUEPRINT` | `blueprint` | `examples/seed.toml` |
//! | attempts per step | `--attempts` | `ABFORGE_RETRY_ATTEMPTS` | `retry.attempts` | 4 |
//! | first retry delay | — | `ABFORGE_RETRY_DELAY_MS` | `retry.delay_ms` | 500 |
//! | largest quarantined share of a run's rows before silver fails | — | `ABFORGE_LAKE_QUARANTINE_MAX` | `lake.quarantine_max` | 0.001 (0.1 %) |
//! | a writer's lease on its run (see [`crate::lease`]) | — | `ABFORGE_RUN_LEASE_MS` | `run.lease_ms` | 60000 |
//! | how long a second writer of a run waits for it | — | `ABFORGE_RUN_WAIT_MS` | `run.wait_ms` | 0 (exit 2 at once) |
//!
//! The configuration file is `--config FILE`, else `ABFORGE_CONFIG`, else `./abforge.toml` when
//! it exists. Unknown keys in it are errors that name the allowed ones.

use crate::error::{Error, Result};
use abforge_env::{EnvVars, Given, Invalid};
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The default blueprint of `pipeline run`.
pub const DEFAULT_BLUEPRINT: &str = "examples/seed.toml";
/// The default data folder.
pub const DEFAULT_DATA_DIR: &str = "./abforge-data";
/// The configuration file read when it exists and no other is named.
pub const DEFAULT_CONFIG: &str = "abforge.toml";

/// Settings given on the command line (each overrides the rest).
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// `--config`.
    pub config: Option<PathBuf>,
    /// `--data-dir`.
    pub data_dir: Option<PathBuf>,
    /// `--database-url`.
    pub database_url: Option<String>,
    /// `--run-log-url`.
    pub run_log_url: Option<String>,
    /// `--object-store-url`.
    pub object_store_url: Option<String>,
    /// `--api-url`.
    pub api_url: Option<String>,
    /// `--blueprint`.
    pub blueprint: Option<PathBuf>,
    /// `--attempts`.
    pub attempts: Option<u32>,
}

/// How transient errors are retried: exponential backoff with full jitter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retry {
    /// Attempts per step in all (1: no retry).
    pub attempts: u32,
    /// The first delay; each next one doubles, up to [`Retry::max_delay`].
    pub delay: Duration,
    /// The longest delay.
    pub max_delay: Duration,
}

impl Default for Retry {
    fn default() -> Self {
        Self {
            attempts: 4,
            delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(10),
        }
    }
}

/// Resolved settings.
#[derive(Clone, PartialEq)]
pub struct Settings {
    /// The data folder.
    pub data_dir: PathBuf,
    /// The relational store's URL.
    pub database_url: String,
    /// The run log's URL.
    pub run_log_url: String,
    /// The object store's URL (`None`: the data folder's `objects/`).
    pub object_store_url: Option<String>,
    /// The params API (`None`: started in-process).
    pub api_url: Option<String>,
    /// The bearer token for the params API's writes.
    pub api_token: Option<String>,
    /// The blueprint file.
    pub blueprint: PathBuf,
    /// Retries of transient errors.
    pub retry: Retry,
    /// The silver quality gate: the largest share (0 to 1) of a run's rows that may break a
    /// rule and go to the quarantine before the silver step fails.
    pub quarantine_max: f64,
    /// The lease a writer holds on its run, and how long a second writer waits.
    pub lease: crate::LeaseSettings,
    /// The configuration file read, if any.
    pub config_file: Option<PathBuf>,
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("data_dir", &self.data_dir)
            .field("database_url", &redact(&self.database_url))
            .field("run_log_url", &redact(&self.run_log_url))
            .field(
                "object_store_url",
                &self.object_store_url.as_deref().map(redact),
            )
            .field("api_url", &self.api_url.as_deref().map(redact))
            .field("api_token", &self.api_token.as_ref().map(|_| "<redacted>"))
            .field("blueprint", &self.blueprint)
            .field("retry", &self.retry)
            .field("quarantine_max", &self.quarantine_max)
            .field("lease", &self.lease)
            .field("config_file", &self.config_file)
            .finish()
    }
}

/// The keys of `abforge.toml`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSettings {
    data_dir: Option<PathBuf>,
    database_url: Option<String>,
    run_log_url: Option<String>,
    object_store_url: Option<String>,
    api_url: Option<String>,
    api_token: Option<String>,
    blueprint: Option<PathBuf>,
    retry: Option<FileRetry>,
    lake: Option<FileLake>,
    run: Option<FileRun>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileRun {
    lease_ms: Option<u64>,
    wait_ms: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileLake {
    quarantine_max: Option<f64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileRetry {
    attempts: Option<u32>,
    delay_ms: Option<u64>,
    max_delay_ms: Option<u64>,
}

impl Settings {
    /// Resolves every setting from `flags`, the process environment, the configuration file
    /// and the defaults.
    ///
    /// # Errors
    /// [`Error::Invalid`] naming the setting whose value is not allowed and where it was
    /// given (an argument, a variable, the file); [`Error::Config`] for a file that cannot be
    /// read.
    pub fn resolve(flags: &Overrides) -> Result<Settings> {
        Self::resolve_with(flags, |k| std::env::var(k).ok())
    }

    /// As [`resolve`](Self::resolve), with the environment looked up by `env`.
    ///
    /// # Errors
    /// As [`resolve`](Self::resolve).
    pub fn resolve_with(
        flags: &Overrides,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Settings> {
        let env = |k: &str| {
            env(k)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let (file, config_file) = read_config(flags, &env)?;
        let src = Sources {
            env: &env,
            file: config_file.as_deref(),
        };
        let data_dir = flags
            .data_dir
            .clone()
            .or_else(|| env(EnvVars::ABFORGE_DATA_DIR).map(PathBuf::from))
            .or(file.data_dir)
            .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR));
        let (database_url, run_log_url) =
            resolve_store_urls(flags, &src, &data_dir, file.database_url, file.run_log_url)?;
        let object_store_url = flags
            .object_store_url
            .clone()
            .or_else(|| env(EnvVars::ABFORGE_OBJECT_STORE_URL))
            .or(file.object_store_url);
        let (api_url, api_token) = resolve_api(flags, &src, file.api_url, file.api_token)?;
        let blueprint = flags
            .blueprint
            .clone()
            .or_else(|| env(EnvVars::ABFORGE_BLUEPRINT).map(PathBuf::from))
            .or(file.blueprint)
            .unwrap_or_else(|| PathBuf::from(DEFAULT_BLUEPRINT));
        let retry = resolve_retry(flags, &src, file.retry.unwrap_or_default())?;
        let quarantine_max = resolve_quarantine_max(&src, file.lake)?;
        let lease = resolve_lease(&src, file.run.unwrap_or_default())?;
        Ok(Settings {
            data_dir,
            database_url,
            run_log_url,
            object_store_url,
            api_url,
            api_token,
            blueprint,
            retry,
            quarantine_max,
            lease,
            config_file,
        })
    }
}

/// Where settings other than flags come from: the environment and the configuration file.
struct Sources<'a, E> {
    env: &'a E,
    file: Option<&'a Path>,
}

impl<E: Fn(&str) -> Option<String>> Sources<'_, E> {
    /// The first of `flag`, variable `var` (parsed by `parse`) and the file's `file`, with
    /// where it was given.
    fn pick<T>(
        &self,
        flag: Option<T>,
        var: &'static str,
        parse: impl FnOnce(&str) -> Result<T, String>,
        file: Option<T>,
        field: &'static str,
    ) -> Result<Option<(T, Given)>> {
        if let Some(v) = flag {
            return Ok(Some((v, Given::Argument)));
        }
        if let Some(raw) = (self.env)(var) {
            let v = parse(&raw)
                .map_err(|m| Invalid::new(field, format!("{raw:?} is not allowed; {m}")))
                .map_err(|e| e.given(Given::Env(var)))?;
            return Ok(Some((v, Given::Env(var))));
        }
        Ok(file.map(|v| (v, self.file_given())))
    }

    /// The configuration file, as where a value was given.
    fn file_given(&self) -> Given {
        Given::File(self.file.map(Path::to_path_buf).unwrap_or_default())
    }
}

/// The text of a variable, as is.
fn text(v: &str) -> Result<String, String> {
    Ok(v.to_string())
}

/// The configuration file: `--config`, else `ABFORGE_CONFIG`, else [`DEFAULT_CONFIG`] when
/// it exists; its settings (none without one) and its path.
fn read_config(
    flags: &Overrides,
    env: &impl Fn(&str) -> Option<String>,
) -> Result<(FileSettings, Option<PathBuf>)> {
    Ok(match (&flags.config, env(EnvVars::ABFORGE_CONFIG)) {
        (Some(p), _) => (read_file(p)?, Some(p.clone())),
        (None, Some(p)) => (read_file(Path::new(&p))?, Some(PathBuf::from(p))),
        (None, None) if Path::new(DEFAULT_CONFIG).is_file() => (
            read_file(Path::new(DEFAULT_CONFIG))?,
            Some(PathBuf::from(DEFAULT_CONFIG)),
        ),
        (None, None) => (FileSettings::default(), None),
    })
}

/// The relational store's and the run log's URLs (by default the same SQLite file in
/// `data_dir`), their schemes checked; `file_database` and `file_run_log` are the file's.
fn resolve_store_urls<E: Fn(&str) -> Option<String>>(
    flags: &Overrides,
    src: &Sources<'_, E>,
    data_dir: &Path,
    file_database: Option<String>,
    file_run_log: Option<String>,
) -> Result<(String, String)> {
    let default_sqlite = format!("sqlite://{}", data_dir.join("abforge.sqlite").display());
    let url = |flag: &Option<String>, var, file, field, allowed: &[&str]| -> Result<String> {
        match src.pick(flag.clone(), var, text, file, field)? {
            Some((u, given)) => check_scheme(field, given, &u, allowed).map(|()| u),
            None => Ok(default_sqlite.clone()),
        }
    };
    let database_url = url(
        &flags.database_url,
        EnvVars::ABFORGE_DATABASE_URL,
        file_database,
        "database_url",
        &["sqlite", "postgres", "postgresql"],
    )?;
    let run_log_url = url(
        &flags.run_log_url,
        EnvVars::ABFORGE_RUN_LOG_URL,
        file_run_log,
        "run_log_url",
        &["sqlite", "dynamodb", "postgres", "postgresql"],
    )?;
    Ok((database_url, run_log_url))
}

/// The params API's URL (its scheme checked) and token (never sent over plain HTTP beyond
/// the loopback); `file_url` and `file_token` are the file's.
fn resolve_api<E: Fn(&str) -> Option<String>>(
    flags: &Overrides,
    src: &Sources<'_, E>,
    file_url: Option<String>,
    file_token: Option<String>,
) -> Result<(Option<String>, Option<String>)> {
    let api = src.pick(
        flags.api_url.clone(),
        EnvVars::ABFORGE_API_URL,
        text,
        file_url,
        "api_url",
    )?;
    let Some((url, given)) = api else {
        return Ok((None, (src.env)(EnvVars::ABFORGE_API_TOKEN).or(file_token)));
    };
    let url = url.trim_end_matches('/').to_string();
    check_scheme("api_url", given.clone(), &url, &["http", "https"])?;
    let api_token = (src.env)(EnvVars::ABFORGE_API_TOKEN).or(file_token);
    if api_token.is_some() {
        check_token_transport(&url, given)?;
    }
    Ok((Some(url), api_token))
}

/// How transient errors are retried: attempts, first and longest delay (`fr`: the file's
/// `[retry]`).
fn resolve_retry<E: Fn(&str) -> Option<String>>(
    flags: &Overrides,
    src: &Sources<'_, E>,
    fr: FileRetry,
) -> Result<Retry> {
    let mut retry = Retry::default();
    let whole = |v: &str| {
        v.parse::<u32>()
            .map_err(|_| "expected a whole number, 1 to 100".into())
    };
    let field = "retry.attempts";
    if let Some((a, given)) = src.pick(
        flags.attempts,
        EnvVars::ABFORGE_RETRY_ATTEMPTS,
        whole,
        fr.attempts,
        field,
    )? {
        if !(1..=100).contains(&a) {
            let m = format!("{a} is not allowed; expected 1 to 100");
            return Err(Invalid::new(field, m).given(given).into());
        }
        retry.attempts = a;
    }
    if let Some((ms, _)) = src.pick(
        None,
        EnvVars::ABFORGE_RETRY_DELAY_MS,
        millis,
        fr.delay_ms,
        "retry.delay_ms",
    )? {
        retry.delay = Duration::from_millis(ms);
    }
    if let Some(ms) = fr.max_delay_ms {
        retry.max_delay = Duration::from_millis(ms);
    }
    retry.max_delay = retry.max_delay.max(retry.delay);
    Ok(retry)
}

/// A whole number of milliseconds.
fn millis(v: &str) -> Result<u64, String> {
    v.parse()
        .map_err(|_| "expected a whole number of milliseconds".into())
}

/// The silver quality gate's largest quarantined share, from 0 to 1 (`lake`: the file's
/// `[lake]`).
fn resolve_quarantine_max<E: Fn(&str) -> Option<String>>(
    src: &Sources<'_, E>,
    lake: Option<FileLake>,
) -> Result<f64> {
    const ALLOWED: &str = "expected a share from 0 to 1, e.g. 0.001 for 0.1 %";
    let field = "lake.quarantine_max";
    let share = |v: &str| v.parse::<f64>().map_err(|_| ALLOWED.to_string());
    let picked = src.pick(
        None,
        EnvVars::ABFORGE_LAKE_QUARANTINE_MAX,
        share,
        lake.and_then(|l| l.quarantine_max),
        field,
    )?;
    let Some((q, given)) = picked else {
        return Ok(abforge_lake::DEFAULT_QUARANTINE_MAX);
    };
    if !(0.0..=1.0).contains(&q) {
        let m = format!("{q} is not allowed; {ALLOWED}");
        return Err(Invalid::new(field, m).given(given).into());
    }
    Ok(q)
}

/// A writer's lease on its run and how long a second writer waits (`fr`: the file's
/// `[run]`).
fn resolve_lease<E: Fn(&str) -> Option<String>>(
    src: &Sources<'_, E>,
    fr: FileRun,
) -> Result<crate::LeaseSettings> {
    let mut lease = crate::LeaseSettings::default();
    let field = "run.lease_ms";
    let picked = src.pick(
        None,
        EnvVars::ABFORGE_RUN_LEASE_MS,
        millis,
        fr.lease_ms,
        field,
    )?;
    if let Some((ms, given)) = picked {
        lease.lease = Duration::from_millis(ms);
        if !(Duration::from_millis(100)..=abforge_store::locks::MAX_LEASE).contains(&lease.lease) {
            let m = format!("{ms} is not allowed; expected 100 ms to 30 days");
            return Err(Invalid::new(field, m).given(given).into());
        }
    }
    let wait = src.pick(
        None,
        EnvVars::ABFORGE_RUN_WAIT_MS,
        millis,
        fr.wait_ms,
        "run.wait_ms",
    )?;
    if let Some((ms, _)) = wait {
        lease.wait = Duration::from_millis(ms);
    }
    lease.poll = (lease.lease / 10).clamp(Duration::from_millis(50), lease.poll);
    Ok(lease)
}

fn read_file(path: &Path) -> Result<FileSettings> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        Error::Config(format!(
            "cannot read the configuration {}: {e}",
            path.display()
        ))
    })?;
    toml::from_str(&text)
        .map_err(|e| Error::Config(format!("{}: {}", path.display(), e.to_string().trim_end())))
}

/// `url` (setting `field`, given by `given`) has one of the `allowed` schemes.
fn check_scheme(field: &'static str, given: Given, url: &str, allowed: &[&str]) -> Result<()> {
    let scheme = url.split_once("://").map(|(s, _)| s);
    if scheme.is_some_and(|s| allowed.contains(&s)) {
        return Ok(());
    }
    let allowed = allowed
        .iter()
        .map(|s| format!("{s}://…"))
        .collect::<Vec<_>>();
    let m = format!(
        "{:?} is not a URL this setting takes; expected one of {}",
        redact(url),
        allowed.join(", ")
    );
    Err(Invalid::new(field, m).given(given).into())
}

/// A URL with its passwords replaced by `***` ([`abforge_store::redact_url`], the one
/// redactor).
pub fn redact(url: &str) -> String {
    abforge_store::redact_url(url)
}

/// A token is sent over `https://`, or over `http://` to a loopback host only: anyone on
/// the path of a plain connection elsewhere could read it.
fn check_token_transport(api_url: &str, given: Given) -> Result<()> {
    let invalid = |m: String| Error::from(Invalid::new("api_url", m).given(given.clone()));
    let parsed =
        url::Url::parse(api_url).map_err(|e| invalid(format!("{:?}: {e}", redact(api_url))))?;
    let loopback = match parsed.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    };
    if parsed.scheme() == "http" && !loopback {
        return Err(invalid(format!(
            "{:?} is plain http to a host that is not loopback, and ABFORGE_API_TOKEN is set: \
             the token would cross the network unencrypted; use https://",
            redact(api_url)
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let m: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| m.get(k).cloned()
    }

    #[test]
    fn defaults_live_under_the_data_folder() {
        let s = Settings::resolve_with(&Overrides::default(), env(&[])).unwrap();
        assert_eq!(s.data_dir, PathBuf::from("./abforge-data"));
        assert_eq!(s.database_url, "sqlite://./abforge-data/abforge.sqlite");
        assert_eq!(s.run_log_url, s.database_url);
        assert_eq!(s.object_store_url, None);
        assert_eq!(s.api_url, None);
        assert_eq!(s.blueprint, PathBuf::from("examples/seed.toml"));
        assert_eq!(s.retry, Retry::default());
        assert_eq!(s.quarantine_max, 0.001);
    }

    #[test]
    fn flag_beats_environment_beats_file_beats_default() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("abforge.toml");
        std::fs::write(
            &file,
            "data_dir = \"/from/file\"\nrun_log_url = \"dynamodb://from-file\"\n\
             api_url = \"http://file:1/\"\n[retry]\nattempts = 7\n[lake]\nquarantine_max = 0.02\n",
        )
        .unwrap();
        let flags = Overrides {
            config: Some(file.clone()),
            database_url: Some("postgres://u:secret@flag/db".into()),
            ..Overrides::default()
        };
        let s = Settings::resolve_with(
            &flags,
            env(&[
                ("ABFORGE_DATABASE_URL", "postgres://env/db"),
                ("ABFORGE_RUN_LOG_URL", "sqlite:///env.sqlite"),
            ]),
        )
        .unwrap();
        assert_eq!(s.database_url, "postgres://u:secret@flag/db");
        assert_eq!(s.run_log_url, "sqlite:///env.sqlite");
        assert_eq!(s.data_dir, PathBuf::from("/from/file"));
        assert_eq!(s.api_url.as_deref(), Some("http://file:1"));
        assert_eq!(s.retry.attempts, 7);
        assert_eq!(s.quarantine_max, 0.02);
        assert_eq!(s.config_file, Some(file));
        assert!(!format!("{s:?}").contains("secret"));
    }

    #[test]
    fn unknown_keys_and_bad_urls_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("c.toml");
        std::fs::write(&file, "databse_url = \"x\"\n").unwrap();
        let flags = Overrides {
            config: Some(file),
            ..Overrides::default()
        };
        let e = Settings::resolve_with(&flags, env(&[]))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("databse_url") && e.contains("database_url"),
            "{e}"
        );

        let e = Settings::resolve_with(
            &Overrides::default(),
            env(&[("ABFORGE_RUN_LOG_URL", "mysql://x")]),
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("ABFORGE_RUN_LOG_URL") && e.contains("dynamodb://"),
            "{e}"
        );

        let e = Settings::resolve_with(
            &Overrides::default(),
            env(&[("ABFORGE_RETRY_ATTEMPTS", "many")]),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("ABFORGE_RETRY_ATTEMPTS"), "{e}");

        for bad in ["lots", "1.5", "-0.1"] {
            let e = Settings::resolve_with(
                &Overrides::default(),
                env(&[("ABFORGE_LAKE_QUARANTINE_MAX", bad)]),
            )
            .unwrap_err()
            .to_string();
            assert!(
                e.contains("quarantine_max") || e.contains("QUARANTINE_MAX"),
                "{e}"
            );
            assert!(e.contains("0.001"), "{e}");
        }

        let missing = Overrides {
            config: Some("/no/such/abforge.toml".into()),
            ..Overrides::default()
        };
        let e = Settings::resolve_with(&missing, env(&[]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("/no/such/abforge.toml"), "{e}");
    }

    #[test]
    fn errors_name_the_field_and_where_its_value_was_given() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("c.toml");
        std::fs::write(&file, "[retry]\nattempts = 0\n").unwrap();
        let mut flags = Overrides {
            config: Some(file.clone()),
            ..Overrides::default()
        };
        let invalid = |flags: &Overrides, vars: &[(&str, &str)]| {
            let e = Settings::resolve_with(flags, env(vars)).unwrap_err();
            assert!(e.is_usage(), "{e}");
            (e.invalid().cloned().expect("an Invalid"), e.to_string())
        };
        let (i, text) = invalid(&flags, &[]);
        assert_eq!(
            (i.field, &i.given),
            ("retry.attempts", &Given::File(file.clone()))
        );
        assert_eq!(
            text,
            format!(
                "{}: retry.attempts: 0 is not allowed; expected 1 to 100",
                file.display()
            )
        );
        // The variable overrides the file, and is named in its place.
        let (i, text) = invalid(&flags, &[("ABFORGE_RETRY_ATTEMPTS", "101")]);
        assert_eq!(i.given, Given::Env("ABFORGE_RETRY_ATTEMPTS"));
        assert_eq!(
            text,
            "ABFORGE_RETRY_ATTEMPTS: 101 is not allowed; expected 1 to 100"
        );
        // An argument overrides both, and is named by its field.
        flags.attempts = Some(0);
        let (i, text) = invalid(&flags, &[("ABFORGE_RETRY_ATTEMPTS", "3")]);
        assert_eq!(i.given, Given::Argument);
        assert_eq!(text, "retry.attempts: 0 is not allowed; expected 1 to 100");
        let (i, _) = invalid(&Overrides::default(), &[("ABFORGE_RUN_LEASE_MS", "5")]);
        assert_eq!(
            (i.field, i.given),
            ("run.lease_ms", Given::Env("ABFORGE_RUN_LEASE_MS"))
        );
    }

    #[test]
    fn a_token_is_never_sent_over_plain_http_beyond_loopback() {
        let with = |url: &str| {
            Settings::resolve_with(
                &Overrides::default(),
                env(&[("ABFORGE_API_URL", url), ("ABFORGE_API_TOKEN", "t0k")]),
            )
        };
        let e = with("http://api.example.com").unwrap_err().to_string();
        assert!(
            e.contains("https://") && e.contains("ABFORGE_API_TOKEN"),
            "{e}"
        );
        assert!(with("http://10.0.0.2:8080").is_err());
        for ok in [
            "https://api.example.com",
            "http://127.0.0.1:8080",
            "http://localhost:1",
            "http://[::1]:8080",
        ] {
            with(ok).unwrap_or_else(|e| panic!("{ok}: {e}"));
        }
        // Without a token, plain http anywhere is the user's choice.
        Settings::resolve_with(
            &Overrides::default(),
            env(&[("ABFORGE_API_URL", "http://api.example.com")]),
        )
        .unwrap();
    }

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            redact("postgres://me:pw@host:5432/db"),
            "postgres://me:***@host:5432/db"
        );
        assert_eq!(redact("sqlite:///a/b"), "sqlite:///a/b");
        assert_eq!(redact("postgres://me@host/db"), "postgres://me@host/db");
    }
}
