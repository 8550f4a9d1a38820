//! Pagination of the list routes: `limit` (1 to [`MAX_LIMIT`], [`DEFAULT_LIMIT`] when
//! absent) and an opaque `cursor` (what the previous page's `next` carried), over ids in
//! their sorted order. A page holds the ids after the cursor's, so a page is the same
//! whether ids were added before the cursor meanwhile; the next page's link goes in the
//! body (`next`) and in a `Link: <…>; rel="next"` header.

use crate::error::{AppError, Detail};
use crate::input::parse_id;
use axum::http::{HeaderValue, header};
use axum::response::Response;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// The page size when `limit` is absent.
pub const DEFAULT_LIMIT: usize = 100;
/// The largest `limit`.
pub const MAX_LIMIT: usize = 1000;

/// What a cursor carries before its id: a version, so that a later format can tell old
/// cursors apart.
const CURSOR_TAG: &str = "v1:";

/// A page asked for: how many ids, after which one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRequest {
    /// At most this many ids.
    pub limit: usize,
    /// Only ids after this one (decoded from the cursor).
    pub after: Option<String>,
}

impl Default for PageRequest {
    fn default() -> Self {
        Self {
            limit: DEFAULT_LIMIT,
            after: None,
        }
    }
}

/// One page of items and the cursor of the next, if there is more.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    /// The items of the page, in order.
    pub items: Vec<T>,
    /// The cursor of the next page; `None` on the last.
    pub next_cursor: Option<String>,
}

/// The value of `limit`: an integer from 1 to [`MAX_LIMIT`].
///
/// # Errors
/// What is wrong, with the allowed range.
pub fn parse_limit(v: &str) -> Result<usize, String> {
    match v.parse::<usize>() {
        Ok(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
        _ => Err(format!(
            "must be an integer from 1 to {MAX_LIMIT}, not {:?}",
            truncated(v)
        )),
    }
}

/// The id a `cursor` stands for.
///
/// # Errors
/// When it is not a cursor this service gave.
pub fn parse_cursor(v: &str) -> Result<String, String> {
    let bad = || {
        format!(
            "{:?} is not a cursor this service gave; use the `next` of a previous page",
            truncated(v)
        )
    };
    let bytes = URL_SAFE_NO_PAD.decode(v).map_err(|_| bad())?;
    let text = String::from_utf8(bytes).map_err(|_| bad())?;
    let id = text.strip_prefix(CURSOR_TAG).ok_or_else(bad)?;
    parse_id(id).map_err(|_| bad())?;
    Ok(id.to_string())
}

/// The cursor of the page after `last_id`.
pub fn cursor_after(last_id: &str) -> String {
    URL_SAFE_NO_PAD.encode(format!("{CURSOR_TAG}{last_id}"))
}

fn truncated(v: &str) -> &str {
    match v.char_indices().nth(64) {
        Some((i, _)) => &v[..i],
        None => v,
    }
}

impl PageRequest {
    /// Reads `limit` and `cursor` from a query string, which may hold nothing else.
    ///
    /// # Errors
    /// 400 naming each parameter that is unknown, repeated or malformed.
    pub fn from_query(raw: Option<&str>) -> Result<Self, AppError> {
        let mut page = Self::default();
        let mut details = Vec::new();
        let mut seen: Vec<String> = Vec::new();
        for (k, v) in form_urlencoded::parse(raw.unwrap_or("").as_bytes()) {
            if seen.iter().any(|s| *s == k) {
                details.push(Detail::new(k.as_ref(), "is given more than once"));
                continue;
            }
            seen.push(k.to_string());
            if let Err(message) = page.set(&k, &v) {
                details.push(Detail::new(k.as_ref(), message));
            }
        }
        if details.is_empty() {
            Ok(page)
        } else {
            Err(AppError::BadRequest {
                error: "invalid query parameters".into(),
                details,
            })
        }
    }

    /// Sets the parameter `k` to `v`.
    ///
    /// # Errors
    /// When `k` is neither `limit` nor `cursor`, or `v` is malformed.
    pub fn set(&mut self, k: &str, v: &str) -> Result<(), String> {
        match k {
            "limit" => self.limit = parse_limit(v)?,
            "cursor" => self.after = Some(parse_cursor(v)?),
            _ => return Err("is not a parameter of this route; it takes limit, cursor".into()),
        }
        Ok(())
    }

    /// The page of `items` (sorted by `id`, each id once) this request asks for.
    pub fn take<T>(&self, items: impl IntoIterator<Item = T>, id: impl Fn(&T) -> &str) -> Page<T> {
        let mut out: Vec<T> = items
            .into_iter()
            .filter(|t| self.after.as_deref().is_none_or(|a| id(t) > a))
            .take(self.limit + 1)
            .collect();
        let more = out.len() > self.limit;
        out.truncate(self.limit);
        let next_cursor = more.then(|| cursor_after(id(out.last().expect("limit ≥ 1"))));
        Page {
            items: out,
            next_cursor,
        }
    }

    /// The link to the page after this one at `cursor`, for a route at `path` whose other
    /// query parameters are `query` (`?…` or empty).
    pub fn next_link(&self, path: &str, query: &str, cursor: &str) -> String {
        let mut s = form_urlencoded::Serializer::new(String::new());
        s.append_pair("limit", &self.limit.to_string());
        s.append_pair("cursor", cursor);
        let sep = if query.is_empty() { "?" } else { "&" };
        format!("{path}{query}{sep}{}", s.finish())
    }
}

/// Adds `Link: <next>; rel="next"` to `response` when there is a next page.
pub fn link_next(mut response: Response, next: Option<&str>) -> Response {
    if let Some(v) = next.and_then(|n| HeaderValue::from_str(&format!("<{n}>; rel=\"next\"")).ok())
    {
        response.headers_mut().insert(header::LINK, v);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ids(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("id{i:04}")).collect()
    }

    #[test]
    fn limits_and_cursors_are_checked() {
        assert_eq!(parse_limit("1"), Ok(1));
        assert_eq!(parse_limit("1000"), Ok(1000));
        for bad in [
            "0",
            "1001",
            "-1",
            "ten",
            "",
            "1e3",
            "99999999999999999999999",
        ] {
            let e = parse_limit(bad).unwrap_err();
            assert!(e.contains("from 1 to 1000"), "{bad}: {e}");
        }
        assert_eq!(parse_cursor(&cursor_after("beta")), Ok("beta".into()));
        for bad in [
            "",
            "beta",
            "!!",
            &URL_SAFE_NO_PAD.encode("v2:beta"),
            &URL_SAFE_NO_PAD.encode("v1:../etc"),
            &URL_SAFE_NO_PAD.encode([0xff, 0xfe]),
        ] {
            let e = parse_cursor(bad).unwrap_err();
            assert!(e.contains("not a cursor this service gave"), "{bad}: {e}");
        }
    }

    #[test]
    fn queries_name_each_bad_parameter() {
        assert_eq!(
            PageRequest::from_query(None).unwrap(),
            PageRequest::default()
        );
        let p = PageRequest::from_query(Some("limit=5&cursor=djE6YQ")).unwrap();
        assert_eq!(
            p,
            PageRequest {
                limit: 5,
                after: Some("a".into())
            }
        );
        let AppError::BadRequest { details, .. } =
            PageRequest::from_query(Some("limit=0&color=red&limit=3&cursor=x")).unwrap_err()
        else {
            panic!("not a 400");
        };
        let paths: Vec<&str> = details.iter().map(|d| d.path.as_str()).collect();
        assert_eq!(paths, ["limit", "color", "limit", "cursor"]);
    }

    #[test]
    fn links_keep_the_other_parameters() {
        let p = PageRequest {
            limit: 2,
            after: None,
        };
        assert_eq!(
            p.next_link("/v1/results", "?metric=x", "abc"),
            "/v1/results?metric=x&limit=2&cursor=abc"
        );
        assert_eq!(
            p.next_link("/v1/experiments", "", "abc"),
            "/v1/experiments?limit=2&cursor=abc"
        );
    }

    proptest! {
        /// Following the cursors from the first page visits every id once, in order,
        /// whatever the limit.
        #[test]
        fn pages_cover_every_id_once(n in 0usize..60, limit in 1usize..15) {
            let all = ids(n);
            let mut seen = Vec::new();
            let mut req = PageRequest { limit, after: None };
            let mut pages = 0;
            loop {
                let page = req.take(all.iter(), |s| s.as_str());
                prop_assert!(page.items.len() <= limit);
                seen.extend(page.items.iter().map(|s| (*s).clone()));
                pages += 1;
                match page.next_cursor {
                    Some(c) => req.after = Some(parse_cursor(&c).unwrap()),
                    None => break,
                }
            }
            prop_assert_eq!(&seen, &all);
            prop_assert_eq!(pages, n.div_ceil(limit).max(1));
        }
    }
}
