//! The crate's error type and the validation problems a blueprint can have.

use std::fmt;

/// One thing wrong with a blueprint: where it is and what is allowed.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Problem {
    /// Dotted path of the offending field, e.g. `metrics.num_diff_items.control.lambda`
    /// (empty for the document as a whole).
    pub path: String,
    /// What is wrong, with the value found and what is allowed.
    pub message: String,
}

/// Most problems one validation reports; the others are counted in a last problem.
pub const MAX_PROBLEMS: usize = 100;
/// Longest [`Problem::message`], in bytes; a longer one is cut, ending in `…`.
pub const MAX_MESSAGE_LEN: usize = 500;
/// Longest [`Problem::path`], in bytes; a longer one is cut, ending in `…`.
pub const MAX_PATH_LEN: usize = 200;

impl Problem {
    /// A problem; the path and message are cut to [`MAX_PATH_LEN`] and [`MAX_MESSAGE_LEN`].
    pub(crate) fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            path: clip(path.into(), MAX_PATH_LEN),
            message: clip(message.into(), MAX_MESSAGE_LEN),
        }
    }
}

/// `s` cut to at most `max` bytes at a character boundary, ending in `…` when cut.
pub(crate) fn clip(mut s: String, max: usize) -> String {
    if s.len() > max {
        let mut end = max.saturating_sub('…'.len_utf8());
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
        s.push('…');
    }
    s
}

/// Problems as they are found: the first [`MAX_PROBLEMS`] kept, the others counted.
#[derive(Debug, Default)]
pub(crate) struct Tally {
    kept: Vec<Problem>,
    more: usize,
}

impl Tally {
    pub(crate) fn push(&mut self, p: Problem) {
        if self.kept.len() < MAX_PROBLEMS {
            self.kept.push(p);
        } else {
            self.more += 1;
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.kept.is_empty()
    }

    /// The problems kept, and one more saying how many others there were.
    pub(crate) fn into_problems(self) -> Problems {
        let mut out = self.kept;
        if self.more > 0 {
            let s = if self.more == 1 { "" } else { "s" };
            out.push(Problem::new(
                "",
                format!(
                    "and {} more problem{s}, not listed (at most {MAX_PROBLEMS} are)",
                    self.more
                ),
            ));
        }
        Problems(out)
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

/// The problems found in a blueprint, in document order: at most [`MAX_PROBLEMS`], then
/// one saying how many more there were.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problems(pub Vec<Problem>);

impl fmt::Display for Problems {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.0.len();
        write!(f, "{n} problem{}", if n == 1 { "" } else { "s" })?;
        for p in &self.0 {
            write!(f, "\n  - {p}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Problems {}

/// Errors of this crate.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The blueprint (or a value derived from it) is invalid.
    #[error("invalid blueprint: {0}")]
    Invalid(Problems),
    /// A request that does not fit the blueprint, e.g. a shard outside `0..N`.
    #[error("{0}")]
    Usage(String),
    /// A computation was stopped by its [`Cancel`](crate::Cancel) before it ended.
    #[error("cancelled")]
    Cancelled,
    /// Reading or writing a file failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// Arrow failed to build or convert a batch.
    #[error("arrow: {0}")]
    Arrow(#[from] arrow_schema::ArrowError),
    /// The Parquet writer failed.
    #[error("parquet: {0}")]
    Parquet(#[from] parquet::errors::ParquetError),
}

impl Error {
    /// Whether the error is the caller's (bad input) rather than the environment's.
    pub fn is_user_error(&self) -> bool {
        matches!(self, Error::Invalid(_) | Error::Usage(_))
    }

    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io {
            context: context.into(),
            source,
        }
    }
}

impl From<Problems> for Error {
    fn from(p: Problems) -> Self {
        Error::Invalid(p)
    }
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
