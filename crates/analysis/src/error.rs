//! The error of reading and analysing an experiment's data.

/// Why data could not be read or analysed.
///
/// [`Error::Usage`] is the caller's fault (the input or the options are wrong: a group or a
/// column that is not there, a value that is not a finite number, too few observations, an
/// empty file …); the command line reports it with exit code 2. Every other variant is a
/// failure of the environment or of a library underneath (exit code 1).
///
/// Bad options and files are [`Error::Invalid`], naming the field of
/// [`Options`](crate::Options) or [`Columns`](crate::Columns) concerned (`input`,
/// `group_column`, `metrics` …); `abforge analyze` shows the flag it came from.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Bad input: the message says what is wrong and where.
    #[error("{0}")]
    Usage(String),
    /// Bad input in one field of the options (the file read is the field `input`).
    #[error(transparent)]
    Invalid(#[from] abforge_env::Invalid),
    /// Reading a file failed.
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// Decoding Parquet failed.
    #[error(transparent)]
    Parquet(#[from] parquet::errors::ParquetError),
    /// An Arrow operation (a cast, a column lookup) failed.
    #[error(transparent)]
    Arrow(#[from] arrow_schema::ArrowError),
    /// Reading CSV failed (an I/O error; malformed CSV is [`Error::Usage`]).
    #[error(transparent)]
    Csv(#[from] csv::Error),
    /// A statistic failed for another reason than bad input.
    #[error(transparent)]
    Stats(#[from] abforge_stats::Error),
    /// `source`, in the context of `context` (a file, a step). Its message is the context
    /// alone; the cause is [`std::error::Error::source`], so a chain printer such as
    /// `anyhow`'s `{:#}` shows `context: cause`.
    #[error("{context}")]
    Context {
        /// What was being done, or on what.
        context: String,
        /// The cause.
        #[source]
        source: Box<Error>,
    },
}

impl Error {
    /// Whether this is bad input ([`Error::Usage`]) rather than a failure.
    pub fn is_usage(&self) -> bool {
        match self {
            Error::Usage(_) | Error::Invalid(_) => true,
            Error::Context { source, .. } => source.is_usage(),
            _ => false,
        }
    }

    /// The field that is not allowed, if that is the error.
    pub fn invalid(&self) -> Option<&abforge_env::Invalid> {
        match self {
            Error::Invalid(i) => Some(i),
            Error::Context { source, .. } => source.invalid(),
            _ => None,
        }
    }

    /// `self` in the context of `context`.
    pub(crate) fn context(self, context: impl Into<String>) -> Error {
        Error::Context {
            context: context.into(),
            source: Box::new(self),
        }
    }
}

/// The result of this crate's functions.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A [`Error::Usage`].
pub(crate) fn usage(msg: impl Into<String>) -> Error {
    Error::Usage(msg.into())
}

/// An [`Error::Invalid`]: the option `field` is not allowed.
pub(crate) fn invalid(field: &'static str, msg: impl Into<String>) -> Error {
    Error::Invalid(abforge_env::Invalid::new(field, msg))
}

/// An [`Error::Invalid`]: the option `field`'s `value` is not allowed.
pub(crate) fn invalid_value(
    field: &'static str,
    value: impl std::fmt::Display,
    msg: impl Into<String>,
) -> Error {
    Error::Invalid(abforge_env::Invalid::new(field, msg).value(value))
}

/// An [`Error::Invalid`]: the file read (the option `input`, at `file`) is not allowed.
pub(crate) fn bad_file(file: impl std::fmt::Display, msg: impl Into<String>) -> Error {
    invalid_value("input", file, msg)
}
