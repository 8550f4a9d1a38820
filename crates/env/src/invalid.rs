//! [`Invalid`]: an input that is not allowed, named by its field and by where it was given.

use std::fmt;
use std::path::PathBuf;

/// Where an input's value was given.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Given {
    /// By the caller: a function's argument, an option's field — a flag on the command line.
    Argument,
    /// By an environment variable.
    Env(&'static str),
    /// By a key of a configuration file.
    File(PathBuf),
}

/// An input that is not allowed: its field, where it was given, its value when the message
/// does not already show it, and what is wrong with it (with the allowed values).
///
/// Displayed as `field value: message` (`replications 0: must be at least 1`), or with the
/// variable (`ABFORGE_RETRY_ATTEMPTS: …`) or the file (`abforge.toml: retry.attempts: …`) in
/// place of the field when the value came from there. The CLI displays arguments as flags
/// (`--replications 0: …`) through [`Invalid::display_as`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    /// The field: an option's name (`group_column`) or a configuration key (`retry.attempts`).
    pub field: &'static str,
    /// Where the value was given.
    pub given: Given,
    /// The value, shown after the field; `None` when the message shows it.
    pub value: Option<String>,
    /// What is wrong, and what is allowed.
    pub message: String,
}

impl Invalid {
    /// An argument `field` that is not allowed, for `message`.
    pub fn new(field: &'static str, message: impl Into<String>) -> Self {
        Self {
            field,
            given: Given::Argument,
            value: None,
            message: message.into(),
        }
    }

    /// The same, with the value shown after the field.
    #[must_use]
    pub fn value(mut self, value: impl fmt::Display) -> Self {
        self.value = Some(value.to_string());
        self
    }

    /// The same, given by `given`.
    #[must_use]
    pub fn given(mut self, given: Given) -> Self {
        self.given = given;
        self
    }

    /// Displays the error with an argument named `name` (a flag, `--group-column`) rather
    /// than by its field; values given by a variable or a file display as ever.
    pub fn display_as<'a>(&'a self, name: &'a str) -> impl fmt::Display + 'a {
        Shown { e: self, name }
    }
}

struct Shown<'a> {
    e: &'a Invalid,
    name: &'a str,
}

impl fmt::Display for Shown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let e = self.e;
        match &e.given {
            Given::Argument => f.write_str(self.name)?,
            Given::Env(var) => f.write_str(var)?,
            Given::File(path) => write!(f, "{}: {}", path.display(), e.field)?,
        }
        if let Some(v) = &e.value {
            write!(f, " {v}")?;
        }
        write!(f, ": {}", e.message)
    }
}

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.display_as(self.field).fmt(f)
    }
}

impl std::error::Error for Invalid {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn displays_the_field_or_where_the_value_came_from() {
        let e = Invalid::new("replications", "must be at least 1").value(0);
        assert_eq!(e.to_string(), "replications 0: must be at least 1");
        assert_eq!(
            e.display_as("--replications").to_string(),
            "--replications 0: must be at least 1"
        );
        let env = Invalid::new("retry.attempts", "\"x\" is not allowed; expected 1 to 100")
            .given(Given::Env("ABFORGE_RETRY_ATTEMPTS"));
        assert_eq!(
            env.display_as("--attempts").to_string(),
            "ABFORGE_RETRY_ATTEMPTS: \"x\" is not allowed; expected 1 to 100"
        );
        let file = Invalid::new("retry.attempts", "0 is not allowed; expected 1 to 100")
            .given(Given::File("abforge.toml".into()));
        assert_eq!(
            file.display_as("--attempts").to_string(),
            "abforge.toml: retry.attempts: 0 is not allowed; expected 1 to 100"
        );
    }
}
