//! The abforge HTTP API on AWS Lambda, behind API Gateway (REST API, payload 1.0, or HTTP API,
//! payload 2.0), a Lambda function URL or an Application Load Balancer.
//!
//! [`service`] wraps the API's router ([`abforge_api::app`]) so that it sees the same paths as
//! under `abforge serve`, whatever the stage:
//!
//! - `lambda_http` turns each event into an [`http::Request`](lambda_http::http::Request). For a
//!   named API Gateway stage (`prod`, not `$default`) its path starts with `/{stage}`: HTTP API
//!   events carry the stage in `rawPath` (`/prod/v1/experiments`), and for REST API events, whose
//!   `path` lacks it, `lambda_http` adds it. [`service`] strips that prefix again, so that
//!   `/prod/healthz` reaches `/healthz`. It leaves REST paths alone when `lambda_http` did not add
//!   the stage (the event's own path starts with it, or `AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH` is
//!   set), so either setting of that variable works.
//! - A request without an `x-request-id` header gets API Gateway's request id (or else the Lambda
//!   invocation's), so that the API's logs and its `x-request-id` response header name the same
//!   id as API Gateway's access logs.
//!
//! `main` (the `abforge-lambda` binary, the function's `bootstrap`) runs
//! `lambda_http::run(service(abforge_api::app(state)))`.

use lambda_http::http::{HeaderValue, Uri, uri::PathAndQuery};
pub use secret::token_from_secret;

mod secret;
use lambda_http::request::RequestContext;
use lambda_http::{Request, RequestExt};

/// The header the API reads and echoes its request id in.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// `router` behind [`normalize`]: the service `main` hands to `lambda_http::run`.
pub fn service<S>(router: S) -> tower::util::MapRequest<S, fn(Request) -> Request> {
    tower::util::MapRequest::new(router, normalize as fn(Request) -> Request)
}

/// Strips the API Gateway stage from the path (see the crate docs) and sets `x-request-id`.
pub fn normalize(mut req: Request) -> Request {
    if let Some(prefix) = stage_prefix(&req) {
        strip_path_prefix(&mut req, &prefix);
    }
    if !req.headers().contains_key(REQUEST_ID_HEADER) {
        let id = gateway_request_id(&req)
            .or_else(|| req.lambda_context_ref().map(|c| c.request_id.clone()))
            .filter(|id| !id.is_empty());
        if let Some(value) = id.and_then(|id| HeaderValue::from_str(&id).ok()) {
            req.headers_mut().insert(REQUEST_ID_HEADER, value);
        }
    }
    req
}

/// `/{stage}` when the request's path starts with a stage prefix that is not part of the route.
fn stage_prefix(req: &Request) -> Option<String> {
    let (stage, added_by_lambda_http) = match req.request_context_ref()? {
        // REST API: the event's `path` never holds the stage; lambda_http prefixes it unless the
        // path happens to start with it already (then it is the route's own first segment).
        RequestContext::ApiGatewayV1(ctx) => {
            let stage = ctx.stage.as_deref()?;
            let raw = req.raw_http_path();
            (stage, !starts_with_segment(raw, stage))
        }
        // HTTP API: `rawPath` holds a named stage, and lambda_http adds it when it is missing.
        RequestContext::ApiGatewayV2(ctx) => (ctx.stage.as_deref()?, true),
        _ => return None,
    };
    if stage.is_empty() || stage == "$default" || !added_by_lambda_http {
        return None;
    }
    starts_with_segment(req.uri().path(), stage).then(|| format!("/{stage}"))
}

/// Whether `path` is `/{segment}` or starts with `/{segment}/`.
fn starts_with_segment(path: &str, segment: &str) -> bool {
    path.strip_prefix('/')
        .and_then(|p| p.strip_prefix(segment))
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

fn strip_path_prefix(req: &mut Request, prefix: &str) {
    let uri = req.uri();
    let rest = &uri.path()[prefix.len()..];
    let path = if rest.is_empty() { "/" } else { rest };
    let pq = match uri.query() {
        Some(q) => format!("{path}?{q}"),
        None => path.to_owned(),
    };
    let Ok(pq) = PathAndQuery::try_from(pq) else {
        return;
    };
    let mut parts = uri.clone().into_parts();
    parts.path_and_query = Some(pq);
    if let Ok(uri) = Uri::from_parts(parts) {
        *req.uri_mut() = uri;
    }
}

fn gateway_request_id(req: &Request) -> Option<String> {
    match req.request_context_ref()? {
        RequestContext::ApiGatewayV1(ctx) => ctx.request_id.clone(),
        RequestContext::ApiGatewayV2(ctx) => ctx.request_id.clone(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::starts_with_segment;

    #[test]
    fn segments() {
        assert!(starts_with_segment("/prod", "prod"));
        assert!(starts_with_segment("/prod/", "prod"));
        assert!(starts_with_segment("/prod/v1/experiments", "prod"));
        assert!(!starts_with_segment("/production/v1", "prod"));
        assert!(!starts_with_segment("prod/v1", "prod"));
        assert!(!starts_with_segment("/", "prod"));
    }
}
