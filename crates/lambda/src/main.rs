//! `abforge-lambda`: the abforge HTTP API as an AWS Lambda function (the `bootstrap` of a
//! `provided.al2023` function). See crates/lambda/README.md.

use abforge_api::{ApiConfig, AppState};
use abforge_env::EnvVars;
use abforge_store::ObjectStoreConfig;
use lambda_http::Error;

#[tokio::main]
async fn main() -> Result<(), Error> {
    // Plain lines, or JSON ones when the function's log format is JSON (AWS_LAMBDA_LOG_FORMAT);
    // the level comes from AWS_LAMBDA_LOG_LEVEL, else RUST_LOG, else INFO.
    lambda_http::tracing::init_default_subscriber();
    let state = state().await.inspect_err(|error| {
        tracing::error!(%error, "cannot configure the API from the environment");
    })?;
    lambda_http::run(abforge_lambda::service(abforge_api::app(state))).await
}

/// The API's state from the environment; the token read from Secrets Manager (once, at cold
/// start) when `ABFORGE_API_TOKEN_SECRET_ARN` names its secret, so that it is never in the
/// function's configuration. Behind API Gateway any `Host` is served unless
/// `ABFORGE_API_ALLOWED_HOSTS` says otherwise (the gateway routes by host itself).
async fn state() -> Result<AppState, Error> {
    let secret = match std::env::var(EnvVars::ABFORGE_API_TOKEN_SECRET_ARN) {
        Ok(arn) if !arn.is_empty() => Some(abforge_lambda::token_from_secret(&arn).await?),
        _ => None,
    };
    let config = ApiConfig::from_lookup(|k| match k {
        EnvVars::ABFORGE_API_TOKEN if secret.is_some() => secret.clone(),
        EnvVars::ABFORGE_API_ALLOWED_HOSTS => std::env::var(k).ok().or_else(|| Some("*".into())),
        _ => std::env::var(k).ok(),
    })?;
    let objects = ObjectStoreConfig::from_env().build()?;
    Ok(AppState::new(config, objects)?)
}
