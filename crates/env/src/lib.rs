//! Names every crate shares: abforge's environment variables, declared once (as uv's
//! `EnvVars`), and [`Invalid`], the error of an input that is not allowed, named by its field.
//!
//! clap's `env = …`, the pipeline's settings, the object store, the API and the Lambda
//! function all name a variable through [`EnvVars`], and [`EnvVars::ALL`] lists them for the
//! docs' test. Libraries name what a caller passed by its field (`replications`,
//! `group_column`, `retry.attempts`); the CLI renders the flag it came from (`--replications`,
//! `--group-column`, `--attempts`), and a Python or HTTP caller sees the field.
#![deny(missing_docs)]

mod invalid;

pub use invalid::{Given, Invalid};

/// abforge's environment variables. Each constant's value is its name.
#[derive(Debug)]
#[non_exhaustive]
pub struct EnvVars;

/// Declares each variable as a constant whose value is its name, and [`EnvVars::ALL`].
macro_rules! env_vars {
    ($($(#[doc = $doc:literal])+ $name:ident,)*) => {
        impl EnvVars {
            $($(#[doc = $doc])+ pub const $name: &'static str = stringify!($name);)*

            /// Every variable, in the order declared.
            pub const ALL: &'static [&'static str] = &[$(Self::$name),*];
        }
    };
}

env_vars! {
    /// abforge's data folder (`./abforge-data` when unset); the local object store is its
    /// `objects/`, the embedded database its `abforge.sqlite`.
    ABFORGE_DATA_DIR,
    /// The object store: `s3://bucket/prefix`, `file:///path` or `memory://`.
    ABFORGE_OBJECT_STORE_URL,
    /// The relational store: `sqlite://…` or `postgres://…`.
    ABFORGE_DATABASE_URL,
    /// The run log: `sqlite://…`, `postgres://…` or `dynamodb://table`.
    ABFORGE_RUN_LOG_URL,
    /// The params API the pipeline publishes to (`http(s)://…`); in-process when unset.
    ABFORGE_API_URL,
    /// The bearer token writes need (reads too when so configured); unset or empty: none.
    ABFORGE_API_TOKEN,
    /// `true` makes the API's reads under `/v1` need the token as well.
    ABFORGE_API_READ_TOKEN_REQUIRED,
    /// Seconds a request to the API may take, body upload included.
    ABFORGE_API_TIMEOUT_SECS,
    /// The API's largest request body, in bytes.
    ABFORGE_API_BODY_LIMIT,
    /// Hosts the API answers for beyond the loopback names (comma-separated; `*`: any).
    ABFORGE_API_ALLOWED_HOSTS,
    /// The address `abforge serve` listens on.
    ABFORGE_API_ADDR,
    /// The Lambda function's token: the ARN (or name) of the Secrets Manager secret holding it.
    ABFORGE_API_TOKEN_SECRET_ARN,
    /// The pipeline's settings file (TOML).
    ABFORGE_CONFIG,
    /// The blueprint the pipeline runs.
    ABFORGE_BLUEPRINT,
    /// Attempts of a step before it fails (1 to 100).
    ABFORGE_RETRY_ATTEMPTS,
    /// The first delay between attempts, in milliseconds (doubling up to a cap).
    ABFORGE_RETRY_DELAY_MS,
    /// The largest share of a run's rows silver may quarantine before the run fails.
    ABFORGE_LAKE_QUARANTINE_MAX,
    /// How long a run's writer lease lasts without renewal, in milliseconds.
    ABFORGE_RUN_LEASE_MS,
    /// How long a run waits for another writer's lease, in milliseconds (0: not at all).
    ABFORGE_RUN_WAIT_MS,
    /// A test hook: `panic:<step>` makes that step panic.
    ABFORGE_FAULT_INJECT,
}

#[cfg(test)]
mod tests {
    use super::EnvVars;

    #[test]
    fn names_are_unique_and_abforge_prefixed() {
        let mut names: Vec<&str> = EnvVars::ALL.to_vec();
        assert_eq!(names.len(), 20);
        assert!(names.iter().all(|n| n.starts_with("ABFORGE_")));
        names.sort_unstable();
        let before = names.len();
        names.dedup();
        assert_eq!(names.len(), before, "a name is listed twice");
    }
}
