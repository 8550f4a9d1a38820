//! `abforge-lambda`: the abforge HTTP API as an AWS Lambda function (the `bootstrap` of a
//! `provided.al2023` function). See crates/lambda/README.md.

use lambda_http::Error;

#[tokio::main]
async fn main() -> Result<(), Error> {
    // Plain lines, or JSON ones when the function's log format is JSON (AWS_LAMBDA_LOG_FORMAT);
    // the level comes from AWS_LAMBDA_LOG_LEVEL, else RUST_LOG, else INFO.
    lambda_http::tracing::init_default_subscriber();
    let state = abforge_api::AppState::from_env()
        .await
        .inspect_err(|error| {
            tracing::error!(%error, "cannot configure the API from the environment");
        })?;
    lambda_http::run(abforge_lambda::service(abforge_api::app(state))).await
}
