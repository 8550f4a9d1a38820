//! Extractors: bearer-token access, and the ids in the path.

use crate::config::AppState;
use crate::error::{AppError, Detail};
use crate::input::parse_id;
use axum::extract::{FromRequestParts, Path};
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};

/// The `Bearer` token of the `Authorization` header, if any.
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// Passes when writes are open or the request carries the token; 401 otherwise.
#[derive(Debug, Clone, Copy)]
pub(crate) struct WriteAccess;

impl FromRequestParts<AppState> for WriteAccess {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        if state.token_matches(bearer(&parts.headers)) {
            Ok(Self)
        } else {
            Err(AppError::Unauthorized)
        }
    }
}

/// Passes when reads are open or the request carries the token; 401 otherwise.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ReadAccess;

impl FromRequestParts<AppState> for ReadAccess {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        if !state.config().read_token_required || state.token_matches(bearer(&parts.headers)) {
            Ok(Self)
        } else {
            Err(AppError::Unauthorized)
        }
    }
}

/// The named path parameters, percent-decoded and each checked by [`parse_id`].
async fn ids(parts: &mut Parts, state: &AppState, names: &[&str]) -> Result<Vec<String>, AppError> {
    let Path(params) = Path::<Vec<(String, String)>>::from_request_parts(parts, state)
        .await
        .map_err(|rejection| AppError::BadRequest {
            error: "invalid path parameters".into(),
            details: vec![Detail::new("", rejection.body_text())],
        })?;
    let mut out = Vec::with_capacity(names.len());
    let mut details = Vec::new();
    for name in names {
        let value = params
            .iter()
            .find(|(k, _)| k == name)
            .map_or("", |(_, v)| v.as_str());
        match parse_id(value) {
            Ok(v) => out.push(v.to_string()),
            Err(message) => details.push(Detail::new(*name, message)),
        }
    }
    if details.is_empty() {
        Ok(out)
    } else {
        Err(AppError::BadRequest {
            error: "invalid id in the path".into(),
            details,
        })
    }
}

/// `{experiment_id}` of the path.
#[derive(Debug, Clone)]
pub(crate) struct ExperimentPath(pub String);

impl FromRequestParts<AppState> for ExperimentPath {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let mut v = ids(parts, state, &["experiment_id"]).await?;
        Ok(Self(v.remove(0)))
    }
}

/// `{experiment_id}` and `{run_id}` of the path.
#[derive(Debug, Clone)]
pub(crate) struct RunPath {
    pub experiment_id: String,
    pub run_id: String,
}

impl FromRequestParts<AppState> for RunPath {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let mut v = ids(parts, state, &["experiment_id", "run_id"]).await?;
        let run_id = v.remove(1);
        let experiment_id = v.remove(0);
        Ok(Self {
            experiment_id,
            run_id,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::AUTHORIZATION, HeaderValue::from_str(v).unwrap());
        h
    }

    #[test]
    fn bearer_tokens_are_read_case_insensitively() {
        assert_eq!(bearer(&headers("Bearer abc")), Some("abc"));
        assert_eq!(bearer(&headers("bearer  abc ")), Some("abc"));
        assert_eq!(bearer(&headers("Basic abc")), None);
        assert_eq!(bearer(&headers("Bearer")), None);
        assert_eq!(bearer(&HeaderMap::new()), None);
    }
}
