//! The lab's error type.

/// Why a calibration could not run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The blueprint (or a value swept into it) does not resolve.
    #[error(transparent)]
    Blueprint(#[from] abforge_synth::Error),
    /// An option is out of range or names something that does not exist; the message says
    /// what is allowed.
    #[error("{0}")]
    Usage(String),
    /// An option is out of range or names something that does not exist: the field of
    /// [`LabOptions`](crate::LabOptions) (or `sweep`) and what is allowed.
    #[error(transparent)]
    Invalid(#[from] abforge_env::Invalid),
    /// An external engine could not be started or did not speak the protocol
    /// (`docs/engine-protocol.md`).
    #[error("engine: {0}")]
    Engine(String),
    /// Writing the plot failed.
    #[error("plot {path}: {message}")]
    Plot {
        /// The SVG file.
        path: String,
        /// What went wrong.
        message: String,
    },
}

impl Error {
    /// Whether the error comes from the user's input (a bad option or blueprint) rather
    /// than the environment.
    pub fn is_user_error(&self) -> bool {
        match self {
            Error::Blueprint(e) => e.is_user_error(),
            Error::Usage(_) | Error::Invalid(_) => true,
            Error::Plot { .. } | Error::Engine(_) => false,
        }
    }

    /// The option that is not allowed, if that is the error.
    pub fn invalid(&self) -> Option<&abforge_env::Invalid> {
        match self {
            Error::Invalid(i) => Some(i),
            _ => None,
        }
    }
}

/// `Result` with the lab's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
