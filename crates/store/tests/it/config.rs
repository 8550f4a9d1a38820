//! Configuration from the environment, as `abforge serve` and the Lambda read it.

use abforge_store::ObjectStoreConfig;

#[test]
fn the_default_store_is_a_local_folder() {
    let url = ObjectStoreConfig::new().url().unwrap();
    assert!(
        url.starts_with("file:///") && url.ends_with("/abforge-data/objects"),
        "{url}"
    );
}

#[test]
fn bad_urls_are_configuration_errors() {
    let e = ObjectStoreConfig::new()
        .with_url("ftp://x")
        .build()
        .unwrap_err();
    assert!(matches!(e, abforge_store::Error::Config(_)), "{e}");
    assert!(e.to_string().contains("s3://bucket/prefix"), "{e}");
}
