//! [`ApiConfig`] (tokens, limits) and [`AppState`] (the config and the object store).

use crate::error::{Error, Result};
use crate::hardening::AllowedHosts;
use crate::params::ParamsCache;
use abforge_env::EnvVars;
use abforge_store::{ObjectStoreConfig, Objects};
use sha2::{Digest, Sha256};
use std::fmt;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Default largest request body: 1 MiB.
pub const DEFAULT_BODY_LIMIT: usize = 1 << 20;
/// Default time a request may take.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// How the API behaves: who may write and read, and its limits.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiConfig {
    /// The bearer token writes need (`None`: writes are open).
    pub token: Option<String>,
    /// Whether reads under `/v1` need the token too (health, readiness and the OpenAPI
    /// document never do).
    pub read_token_required: bool,
    /// Time a request may take, reading its body included; past it the answer is 503.
    pub request_timeout: Duration,
    /// Largest request body in bytes; larger ones get 413.
    pub body_limit: usize,
    /// The hosts requests may name (`Host`); others get 421. Loopback names by default.
    pub allowed_hosts: AllowedHosts,
}

impl fmt::Debug for ApiConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiConfig")
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("read_token_required", &self.read_token_required)
            .field("request_timeout", &self.request_timeout)
            .field("body_limit", &self.body_limit)
            .field("allowed_hosts", &self.allowed_hosts)
            .finish()
    }
}

impl Default for ApiConfig {
    /// Open writes and reads, a 30 s timeout, a 1 MiB body limit, loopback hosts only.
    fn default() -> Self {
        Self {
            token: None,
            read_token_required: false,
            request_timeout: DEFAULT_TIMEOUT,
            body_limit: DEFAULT_BODY_LIMIT,
            allowed_hosts: AllowedHosts::default(),
        }
    }
}

impl ApiConfig {
    /// Reads `ABFORGE_API_TOKEN`, `ABFORGE_API_READ_TOKEN_REQUIRED`,
    /// `ABFORGE_API_TIMEOUT_SECS`, `ABFORGE_API_BODY_LIMIT` and `ABFORGE_API_ALLOWED_HOSTS`
    /// (host names besides the loopback ones, comma-separated; `*`: any); unset or empty
    /// variables keep the defaults.
    ///
    /// # Errors
    /// [`Error::Config`] naming the variable whose value is not allowed.
    pub fn from_env() -> Result<Self> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    /// As [`from_env`](Self::from_env), with the variables looked up by `var`.
    ///
    /// # Errors
    /// [`Error::Config`] naming the variable whose value is not allowed.
    pub fn from_lookup(var: impl Fn(&str) -> Option<String>) -> Result<Self> {
        let var = |k: &str| var(k).filter(|v| !v.trim().is_empty());
        let mut cfg = Self::default();
        if let Some(token) = var(EnvVars::ABFORGE_API_TOKEN) {
            cfg.token = Some(token);
        }
        if let Some(v) = var(EnvVars::ABFORGE_API_READ_TOKEN_REQUIRED) {
            cfg.read_token_required = match v.trim().to_ascii_lowercase().as_str() {
                "1" | "true" | "yes" | "on" => true,
                "0" | "false" | "no" | "off" => false,
                _ => {
                    return Err(config(
                        EnvVars::ABFORGE_API_READ_TOKEN_REQUIRED,
                        format!("{v:?} is not true or false"),
                    ));
                }
            };
        }
        if let Some(v) = var(EnvVars::ABFORGE_API_TIMEOUT_SECS) {
            let secs: f64 = v
                .trim()
                .parse()
                .ok()
                .filter(|s: &f64| (0.001..=86_400.0).contains(s))
                .ok_or_else(|| {
                    config(
                        EnvVars::ABFORGE_API_TIMEOUT_SECS,
                        format!("{v:?}: expected seconds, 0.001 to 86400"),
                    )
                })?;
            cfg.request_timeout = Duration::from_secs_f64(secs);
        }
        if let Some(v) = var(EnvVars::ABFORGE_API_BODY_LIMIT) {
            cfg.body_limit = v
                .trim()
                .parse()
                .ok()
                .filter(|n: &usize| (1..=1 << 30).contains(n))
                .ok_or_else(|| {
                    config(
                        EnvVars::ABFORGE_API_BODY_LIMIT,
                        format!("{v:?}: expected bytes, 1 to 1073741824"),
                    )
                })?;
        }
        if let Some(v) = var(EnvVars::ABFORGE_API_ALLOWED_HOSTS) {
            cfg.allowed_hosts = AllowedHosts::with(v.split(','));
        }
        cfg.validate()?;
        Ok(cfg)
    }

    /// Checks the settings hang together.
    ///
    /// # Errors
    /// [`Error::Config`]: a token with whitespace or control characters, or reads that
    /// need a token when there is none.
    pub fn validate(&self) -> Result<()> {
        if let Some(t) = &self.token
            && (t.is_empty()
                || t.bytes()
                    .any(|b| b.is_ascii_whitespace() || b.is_ascii_control()))
        {
            return Err(config(
                EnvVars::ABFORGE_API_TOKEN,
                "the token must be non-empty, without spaces or control characters".into(),
            ));
        }
        if self.read_token_required && self.token.is_none() {
            return Err(config(
                EnvVars::ABFORGE_API_READ_TOKEN_REQUIRED,
                format!(
                    "reads cannot need a token when {} is not set",
                    EnvVars::ABFORGE_API_TOKEN
                ),
            ));
        }
        Ok(())
    }
}

fn config(var: &'static str, message: String) -> Error {
    Error::Config { var, message }
}

/// What every handler shares: the configuration and the object store. Cheap to clone.
#[derive(Clone, Debug)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    config: ApiConfig,
    /// SHA-256 of the token: compared in constant time, whatever the length given.
    token_digest: Option<[u8; 32]>,
    objects: Objects,
    /// One permit per core: truth computations running at once (see [`AppState::cpu`]).
    cpu: Arc<Semaphore>,
    /// What the params routes remember between requests, checked by entity tag.
    params_cache: ParamsCache,
}

impl fmt::Debug for Inner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AppState")
            .field("config", &self.config)
            .field("objects", &self.objects)
            .finish_non_exhaustive()
    }
}

impl AppState {
    /// State from a configuration and an object store.
    ///
    /// # Errors
    /// [`Error::Config`] when [`ApiConfig::validate`] fails.
    pub fn new(config: ApiConfig, objects: Objects) -> Result<Self> {
        config.validate()?;
        let token_digest = config.token.as_deref().map(digest);
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        Ok(Self {
            inner: Arc::new(Inner {
                config,
                token_digest,
                objects,
                cpu: Arc::new(Semaphore::new(cores)),
                params_cache: ParamsCache::default(),
            }),
        })
    }

    /// State from the environment: [`ApiConfig::from_env`] and
    /// [`ObjectStoreConfig::from_env`]. Makes no backend call (readiness does).
    ///
    /// # Errors
    /// [`Error::Config`], or [`Error::Store`] when the store cannot be opened.
    pub async fn from_env() -> Result<Self> {
        let config = ApiConfig::from_env()?;
        let objects = ObjectStoreConfig::from_env().build()?;
        Self::new(config, objects)
    }

    /// The configuration.
    pub fn config(&self) -> &ApiConfig {
        &self.inner.config
    }

    /// The object store.
    pub fn objects(&self) -> &Objects {
        &self.inner.objects
    }

    /// The params routes' caches.
    pub(crate) fn params_cache(&self) -> &ParamsCache {
        &self.inner.params_cache
    }

    /// A permit to run CPU-bound work (a truth computation), one per core, so requests
    /// queue (and time out with 503) instead of piling up threads. Held by the blocking
    /// task until it ends; a request that times out cancels its computation (a
    /// [`Cancel`](abforge_synth::Cancel) set on drop), which then ends within one bounded
    /// step and gives the permit back.
    pub(crate) async fn cpu(&self) -> OwnedSemaphorePermit {
        Arc::clone(&self.inner.cpu)
            .acquire_owned()
            .await
            .expect("the semaphore is never closed")
    }

    /// CPU permits free now, of one per core (see the params PUT): for health checks and
    /// tests.
    pub fn idle_cpu_permits(&self) -> usize {
        self.inner.cpu.available_permits()
    }

    /// Whether `token` is the configured one (constant time); `true` when none is set.
    pub(crate) fn token_matches(&self, token: Option<&str>) -> bool {
        use subtle::ConstantTimeEq;
        match (&self.inner.token_digest, token) {
            (None, _) => true,
            (Some(_), None) => false,
            (Some(want), Some(got)) => want.ct_eq(&digest(got)).into(),
        }
    }
}

fn digest(s: &str) -> [u8; 32] {
    Sha256::digest(s.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup(pairs: &[(&str, &str)]) -> Result<ApiConfig> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        ApiConfig::from_lookup(move |k| {
            pairs
                .iter()
                .find(|(name, _)| name == k)
                .map(|(_, v)| v.clone())
        })
    }

    #[test]
    fn defaults_and_overrides() {
        assert_eq!(lookup(&[]).unwrap(), ApiConfig::default());
        let c = lookup(&[
            (EnvVars::ABFORGE_API_TOKEN, "s3cret"),
            (EnvVars::ABFORGE_API_READ_TOKEN_REQUIRED, "yes"),
            (EnvVars::ABFORGE_API_TIMEOUT_SECS, "2.5"),
            (EnvVars::ABFORGE_API_BODY_LIMIT, "2048"),
        ])
        .unwrap();
        assert_eq!(c.token.as_deref(), Some("s3cret"));
        assert!(c.read_token_required);
        assert_eq!(c.request_timeout, Duration::from_millis(2500));
        assert_eq!(c.body_limit, 2048);
        assert_eq!(
            lookup(&[(EnvVars::ABFORGE_API_TOKEN, "  ")]).unwrap().token,
            None
        );
    }

    #[test]
    fn bad_values_name_their_variable() {
        for (pairs, var) in [
            (
                vec![(EnvVars::ABFORGE_API_READ_TOKEN_REQUIRED, "maybe")],
                EnvVars::ABFORGE_API_READ_TOKEN_REQUIRED,
            ),
            (
                vec![(EnvVars::ABFORGE_API_READ_TOKEN_REQUIRED, "true")],
                EnvVars::ABFORGE_API_READ_TOKEN_REQUIRED,
            ),
            (
                vec![(EnvVars::ABFORGE_API_TIMEOUT_SECS, "0")],
                EnvVars::ABFORGE_API_TIMEOUT_SECS,
            ),
            (
                vec![(EnvVars::ABFORGE_API_TIMEOUT_SECS, "soon")],
                EnvVars::ABFORGE_API_TIMEOUT_SECS,
            ),
            (
                vec![(EnvVars::ABFORGE_API_BODY_LIMIT, "-1")],
                EnvVars::ABFORGE_API_BODY_LIMIT,
            ),
            (
                vec![(EnvVars::ABFORGE_API_TOKEN, "two words")],
                EnvVars::ABFORGE_API_TOKEN,
            ),
        ] {
            let e = lookup(&pairs).unwrap_err();
            assert!(e.to_string().starts_with(var), "{e}");
        }
    }

    #[test]
    fn debug_redacts_the_token() {
        let c = lookup(&[(EnvVars::ABFORGE_API_TOKEN, "s3cret")]).unwrap();
        let state = AppState::new(c, Objects::memory()).unwrap();
        let d = format!("{state:?}");
        assert!(!d.contains("s3cret") && d.contains("redacted"), "{d}");
    }

    #[test]
    fn tokens_match_exactly() {
        let c = lookup(&[(EnvVars::ABFORGE_API_TOKEN, "s3cret")]).unwrap();
        let state = AppState::new(c, Objects::memory()).unwrap();
        assert!(state.token_matches(Some("s3cret")));
        for bad in [
            None,
            Some(""),
            Some("s3cre"),
            Some("s3cret "),
            Some("S3CRET"),
        ] {
            assert!(!state.token_matches(bad), "{bad:?}");
        }
        let open = AppState::new(ApiConfig::default(), Objects::memory()).unwrap();
        assert!(open.token_matches(None));
    }
}
