//! The URL redactor: no password — in the user-info or in `?password=`, percent-encoded or
//! (wrongly) raw with `/`, `?`, `#` or `@` in it — survives it (property test).

use abforge_store::redact_url;
use proptest::prelude::*;

/// A password: the letters K, X, Z and Q in upper case (nothing else in the strings below
/// has one, so any piece of the password that leaks with a letter in it is seen) and the
/// characters that cut URLs.
fn password() -> impl Strategy<Value = String> {
    "[KXZQ/?#@:%= ]{0,6}".prop_map(|middle| format!("Zq{middle}Qz"))
}

fn encoded(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

fn leaks(redacted: &str) -> bool {
    redacted.chars().any(|c| matches!(c, 'K' | 'X' | 'Z' | 'Q'))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn user_info_passwords_never_leak(
        pw in password(),
        raw in any::<bool>(),
        scheme in prop::sample::select(vec!["postgres", "postgresql", "http", "https", "s3"]),
        host in prop::sample::select(vec!["db", "127.0.0.1", "db.example.com:5432", "h1:1,h2:2"]),
        tail in prop::sample::select(vec!["", "/", "/db", "/db?sslmode=require", "/db#frag", "?a=b"]),
    ) {
        let pw = if raw { pw } else { encoded(&pw) };
        let url = format!("{scheme}://me:{pw}@{host}{tail}");
        let out = redact_url(&url);
        prop_assert!(!leaks(&out), "{url} -> {out}");
    }

    #[test]
    fn query_passwords_never_leak(
        pw in password(),
        raw in any::<bool>(),
        user in prop::sample::select(vec!["", "me@", "me:Zpw@"]),
        before in prop::sample::select(vec!["", "sslmode=verify-full&"]),
        after in prop::sample::select(vec!["", "&application_name=x"]),
        key in prop::sample::select(vec!["password", "PASSWORD"]),
    ) {
        let pw = if raw { pw } else { encoded(&pw) };
        let url = format!("postgres://{user}db:5432/x?{before}{key}={pw}{after}");
        let out = redact_url(&url);
        prop_assert!(!leaks(&out), "{url} -> {out}");
    }

    #[test]
    fn key_value_passwords_never_leak(pw in "[KXZQ/?#@:%= ']{1,8}") {
        let quoted = pw.replace('\\', "\\\\").replace('\'', "\\'");
        let s = format!("host=db port=5432 password='{quoted}' dbname=x");
        let out = redact_url(&s);
        prop_assert!(!leaks(&out), "{s} -> {out}");
    }
}

#[test]
fn urls_without_passwords_are_kept() {
    for url in [
        "postgres://me@db:5432/x?sslmode=verify-full",
        "sqlite:///tmp/a.sqlite",
        "s3://bucket/prefix",
        "dynamodb://table",
        "http://127.0.0.1:8080/",
    ] {
        assert_eq!(redact_url(url), url);
    }
}
