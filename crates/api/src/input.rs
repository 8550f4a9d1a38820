//! What a request may carry: ids in the path and a resolved blueprint in the body.
//!
//! Both parsers are total: any string or byte sequence gives a value or a 4xx
//! [`AppError`], never a panic (the crate's property tests hold them to it).

use crate::error::{AppError, Detail};
use abforge_synth::{Blueprint, Cancel, Truth};
use serde::Serialize;
use sha2::{Digest, Sha256};

/// The pattern of experiment and run ids, as the OpenAPI document states it.
pub const ID_PATTERN: &str = "^[a-z0-9_-]{1,64}$";
/// Longest id.
pub const MAX_ID_LEN: usize = 64;

/// Checks an id (`[a-z0-9_-]{1,64}`), already percent-decoded.
///
/// Nothing else gets through: no `.`, `/`, `%`, upper case or non-ASCII, so an id is
/// always one plain segment of an object key.
///
/// # Errors
/// What is wrong, for the client.
pub fn parse_id(s: &str) -> Result<&str, String> {
    if s.is_empty() {
        return Err("must not be empty; expected 1 to 64 of a-z 0-9 _ -".into());
    }
    if s.len() > MAX_ID_LEN {
        return Err(format!(
            "is {} bytes long; expected 1 to 64 of a-z 0-9 _ -",
            s.len()
        ));
    }
    match s
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_' || *c == '-'))
    {
        Some(c) => Err(format!(
            "{s:?} contains {c:?}; expected 1 to 64 of a-z 0-9 _ -"
        )),
        None => Ok(s),
    }
}

/// The object key of a run's params: `params/<experiment_id>/<run_id>.json`.
pub fn params_key(experiment_id: &str, run_id: &str) -> String {
    format!("params/{experiment_id}/{run_id}.json")
}

/// The document stored for a run: what was sent, normalised, and its ground truth.
///
/// It holds no timestamp, so the same blueprint gives the same bytes and a repeated PUT
/// writes nothing (the time of the last write is the object's own, returned by GET as
/// `stored_at`).
#[derive(Debug, Clone, Serialize)]
pub struct StoredRun {
    /// The experiment: the path's id, which the blueprint's `id` must equal.
    pub experiment_id: String,
    /// The run.
    pub run_id: String,
    /// SHA-256 (hex) of the compact JSON of `blueprint`.
    pub blueprint_hash: String,
    /// The blueprint in canonical form: [`Blueprint::to_json_value`] of what was sent.
    pub blueprint: serde_json::Value,
    /// Its ground truth.
    pub truth: Truth,
}

/// Parses and checks a PUT body for a run, and computes its truth (CPU-bound: call it off
/// the async reactor).
///
/// The body must be a blueprint in its JSON form, valid by the blueprint's own rules,
/// with `id` equal to `experiment_id` and every `choose` already fixed (lifts are fine:
/// they are parameters, not draws).
///
/// # Errors
/// [`AppError::Unprocessable`] with one [`Detail`] per problem: invalid JSON (path `""`),
/// every validation problem of the blueprint (with its field path; at most 100, then a
/// count of the others), an `id` that is not the path's, each remaining `choose`, a truth
/// past its limits (`abforge_synth::truth`). [`AppError::Internal`] for anything else.
pub fn parse_run(experiment_id: &str, run_id: &str, body: &[u8]) -> Result<StoredRun, AppError> {
    parse_run_cancellable(experiment_id, run_id, body, &Cancel::new())
}

/// [`parse_run`], stopped soon after `cancel` is set ([`AppError::Unavailable`]): the truth
/// computation checks it between bounded steps.
///
/// # Errors
/// As [`parse_run`], and [`AppError::Unavailable`] when cancelled.
pub fn parse_run_cancellable(
    experiment_id: &str,
    run_id: &str,
    body: &[u8],
    cancel: &Cancel,
) -> Result<StoredRun, AppError> {
    let value: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| AppError::Unprocessable {
            error: "the body is not valid JSON".into(),
            details: vec![Detail::new("", format!("JSON syntax: {e}"))],
        })?;
    let bp = Blueprint::from_value(&value).map_err(synth_error)?;
    let mut details = Vec::new();
    if bp.id != experiment_id {
        details.push(Detail::new(
            "id",
            format!(
                "the blueprint's id {:?} is not the experiment id in the path, {experiment_id:?}",
                bp.id
            ),
        ));
    }
    let resolved = bp.resolve_cancellable(cancel).map_err(synth_error)?;
    for c in &resolved.choices {
        details.push(Detail::new(
            c.path.clone(),
            format!(
                "a choose or prior is not allowed here: the params of a run are a resolved \
                 blueprint, with one value (drawn from {})",
                c.source()
            ),
        ));
    }
    if !details.is_empty() {
        return Err(AppError::Unprocessable {
            error: "invalid blueprint".into(),
            details,
        });
    }
    let blueprint = bp.to_json_value();
    let canonical = serde_json::to_vec(&blueprint).map_err(AppError::internal)?;
    let blueprint_hash = hex(&Sha256::digest(&canonical));
    let truth = resolved.truth();
    Ok(StoredRun {
        experiment_id: experiment_id.to_string(),
        run_id: run_id.to_string(),
        blueprint_hash,
        blueprint,
        truth,
    })
}

fn synth_error(e: abforge_synth::Error) -> AppError {
    match e {
        abforge_synth::Error::Invalid(problems) => AppError::Unprocessable {
            error: "invalid blueprint".into(),
            details: problems
                .0
                .into_iter()
                .map(|p| Detail::new(p.path, p.message))
                .collect(),
        },
        abforge_synth::Error::Cancelled => {
            AppError::Unavailable("the request was cancelled (it timed out)".into())
        }
        e if e.is_user_error() => AppError::Unprocessable {
            error: "invalid blueprint".into(),
            details: vec![Detail::new("", e.to_string())],
        },
        e => AppError::internal(e),
    }
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::with_capacity(64), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_lowercase_ascii_words() {
        for ok in ["a", "exp-1", "run_2026_11_23", &"z".repeat(64)] {
            assert_eq!(parse_id(ok), Ok(ok));
        }
        for bad in [
            "",
            "..",
            ".",
            "a/b",
            "a%2Fb",
            "A",
            "é",
            "a b",
            "a\0",
            &"z".repeat(65),
        ] {
            assert!(parse_id(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn hex_is_lowercase_and_padded() {
        assert_eq!(hex(&[0, 15, 255]), "000fff");
    }
}
