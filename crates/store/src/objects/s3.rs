//! The object store in S3 or an S3-compatible server (cargo feature `s3`), with
//! object_store's `AmazonS3Builder`; without the feature an `s3://` URL is refused, naming it.

use crate::error::{Error, Result};
use object_store::ObjectStore;
use std::sync::Arc;
use std::time::Duration;

/// Whether `key` (lower case) is an S3 option object_store knows (`aws_region`, ...).
#[cfg(feature = "s3")]
pub(crate) fn is_option(key: &str) -> bool {
    key.parse::<object_store::aws::AmazonS3ConfigKey>().is_ok()
}

/// Without S3, no option is one.
#[cfg(not(feature = "s3"))]
pub(crate) fn is_option(_key: &str) -> bool {
    false
}

/// Opens `bucket` with the options (object_store's names) and the retries. An `http://`
/// endpoint turns on plain HTTP, and requests are path-style unless an option says
/// otherwise, so a local S3-compatible server works with just its endpoint.
#[cfg(feature = "s3")]
pub(crate) fn build(
    bucket: &str,
    options: &[(String, String)],
    (max_retries, retry_timeout): (usize, Duration),
    url: &str,
) -> Result<Arc<dyn ObjectStore>> {
    use object_store::RetryConfig;
    use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
    let mut b = AmazonS3Builder::new()
        .with_bucket_name(bucket)
        .with_retry(RetryConfig {
            max_retries,
            retry_timeout,
            ..RetryConfig::default()
        });
    for (k, v) in options {
        let key: AmazonS3ConfigKey = k
            .parse()
            .map_err(|_| Error::Config(format!("unknown S3 option {k:?}")))?;
        b = b.with_config(key, v);
    }
    let set = |k: &str| options.iter().any(|(key, _)| key == k);
    let endpoint = b
        .get_config_value(&AmazonS3ConfigKey::Endpoint)
        .unwrap_or_default();
    if endpoint.starts_with("http://") && !set("aws_allow_http") {
        b = b.with_allow_http(true);
    }
    if !set("aws_virtual_hosted_style_request") {
        b = b.with_virtual_hosted_style_request(false);
    }
    let s3 = b.build().map_err(|source| Error::Build {
        url: url.to_string(),
        source: Box::new(source),
    })?;
    Ok(Arc::new(s3))
}

/// Without S3: the error naming the feature.
#[cfg(not(feature = "s3"))]
pub(crate) fn build(
    _bucket: &str,
    _options: &[(String, String)],
    _retries: (usize, Duration),
    url: &str,
) -> Result<Arc<dyn ObjectStore>> {
    Err(crate::not_built("object store", url, "s3"))
}
