//! The error of reading and analysing an experiment's data.

/// Why data could not be read or analysed.
///
/// [`Error::Usage`] is the caller's fault (the input or the options are wrong: a group or a
/// column that is not there, a value that is not a finite number, too few observations, an
/// empty file …); the command line reports it with exit code 2. Every other variant is a
/// failure of the environment or of a library underneath (exit code 1).
///
/// The messages of [`Error::Usage`] name the command-line flag concerned (`--input`,
/// `--metric`, `--ratio` …) since `abforge analyze` prints them as they are; a caller
/// building [`Options`](crate::Options) and [`Columns`](crate::Columns) itself can read the
/// flag as the field of the same name.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Bad input: the message says what is wrong and where.
    #[error("{0}")]
    Usage(String),
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
            Error::Usage(_) => true,
            Error::Context { source, .. } => source.is_usage(),
            _ => false,
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
