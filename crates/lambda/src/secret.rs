//! The API's token, read from AWS Secrets Manager at cold start.

use aws_config::BehaviorVersion;

/// The string of secret `arn`, trimmed: the API's token.
///
/// # Errors
/// When Secrets Manager cannot be reached or refuses, or the secret has no string value.
pub async fn token_from_secret(
    arn: &str,
) -> Result<String, Box<dyn std::error::Error + Send + Sync>> {
    let config = aws_config::defaults(BehaviorVersion::latest())
        .http_client(http_client())
        .load()
        .await;
    let client = aws_sdk_secretsmanager::Client::new(&config);
    let out = client
        .get_secret_value()
        .secret_id(arn)
        .send()
        .await
        .map_err(|e| {
            format!(
                "reading the API token from {arn}: {}",
                aws_sdk_secretsmanager::error::DisplayErrorContext(&e)
            )
        })?;
    let token = out.secret_string().map(str::trim).unwrap_or_default();
    if token.is_empty() {
        return Err(format!("the secret {arn} holds no string (the API token)").into());
    }
    Ok(token.to_string())
}

/// hyper on rustls with `ring`, as abforge's other AWS clients (no aws-lc build).
fn http_client() -> aws_sdk_secretsmanager::config::SharedHttpClient {
    use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};
    aws_smithy_http_client::Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::Ring))
        .build_https()
}
