//! The one URL redactor: what every abforge crate prints, logs or stores of a URL.

use url::Url;

/// What replaces a password.
const MASK: &str = "***";

/// `url` with its passwords replaced by `***`: the one in the user-info
/// (`postgres://user:password@host`) and every `password=` query parameter; a fragment is
/// dropped. A `key=value` connection string (`host=h password=p`) has its `password` masked.
///
/// A well-formed URL is parsed with the `url` crate. One whose user-info holds a raw `/`,
/// `?` or `#` (so that an `@` lies past what a URL parser takes for the authority), or that
/// the parser refuses (a PostgreSQL URL with several hosts), is masked conservatively:
/// `password=` values up to the next `&`, then everything from the first `:` after the
/// scheme up to the last `@` — which may hide more than the password, never less.
///
/// ```
/// use abforge_store::redact_url;
/// assert_eq!(redact_url("postgres://me:p%40ss@db:5432/x"), "postgres://me:***@db:5432/x");
/// assert_eq!(redact_url("postgres://me:pa/ss@db/x"), "postgres://me:***@db/x");
/// assert_eq!(redact_url("postgres://db/x?password=s3&a=1"), "postgres://db/x?password=***&a=1");
/// assert_eq!(redact_url("host=db password='s 3'"), "host='db' password='***'");
/// ```
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://").filter(|(s, _)| is_scheme(s)) else {
        return redact_key_values(url);
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let userinfo_in_authority = rest.rfind('@').is_none_or(|at| at < authority_end);
    match Url::parse(url) {
        Ok(parsed) if userinfo_in_authority => redact_parsed(parsed),
        _ => redact_raw(scheme, rest),
    }
}

/// Whether `s` is a URL scheme (RFC 3986: a letter, then letters, digits, `+`, `-`, `.`).
fn is_scheme(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
}

/// A URL the parser read as the user meant it.
fn redact_parsed(mut url: Url) -> String {
    if url.password().is_some() {
        // Fails only for URLs that cannot have a user-info, which then had no password.
        let _ = url.set_password(Some(MASK));
    }
    if url.query_pairs().any(|(k, _)| is_password_key(&k)) {
        let pairs: Vec<(String, String)> = url
            .query_pairs()
            .map(|(k, v)| match is_password_key(&k) {
                true => (k.into_owned(), MASK.to_string()),
                false => (k.into_owned(), v.into_owned()),
            })
            .collect();
        url.query_pairs_mut().clear().extend_pairs(pairs);
    }
    url.set_fragment(None);
    // The parser writes `***` in the user-info as `***` (no escaping needed).
    url.to_string()
}

/// The conservative masking of a URL the parser would misread (see [`redact_url`]).
fn redact_raw(scheme: &str, rest: &str) -> String {
    let rest = mask_query_passwords(rest);
    if let Some(at) = rest.rfind('@')
        && let Some(colon) = rest[..at].find(':')
    {
        return format!("{scheme}://{}:{MASK}@{}", &rest[..colon], &rest[at + 1..]);
    }
    format!("{scheme}://{rest}")
}

/// Every `password=` value after a `?` or `&`, up to the next `&`, masked.
fn mask_query_passwords(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = find_password_param(rest) {
        let value_start = i + "password=".len();
        out.push_str(&rest[..value_start]);
        out.push_str(MASK);
        let value_len = rest[value_start..]
            .find('&')
            .unwrap_or(rest.len() - value_start);
        rest = &rest[value_start + value_len..];
    }
    out.push_str(rest);
    out
}

/// Where the next `password=` parameter (after `?` or `&`, any case) starts.
fn find_password_param(s: &str) -> Option<usize> {
    let lower = s.to_ascii_lowercase();
    let mut from = 0;
    while let Some(i) = lower[from..].find("password=") {
        let at = from + i;
        if at > 0 && matches!(lower.as_bytes()[at - 1], b'?' | b'&') {
            return Some(at);
        }
        from = at + 1;
    }
    None
}

fn is_password_key(key: &str) -> bool {
    key.eq_ignore_ascii_case("password")
}

/// A libpq `key=value` string with its password masked (anything else unchanged).
fn redact_key_values(s: &str) -> String {
    if !s.contains('=') {
        return s.to_string();
    }
    key_values(s)
        .into_iter()
        .map(|(k, v)| {
            let v = if is_password_key(&k) {
                MASK
            } else {
                v.as_str()
            };
            format!("{k}='{}'", v.replace('\\', "\\\\").replace('\'', "\\'"))
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The pairs of a libpq `key=value` connection string (values bare or single-quoted, with
/// backslash escapes).
pub(crate) fn key_values(s: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut chars = s.chars().peekable();
    loop {
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        let key: String =
            std::iter::from_fn(|| chars.next_if(|c| *c != '=' && !c.is_whitespace())).collect();
        if key.is_empty() {
            return out;
        }
        while chars.next_if(|c| c.is_whitespace() || *c == '=').is_some() {}
        let mut value = String::new();
        let quoted = chars.next_if_eq(&'\'').is_some();
        while let Some(c) = chars.next() {
            match c {
                '\\' => value.extend(chars.next()),
                '\'' if quoted => break,
                c if c.is_whitespace() && !quoted => break,
                c => value.push(c),
            }
        }
        out.push((key, value));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_masked() {
        for (url, want) in [
            (
                "postgres://u:secret@h:5432/db",
                "postgres://u:***@h:5432/db",
            ),
            ("postgres://u@h/db", "postgres://u@h/db"),
            (
                "postgresql://h/db?password=secret&sslmode=disable",
                "postgresql://h/db?password=***&sslmode=disable",
            ),
            ("postgres://u:p%40ss@h", "postgres://u:***@h"),
            ("postgres://u:p@ss@h/db", "postgres://u:***@h/db"),
            ("postgres://u:p/s?s#x@h/db", "postgres://u:***@h/db"),
            (
                "postgres://u:p@h1:1,h2:2/db",
                "postgres://u:***@h1:1,h2:2/db",
            ),
            (
                "postgres://h/db?password=a#b",
                "postgres://h/db?password=***",
            ),
            ("sqlite:///tmp/a.sqlite", "sqlite:///tmp/a.sqlite"),
            ("s3://bucket/prefix", "s3://bucket/prefix"),
            (
                "http://tok:en@127.0.0.1:8080/",
                "http://tok:***@127.0.0.1:8080/",
            ),
            ("host=h password=secret", "host='h' password='***'"),
            ("./abforge-data", "./abforge-data"),
            ("host=h password='a://b'", "host='h' password='***'"),
        ] {
            assert_eq!(redact_url(url), want, "{url}");
        }
    }
}
