//! The DynamoDB run log (the seed project's table), with the official AWS SDK.
//!
//! One item per attempt:
//!
//! | attribute | type | |
//! | --- | --- | --- |
//! | `run_id` | S | partition key |
//! | `sk` | S | sort key: `step#shard#attempt`, the attempt zero-padded to 10 digits and the shard empty when there is none (`generate##0000000001`, `land#2/4#0000000003`), so a run's items sort by step, shard and attempt |
//! | `experiment_id`, `step`, `status` | S | |
//! | `shard` | S | left out when there is none |
//! | `attempt` | N | |
//! | `started_at`, `ended_at` | S | RFC 3339 in UTC with milliseconds; `ended_at` left out while started |
//! | `duration_ms`, `rows`, `bytes` | N | left out when unknown |
//! | `message`, `error` | S | left out when none |
//!
//! [`DynamoRunLog::open`] creates the table when it is absent (on-demand billing) and waits
//! until it is `ACTIVE`; a table with another key schema is a configuration error. Region,
//! credentials and endpoint come from the usual `AWS_*` variables and files (aws-config's
//! default chain, without SSO or `credential_process`); `AWS_ENDPOINT_URL_DYNAMODB` or
//! `AWS_ENDPOINT_URL` points it at a local server (plain `http://` works), and
//! [`DynamoOptions`] can override endpoint and region in code.
//!
//! Attempt numbers: [`RunLog::start`] reads the highest attempt of (run, step, shard) (a
//! strongly consistent query on the sort key's prefix, newest first, one item), then puts
//! the next with `attribute_not_exists(sk)`; when another writer took that number the
//! conditional check fails and it tries the next one.
//!
//! [`RunLog::attempts`] queries the run's partition. [`RunLog::runs`] scans the whole table
//! and summarises in memory: fine for the thousands of items a run log holds; a large log
//! would want a global secondary index (e.g. a constant partition key with `started_at` as
//! its sort key) to read only the newest runs.
//!
//! Calls time out (connect 3 s, each attempt 10 s, the whole call 30 s) and are retried by
//! the SDK at most twice; errors are [`Error::Service`] with backend `dynamodb`, transient for
//! throttling, timeouts, connection failures and 5xx answers.

use crate::runlog::{
    RunLog, RunLogSummary, StepAttempt, StepStatus, check_finish, check_start, error_chain,
    format_ts, now_millis, parse_ts, sort_attempts, summarise,
};
use crate::{Error, Result};
use async_trait::async_trait;
use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType,
    ScalarAttributeType, TableStatus,
};
use std::collections::HashMap;
use std::time::Duration;

/// An item as the SDK hands it over.
type Item = HashMap<String, AttributeValue>;

/// Connect timeout of every call.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// Timeout of one attempt of a call.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);
/// Timeout of a call, retries included.
const OPERATION_TIMEOUT: Duration = Duration::from_secs(30);
/// How long [`DynamoRunLog::open`] waits for a new table to become `ACTIVE`.
const TABLE_ACTIVE_TIMEOUT: Duration = Duration::from_secs(120);
/// Conditional puts [`RunLog::start`] tries before giving up (as a transient error).
const MAX_START_TRIES: u32 = 200;

/// What [`DynamoRunLog::open_with`] may take from code rather than the environment.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct DynamoOptions {
    /// The endpoint, e.g. `http://127.0.0.1:5000` (default: `AWS_ENDPOINT_URL_DYNAMODB`,
    /// `AWS_ENDPOINT_URL`, then AWS's own).
    pub endpoint: Option<String>,
    /// The region (default: `AWS_REGION`, `AWS_DEFAULT_REGION`, the profile).
    pub region: Option<String>,
}

impl DynamoOptions {
    /// Sets [`DynamoOptions::endpoint`].
    pub fn with_endpoint(mut self, endpoint: impl Into<String>) -> Self {
        self.endpoint = Some(endpoint.into());
        self
    }

    /// Sets [`DynamoOptions::region`].
    pub fn with_region(mut self, region: impl Into<String>) -> Self {
        self.region = Some(region.into());
        self
    }
}

/// The DynamoDB run log (see the module docs).
#[derive(Clone)]
pub struct DynamoRunLog {
    client: Client,
    table: String,
}

impl std::fmt::Debug for DynamoRunLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DynamoRunLog")
            .field("table", &self.table)
            .finish_non_exhaustive()
    }
}

impl DynamoRunLog {
    /// Opens `dynamodb://table` with the configuration of the environment, creating the
    /// table if absent.
    ///
    /// # Errors
    /// [`Error::Config`] for a bad URL, no region, or a table with another key schema;
    /// [`Error::Service`] when DynamoDB cannot be reached or refuses.
    pub async fn open(url: &str) -> Result<DynamoRunLog> {
        DynamoRunLog::open_with(url, DynamoOptions::default()).await
    }

    /// [`DynamoRunLog::open`] with an endpoint or region set in code.
    ///
    /// # Errors
    /// As [`DynamoRunLog::open`].
    pub async fn open_with(url: &str, options: DynamoOptions) -> Result<DynamoRunLog> {
        let table = table_of_url(url)?;
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .http_client(http_client())
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(CONNECT_TIMEOUT)
                    .operation_attempt_timeout(ATTEMPT_TIMEOUT)
                    .operation_timeout(OPERATION_TIMEOUT)
                    .build(),
            )
            .retry_config(
                RetryConfig::standard()
                    .with_max_attempts(3)
                    .with_max_backoff(Duration::from_secs(2)),
            );
        if let Some(endpoint) = options.endpoint {
            loader = loader.endpoint_url(endpoint);
        }
        if let Some(region) = options.region {
            loader = loader.region(aws_config::Region::new(region));
        }
        let sdk = loader.load().await;
        if sdk.region().is_none() {
            return Err(Error::Config(format!(
                "run log {url}: no AWS region: set AWS_REGION (or AWS_DEFAULT_REGION)"
            )));
        }
        let log = DynamoRunLog::from_client(Client::new(&sdk), table);
        log.ensure_table().await?;
        Ok(log)
    }

    /// A run log on `table` through a client configured elsewhere. Does not create the
    /// table (see [`DynamoRunLog::open`]).
    pub fn from_client(client: Client, table: impl Into<String>) -> DynamoRunLog {
        DynamoRunLog {
            client,
            table: table.into(),
        }
    }

    /// The table.
    pub fn table(&self) -> &str {
        &self.table
    }

    /// The SDK client it uses.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Creates the table unless it exists, then waits until it is `ACTIVE`.
    async fn ensure_table(&self) -> Result<()> {
        match self
            .client
            .describe_table()
            .table_name(&self.table)
            .send()
            .await
        {
            Ok(out) => {
                if let Some(t) = out.table() {
                    let keys: Vec<(&str, &KeyType)> = t
                        .key_schema()
                        .iter()
                        .map(|k| (k.attribute_name(), k.key_type()))
                        .collect();
                    if keys != [("run_id", &KeyType::Hash), ("sk", &KeyType::Range)] {
                        return Err(Error::Config(format!(
                            "DynamoDB table {} exists with another key schema ({keys:?}); the \
                             run log needs run_id (HASH, S) and sk (RANGE, S)",
                            self.table
                        )));
                    }
                    if t.table_status() == Some(&TableStatus::Active) {
                        return Ok(());
                    }
                }
            }
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_resource_not_found_exception()) =>
            {
                self.create_table().await?;
            }
            Err(e) => return Err(sdk_error("describe table", e)),
        }
        self.wait_active().await
    }

    async fn create_table(&self) -> Result<()> {
        let key = |name: &str, kind: KeyType| {
            KeySchemaElement::builder()
                .attribute_name(name)
                .key_type(kind)
                .build()
                .map_err(|e| build_error("create table", e))
        };
        let attr = |name: &str| {
            AttributeDefinition::builder()
                .attribute_name(name)
                .attribute_type(ScalarAttributeType::S)
                .build()
                .map_err(|e| build_error("create table", e))
        };
        let res = self
            .client
            .create_table()
            .table_name(&self.table)
            .billing_mode(BillingMode::PayPerRequest)
            .key_schema(key("run_id", KeyType::Hash)?)
            .key_schema(key("sk", KeyType::Range)?)
            .attribute_definitions(attr("run_id")?)
            .attribute_definitions(attr("sk")?)
            .send()
            .await;
        match res {
            Ok(_) => {
                tracing::info!(table = %self.table, "created the DynamoDB run log table");
                Ok(())
            }
            // Another process created it meanwhile.
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_resource_in_use_exception()) =>
            {
                Ok(())
            }
            Err(e) => Err(sdk_error("create table", e)),
        }
    }

    async fn wait_active(&self) -> Result<()> {
        let deadline = tokio::time::Instant::now() + TABLE_ACTIVE_TIMEOUT;
        loop {
            let out = self
                .client
                .describe_table()
                .table_name(&self.table)
                .send()
                .await
                .map_err(|e| sdk_error("describe table", e))?;
            let status = out.table().and_then(|t| t.table_status()).cloned();
            if status == Some(TableStatus::Active) {
                return Ok(());
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(Error::Service {
                    backend: "dynamodb",
                    op: format!("wait for table {}", self.table),
                    message: format!(
                        "still {status:?} after {} s",
                        TABLE_ACTIVE_TIMEOUT.as_secs()
                    ),
                    transient: true,
                });
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    /// The highest attempt recorded under a sort-key prefix (`step#shard#`), 0 if none.
    async fn highest_attempt(&self, run_id: &str, prefix: &str) -> Result<u32> {
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("run_id = :r AND begins_with(sk, :p)")
            .expression_attribute_values(":r", AttributeValue::S(run_id.to_string()))
            .expression_attribute_values(":p", AttributeValue::S(prefix.to_string()))
            .scan_index_forward(false)
            .limit(1)
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| sdk_error("query attempts", e))?;
        match out.items().first() {
            None => Ok(0),
            Some(item) => {
                let sk = get_s(item, "sk")?;
                sk.rsplit('#')
                    .next()
                    .and_then(|n| n.parse().ok())
                    .ok_or_else(|| Error::Data(format!("run log: bad sort key {sk:?}")))
            }
        }
    }

    async fn put(&self, item: Item, new: bool) -> Result<(), SdkError<PutItemError, HttpResponse>> {
        let mut put = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item));
        if new {
            put = put.condition_expression("attribute_not_exists(sk)");
        }
        put.send().await.map(drop)
    }
}

/// The table a `dynamodb://table` URL names.
fn table_of_url(url: &str) -> Result<String> {
    let table = url
        .strip_prefix("dynamodb://")
        .map(|t| t.trim_end_matches('/'))
        .unwrap_or_default();
    let valid = (3..=255).contains(&table.len())
        && table
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
    if !valid {
        return Err(Error::Config(format!(
            "run log URL {url:?}: expected dynamodb://table, the table 3 to 255 letters, \
             digits, '_', '-' or '.'"
        )));
    }
    Ok(table.to_string())
}

/// The HTTP client: hyper on rustls with `ring` (the TLS stack the rest of abforge uses);
/// plain `http://` endpoints work too.
fn http_client() -> aws_sdk_dynamodb::config::SharedHttpClient {
    use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};
    aws_smithy_http_client::Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::Ring))
        .build_https()
}

/// The sort key of an attempt.
fn sort_key(step: &str, shard: Option<&str>, attempt: u32) -> String {
    format!("{}{attempt:010}", sk_prefix(step, shard))
}

/// The sort-key prefix of (step, shard).
fn sk_prefix(step: &str, shard: Option<&str>) -> String {
    format!("{step}#{}#", shard.unwrap_or(""))
}

fn to_item(a: &StepAttempt) -> Item {
    let s = |v: &str| AttributeValue::S(v.to_string());
    let n = |v: u64| AttributeValue::N(v.to_string());
    let mut item = Item::new();
    item.insert("run_id".into(), s(&a.run_id));
    item.insert(
        "sk".into(),
        s(&sort_key(&a.step, a.shard.as_deref(), a.attempt)),
    );
    item.insert("experiment_id".into(), s(&a.experiment_id));
    item.insert("step".into(), s(&a.step));
    if let Some(shard) = &a.shard {
        item.insert("shard".into(), s(shard));
    }
    item.insert("attempt".into(), n(u64::from(a.attempt)));
    item.insert("status".into(), s(a.status.as_str()));
    item.insert("started_at".into(), s(&format_ts(a.started_at)));
    if let Some(t) = a.ended_at {
        item.insert("ended_at".into(), s(&format_ts(t)));
    }
    for (name, v) in [
        ("duration_ms", a.duration_ms),
        ("rows", a.rows),
        ("bytes", a.bytes),
    ] {
        if let Some(v) = v {
            item.insert(name.into(), n(v));
        }
    }
    for (name, v) in [("message", &a.message), ("error", &a.error)] {
        if let Some(v) = v {
            item.insert(name.into(), s(v));
        }
    }
    item
}

fn get_s(item: &Item, name: &str) -> Result<String> {
    opt_s(item, name)?.ok_or_else(|| Error::Data(format!("run log item without {name}")))
}

fn opt_s(item: &Item, name: &str) -> Result<Option<String>> {
    match item.get(name) {
        None | Some(AttributeValue::Null(true)) => Ok(None),
        Some(AttributeValue::S(s)) => Ok(Some(s.clone())),
        Some(v) => Err(Error::Data(format!(
            "run log item: {name} is not a string: {v:?}"
        ))),
    }
}

fn opt_n(item: &Item, name: &str) -> Result<Option<u64>> {
    match item.get(name) {
        None | Some(AttributeValue::Null(true)) => Ok(None),
        Some(AttributeValue::N(n)) => n
            .parse()
            .map(Some)
            .map_err(|_| Error::Data(format!("run log item: {name} is not a count: {n:?}"))),
        Some(v) => Err(Error::Data(format!(
            "run log item: {name} is not a number: {v:?}"
        ))),
    }
}

fn from_item(item: &Item) -> Result<StepAttempt> {
    let status = get_s(item, "status")?;
    let attempt = opt_n(item, "attempt")?
        .ok_or_else(|| Error::Data("run log item without attempt".into()))?;
    Ok(StepAttempt {
        run_id: get_s(item, "run_id")?,
        experiment_id: get_s(item, "experiment_id")?,
        step: get_s(item, "step")?,
        shard: opt_s(item, "shard")?,
        attempt: u32::try_from(attempt)
            .map_err(|_| Error::Data(format!("run log: bad attempt number {attempt}")))?,
        status: StepStatus::parse(&status)
            .ok_or_else(|| Error::Data(format!("run log: unknown status {status:?}")))?,
        started_at: parse_ts(&get_s(item, "started_at")?)?,
        ended_at: opt_s(item, "ended_at")?
            .as_deref()
            .map(parse_ts)
            .transpose()?,
        duration_ms: opt_n(item, "duration_ms")?,
        rows: opt_n(item, "rows")?,
        bytes: opt_n(item, "bytes")?,
        message: opt_s(item, "message")?,
        error: opt_s(item, "error")?,
    })
}

fn build_error(op: &str, e: aws_sdk_dynamodb::error::BuildError) -> Error {
    Error::Service {
        backend: "dynamodb",
        op: op.to_string(),
        message: e.to_string(),
        transient: false,
    }
}

/// Error codes DynamoDB answers when retrying later may help.
const TRANSIENT_CODES: &[&str] = &[
    "ProvisionedThroughputExceededException",
    "ThrottlingException",
    "Throttling",
    "RequestLimitExceeded",
    "InternalServerError",
    "ServiceUnavailable",
    "TransactionConflictException",
    "LimitExceededException",
];

/// An SDK error as [`Error::Service`]: transient for timeouts, connection failures, answers
/// that did not parse, 5xx, 429 and throttling.
fn sdk_error<E>(op: &str, e: SdkError<E, HttpResponse>) -> Error
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let transient = match &e {
        SdkError::TimeoutError(_) | SdkError::ResponseError(_) => true,
        SdkError::DispatchFailure(d) => !d.is_user(),
        SdkError::ServiceError(s) => {
            let status = s.raw().status().as_u16();
            status >= 500
                || status == 429
                || s.err().code().is_some_and(|c| TRANSIENT_CODES.contains(&c))
        }
        _ => false,
    };
    Error::Service {
        backend: "dynamodb",
        op: op.to_string(),
        message: error_chain(&e),
        transient,
    }
}

#[async_trait]
impl RunLog for DynamoRunLog {
    fn backend(&self) -> &'static str {
        "dynamodb"
    }

    fn url(&self) -> String {
        format!("dynamodb://{}", self.table)
    }

    async fn check(&self) -> Result<()> {
        self.client
            .describe_table()
            .table_name(&self.table)
            .send()
            .await
            .map(drop)
            .map_err(|e| sdk_error("describe table", e))
    }

    async fn start(
        &self,
        experiment_id: &str,
        run_id: &str,
        step: &str,
        shard: Option<&str>,
    ) -> Result<StepAttempt> {
        check_start(experiment_id, run_id, step, shard)?;
        let prefix = sk_prefix(step, shard);
        let mut a = StepAttempt {
            run_id: run_id.to_string(),
            experiment_id: experiment_id.to_string(),
            step: step.to_string(),
            shard: shard.map(str::to_string),
            attempt: self.highest_attempt(run_id, &prefix).await? + 1,
            status: StepStatus::Started,
            started_at: now_millis(),
            ended_at: None,
            duration_ms: None,
            rows: None,
            bytes: None,
            message: None,
            error: None,
        };
        for tries in 1..=MAX_START_TRIES {
            match self.put(to_item(&a), true).await {
                Ok(()) => return Ok(a),
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
                {
                    // Taken by another writer: the next number, or past the highest after a
                    // few misses (many writers at once).
                    a.attempt += 1;
                    if tries % 8 == 0 {
                        let highest = self.highest_attempt(run_id, &prefix).await?;
                        a.attempt = a.attempt.max(highest + 1);
                    }
                    a.started_at = now_millis();
                }
                Err(e) => return Err(sdk_error("put attempt", e)),
            }
        }
        Err(Error::Service {
            backend: "dynamodb",
            op: "put attempt".into(),
            message: format!(
                "no free attempt number for {run_id} {prefix} after {MAX_START_TRIES} tries"
            ),
            transient: true,
        })
    }

    async fn finish(&self, attempt: &StepAttempt) -> Result<()> {
        let a = check_finish(attempt)?;
        self.put(to_item(&a), false)
            .await
            .map_err(|e| sdk_error("put attempt", e))
    }

    async fn attempts(&self, run_id: &str) -> Result<Vec<StepAttempt>> {
        if run_id.is_empty() {
            return Ok(Vec::new());
        }
        let mut attempts = Vec::new();
        let mut start_key: Option<Item> = None;
        loop {
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("run_id = :r")
                .expression_attribute_values(":r", AttributeValue::S(run_id.to_string()))
                .consistent_read(true)
                .set_exclusive_start_key(start_key.take())
                .send()
                .await
                .map_err(|e| sdk_error("query attempts", e))?;
            for item in out.items() {
                attempts.push(from_item(item)?);
            }
            match out.last_evaluated_key() {
                Some(k) if !k.is_empty() => start_key = Some(k.clone()),
                _ => break,
            }
        }
        sort_attempts(&mut attempts);
        Ok(attempts)
    }

    async fn runs(&self, limit: usize) -> Result<Vec<RunLogSummary>> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let mut attempts = Vec::new();
        let mut start_key: Option<Item> = None;
        loop {
            let out = self
                .client
                .scan()
                .table_name(&self.table)
                .consistent_read(true)
                .set_exclusive_start_key(start_key.take())
                .send()
                .await
                .map_err(|e| sdk_error("scan", e))?;
            for item in out.items() {
                attempts.push(from_item(item)?);
            }
            match out.last_evaluated_key() {
                Some(k) if !k.is_empty() => start_key = Some(k.clone()),
                _ => break,
            }
        }
        Ok(summarise(attempts, limit))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_name_tables() {
        assert_eq!(
            table_of_url("dynamodb://abforge-runs").unwrap(),
            "abforge-runs"
        );
        assert_eq!(table_of_url("dynamodb://a.b_c/").unwrap(), "a.b_c");
        for bad in [
            "dynamodb://",
            "dynamodb://ab",
            "dynamodb://a/b",
            "sqlite://x",
        ] {
            assert!(matches!(table_of_url(bad), Err(Error::Config(_))), "{bad}");
        }
    }

    #[test]
    fn sort_keys_sort_by_step_shard_and_attempt() {
        assert_eq!(sort_key("generate", None, 1), "generate##0000000001");
        assert_eq!(sort_key("land", Some("2/4"), 12), "land#2/4#0000000012");
        assert!(sort_key("land", None, 9) < sort_key("land", None, 10));
        assert!(sort_key("land", Some("1/4"), 1).starts_with(&sk_prefix("land", Some("1/4"))));
        assert!(!sort_key("land", Some("1/40"), 1).starts_with(&sk_prefix("land", Some("1/4"))));
    }

    #[test]
    fn items_round_trip() {
        let a = StepAttempt {
            run_id: "r".into(),
            experiment_id: "e".into(),
            step: "land".into(),
            shard: Some("1/2".into()),
            attempt: 3,
            status: StepStatus::Failed,
            started_at: now_millis(),
            ended_at: Some(now_millis()),
            duration_ms: Some(12),
            rows: Some(u64::from(u32::MAX) * 7),
            bytes: None,
            message: Some("m".into()),
            error: Some("boom".into()),
        };
        assert_eq!(from_item(&to_item(&a)).unwrap(), a);
    }
}
