//! The one migration runner of the stores' SQL schemas, on SQLite and on PostgreSQL: what
//! both share (the [`Schema`] of a component and the migrations pending on it); each backend's
//! runner is `migrate` in its own module.
//!
//! Each component (the relational store, the run log) lists its migrations in order: version
//! `i + 1` is `migrations[i]`. Opening a store applies the pending ones in one transaction
//! and records each in `abforge_migrations(component, version, applied_at)`, shared by the
//! components; a schema newer than the code is refused, naming both versions. On
//! PostgreSQL the transaction first takes an advisory lock, so that processes opening the
//! same database at once apply each migration exactly once; on SQLite an immediate
//! transaction does the same.

use crate::{Error, Result};

/// A component's schema and its migrations.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Schema {
    /// Its name in `abforge_migrations.component`: `relational`, `runlog`.
    pub component: &'static str,
    /// What it is, in messages: `the relational store`, `the run log`.
    pub what: &'static str,
    /// The migrations, oldest first.
    pub migrations: &'static [&'static str],
}

impl Schema {
    /// The version this code writes.
    pub(crate) fn latest(&self) -> u32 {
        u32::try_from(self.migrations.len()).unwrap_or(u32::MAX)
    }

    /// The migrations to apply to a schema at `current`, each with the version it makes;
    /// an error when `current` is newer than this code (`place`: where, for the message).
    pub(crate) fn pending(&self, current: u32, place: &str) -> Result<Vec<(i32, &'static str)>> {
        if current > self.latest() {
            return Err(Error::Data(format!(
                "{}'s schema{place} is at version {current}, newer than this abforge knows \
                 ({}): upgrade abforge",
                self.what,
                self.latest()
            )));
        }
        Ok(self
            .migrations
            .iter()
            .enumerate()
            .skip(current as usize)
            .map(|(i, sql)| (i32::try_from(i + 1).unwrap_or(i32::MAX), *sql))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCHEMA: Schema = Schema {
        component: "test",
        what: "the test store",
        migrations: &["CREATE TABLE a (x INTEGER)", "CREATE TABLE b (y INTEGER)"],
    };

    #[test]
    fn pending_migrations_follow_the_stored_version() {
        let all: Vec<i32> = SCHEMA.pending(0, "").unwrap().iter().map(|p| p.0).collect();
        assert_eq!(all, [1, 2]);
        assert_eq!(SCHEMA.pending(1, "").unwrap(), [(2, SCHEMA.migrations[1])]);
        assert!(SCHEMA.pending(2, "").unwrap().is_empty());
    }

    #[test]
    fn a_newer_schema_is_refused_with_both_versions() {
        let e = SCHEMA.pending(3, " in x.sqlite").unwrap_err().to_string();
        assert!(
            e.contains("the test store's schema in x.sqlite is at version 3")
                && e.contains("knows (2)"),
            "{e}"
        );
    }
}
