//! The filters of every view, read from the query string: each page takes a few of them,
//! and anything else — an unknown parameter, a repeated one, a malformed value, `from`
//! after `to` — is a 400 naming the parameter. An empty value (a form's "all") is no
//! filter.

use abforge_api::page::PageRequest;
use chrono::NaiveDate;
use serde::Serialize;
use utoipa::ToSchema;

/// The filters a view was asked for (those it takes).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct Filters {
    /// Only this experiment.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub experiment: Option<String>,
    /// Only this metric.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metric: Option<String>,
    /// Only this test.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub test: Option<String>,
    /// Only runs dated on or after this day.
    #[schema(value_type = Option<String>, format = Date)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<NaiveDate>,
    /// Only runs dated on or before this day.
    #[schema(value_type = Option<String>, format = Date)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to: Option<NaiveDate>,
    /// The calibration publication shown.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub calibration: Option<String>,
    /// Only this external engine (its name, as its handshake gives it: `gbstats`, …).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub engine: Option<String>,
}

/// The query parameters of each view, as documented in the OpenAPI document (the parser is
/// [`Filters::parse`]; these types only describe it). An empty value is no filter (what an
/// HTML form sends for "all"), so every pattern also matches the empty string.
pub(crate) mod doc {
    #![allow(dead_code)]
    use utoipa::IntoParams;

    /// `/v1/results`.
    #[derive(IntoParams)]
    #[into_params(parameter_in = Query)]
    pub(crate) struct OverviewParams {
        /// Only this experiment.
        #[param(pattern = "^([a-z0-9_-]{1,64})?$")]
        experiment: Option<String>,
        /// Only this metric (a blueprint column name).
        #[param(pattern = "^([A-Za-z0-9_]{1,64})?$")]
        metric: Option<String>,
        /// Only this test (`welch_t`, `mann_whitney_u`, …).
        #[param(pattern = "^([a-z0-9_:.-]{1,64})?$")]
        test: Option<String>,
        /// Only runs dated on or after this day (`YYYY-MM-DD`; not after `to`).
        #[param(pattern = "^([0-9]{4}-[0-9]{2}-[0-9]{2})?$")]
        from: Option<String>,
        /// Only runs dated on or before this day (`YYYY-MM-DD`).
        #[param(pattern = "^([0-9]{4}-[0-9]{2}-[0-9]{2})?$")]
        to: Option<String>,
        /// At most this many experiments (1 to 1000; 100 when absent or empty).
        #[param(pattern = "^([0-9]{1,4})?$")]
        limit: Option<String>,
        /// Where to start: the `cursor` of a previous page's `next` link (empty: the first
        /// page).
        #[param(pattern = "^([A-Za-z0-9_-]{1,200})?$")]
        cursor: Option<String>,
    }

    /// `/v1/results/{experiment_id}`.
    #[derive(IntoParams)]
    #[into_params(parameter_in = Query)]
    pub(crate) struct ExperimentParams {
        /// Only this metric (a blueprint column name).
        #[param(pattern = "^([A-Za-z0-9_]{1,64})?$")]
        metric: Option<String>,
        /// Only this test.
        #[param(pattern = "^([a-z0-9_:.-]{1,64})?$")]
        test: Option<String>,
        /// Only runs dated on or after this day (`YYYY-MM-DD`; not after `to`).
        #[param(pattern = "^([0-9]{4}-[0-9]{2}-[0-9]{2})?$")]
        from: Option<String>,
        /// Only runs dated on or before this day (`YYYY-MM-DD`).
        #[param(pattern = "^([0-9]{4}-[0-9]{2}-[0-9]{2})?$")]
        to: Option<String>,
    }

    /// `/v1/results/{experiment_id}/runs/{run_id}`.
    #[derive(IntoParams)]
    #[into_params(parameter_in = Query)]
    pub(crate) struct RunParams {
        /// Only this metric.
        #[param(pattern = "^([A-Za-z0-9_]{1,64})?$")]
        metric: Option<String>,
        /// Only this test's decisions.
        #[param(pattern = "^([a-z0-9_:.-]{1,64})?$")]
        test: Option<String>,
    }

    /// `/v1/calibration`.
    #[derive(IntoParams)]
    #[into_params(parameter_in = Query)]
    pub(crate) struct CalibrationParams {
        /// Only this experiment's publications.
        #[param(pattern = "^([a-z0-9_-]{1,64})?$")]
        experiment: Option<String>,
        /// Only this metric's results.
        #[param(pattern = "^([A-Za-z0-9_]{1,64})?$")]
        metric: Option<String>,
        /// Only this test's results (an engine's as `engine:test`, `gbstats:ttest`).
        #[param(pattern = "^([a-z0-9_:.-]{1,64})?$")]
        test: Option<String>,
        /// The publication shown (its `calibration_id`; the newest when absent).
        #[param(pattern = "^([A-Za-z0-9_.-]{1,128})?$")]
        calibration: Option<String>,
    }

    /// `/v1/engines`.
    #[derive(IntoParams)]
    #[into_params(parameter_in = Query)]
    pub(crate) struct EnginesParams {
        /// Only this experiment's publications.
        #[param(pattern = "^([a-z0-9_-]{1,64})?$")]
        experiment: Option<String>,
        /// Only this engine's publications (its name: `gbstats`, `tea-tasting`, `scipy`, …).
        #[param(pattern = "^([A-Za-z0-9_.-]{1,64})?$")]
        engine: Option<String>,
    }
}

/// The filters of the experiments page.
pub const OVERVIEW: &[&str] = &[
    "experiment",
    "metric",
    "test",
    "from",
    "to",
    "limit",
    "cursor",
];
/// The filters of an experiment's page.
pub const EXPERIMENT: &[&str] = &["metric", "test", "from", "to"];
/// The filters of a run's page.
pub const RUN: &[&str] = &["metric", "test"];
/// The filters of the calibration page.
pub const CALIBRATION: &[&str] = &["experiment", "metric", "test", "calibration"];
/// The filters of the engines page.
pub const ENGINES: &[&str] = &["experiment", "engine"];

/// A query parameter the view cannot take.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadParam {
    /// The parameter.
    pub param: String,
    /// What is wrong with it.
    pub message: String,
}

fn bad(param: &str, message: impl Into<String>) -> BadParam {
    BadParam {
        param: param.to_string(),
        message: message.into(),
    }
}

fn checked(
    param: &str,
    v: &str,
    max: usize,
    ok: impl Fn(char) -> bool,
    what: &str,
) -> Result<String, BadParam> {
    if v.chars().count() > max || !v.chars().all(ok) {
        return Err(bad(
            param,
            format!("must be {what} (at most {max} characters), not {v:?}"),
        ));
    }
    Ok(v.to_string())
}

fn date(param: &str, v: &str) -> Result<NaiveDate, BadParam> {
    NaiveDate::parse_from_str(v, "%Y-%m-%d")
        .map_err(|_| bad(param, format!("must be a date YYYY-MM-DD, not {v:?}")))
}

impl Filters {
    /// The filters in `raw` (a query string), `allowed` naming those the view takes.
    ///
    /// # Errors
    /// The first parameter that is unknown, repeated or malformed.
    pub fn parse(raw: Option<&str>, allowed: &[&str]) -> Result<Filters, BadParam> {
        Self::parse_paged(raw, allowed).map(|(f, _)| f)
    }

    /// [`Filters::parse`], and the page asked for when the view takes `limit` and `cursor`
    /// (the first page of [`DEFAULT_LIMIT`](abforge_api::page::DEFAULT_LIMIT) otherwise).
    ///
    /// # Errors
    /// The first parameter that is unknown, repeated or malformed.
    pub fn parse_paged(
        raw: Option<&str>,
        allowed: &[&str],
    ) -> Result<(Filters, PageRequest), BadParam> {
        let mut f = Filters::default();
        let mut page = PageRequest::default();
        let mut seen: Vec<String> = Vec::new();
        for (k, v) in form_urlencoded::parse(raw.unwrap_or("").as_bytes()) {
            if !allowed.contains(&k.as_ref()) {
                return Err(bad(
                    &k,
                    format!(
                        "is not a parameter of this page; it takes {}",
                        allowed.join(", ")
                    ),
                ));
            }
            if seen.iter().any(|s| *s == k) {
                return Err(bad(&k, "is given more than once"));
            }
            seen.push(k.to_string());
            if v.is_empty() {
                continue;
            }
            let v = v.as_ref();
            match k.as_ref() {
                "experiment" => {
                    let v = abforge_api::input::parse_id(v).map_err(|m| bad(&k, m))?;
                    f.experiment = Some(v.to_string());
                }
                "metric" => {
                    f.metric = Some(checked(
                        &k,
                        v,
                        64,
                        |c| c.is_ascii_alphanumeric() || c == '_',
                        "a metric name of letters, digits and _",
                    )?);
                }
                "test" => {
                    f.test = Some(checked(
                        &k,
                        v,
                        64,
                        |c| {
                            c.is_ascii_lowercase()
                                || c.is_ascii_digit()
                                || matches!(c, '_' | ':' | '.' | '-')
                        },
                        "a test name of a-z, 0-9, _, :, . and - (an engine's test is \
                         engine:test)",
                    )?);
                }
                "from" => f.from = Some(date(&k, v)?),
                "to" => f.to = Some(date(&k, v)?),
                "calibration" => {
                    f.calibration = Some(checked(
                        &k,
                        v,
                        128,
                        |c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'),
                        "a calibration id of letters, digits, _, - and .",
                    )?);
                }
                "engine" => {
                    f.engine = Some(checked(
                        &k,
                        v,
                        64,
                        |c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'),
                        "an engine name of letters, digits, _, - and .",
                    )?);
                }
                "limit" | "cursor" => page.set(&k, v).map_err(|m| bad(&k, m))?,
                _ => unreachable!("every allowed parameter is handled"),
            }
        }
        if let (Some(from), Some(to)) = (f.from, f.to)
            && from > to
        {
            return Err(bad("from", format!("{from} is after to ({to})")));
        }
        Ok((f, page))
    }

    /// The filters as a query string (`?…`, empty when none), for links.
    pub fn query(&self) -> String {
        let mut s = form_urlencoded::Serializer::new(String::new());
        let pairs = [
            ("experiment", self.experiment.clone()),
            ("metric", self.metric.clone()),
            ("test", self.test.clone()),
            ("from", self.from.map(|d| d.to_string())),
            ("to", self.to.map(|d| d.to_string())),
            ("calibration", self.calibration.clone()),
            ("engine", self.engine.clone()),
        ];
        let mut any = false;
        for (k, v) in pairs {
            if let Some(v) = v {
                s.append_pair(k, &v);
                any = true;
            }
        }
        if any {
            format!("?{}", s.finish())
        } else {
            String::new()
        }
    }

    /// Whether a decision of `metric` × `test` dated `date` passes.
    pub(crate) fn keeps(&self, metric: &str, test: &str, date: Option<NaiveDate>) -> bool {
        self.metric.as_deref().is_none_or(|m| m == metric)
            && self.test.as_deref().is_none_or(|t| t == test)
            && match date {
                Some(d) => self.from.is_none_or(|f| d >= f) && self.to.is_none_or(|t| d <= t),
                None => true,
            }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_rejects() {
        let f = Filters::parse(
            Some("metric=items&test=welch_t&from=2026-01-01&to=2026-02-01"),
            OVERVIEW,
        )
        .unwrap();
        assert_eq!(f.metric.as_deref(), Some("items"));
        assert_eq!(
            f.query(),
            "?metric=items&test=welch_t&from=2026-01-01&to=2026-02-01"
        );
        assert_eq!(
            Filters::parse(Some("metric=&test="), OVERVIEW).unwrap(),
            Filters::default()
        );
        let e = Filters::parse(Some("from=yesterday"), OVERVIEW).unwrap_err();
        assert_eq!(e.param, "from");
        let e = Filters::parse(Some("color=red"), OVERVIEW).unwrap_err();
        assert_eq!(e.param, "color");
        assert!(
            e.message
                .contains("experiment, metric, test, from, to, limit, cursor")
        );
        let (_, page) = Filters::parse_paged(Some("limit=3&metric=x"), OVERVIEW).unwrap();
        assert_eq!(page.limit, 3);
        let e = Filters::parse(Some("limit=0"), OVERVIEW).unwrap_err();
        assert_eq!(e.param, "limit");
        let e = Filters::parse(Some("cursor=zz"), OVERVIEW).unwrap_err();
        assert_eq!(e.param, "cursor");
        let e = Filters::parse(Some("limit=3"), EXPERIMENT).unwrap_err();
        assert_eq!(e.param, "limit");
        let e = Filters::parse(Some("metric=a&metric=b"), OVERVIEW).unwrap_err();
        assert_eq!(e.param, "metric");
        let e = Filters::parse(Some("from=2026-02-02&to=2026-02-01"), OVERVIEW).unwrap_err();
        assert_eq!(e.param, "from");
        let e = Filters::parse(Some("experiment=..%2Fetc"), OVERVIEW).unwrap_err();
        assert_eq!(e.param, "experiment");
        let e = Filters::parse(Some("calibration=x"), RUN).unwrap_err();
        assert_eq!(e.param, "calibration");
        let f = Filters::parse(Some("engine=tea-tasting&experiment=aa"), ENGINES).unwrap();
        assert_eq!(f.engine.as_deref(), Some("tea-tasting"));
        assert_eq!(f.query(), "?experiment=aa&engine=tea-tasting");
        let e = Filters::parse(Some("engine=gb%20stats"), ENGINES).unwrap_err();
        assert_eq!(e.param, "engine");
        let e = Filters::parse(Some("metric=x"), ENGINES).unwrap_err();
        assert_eq!(e.param, "metric");
        let f = Filters::parse(Some("test=tea-tasting:mean_lift"), CALIBRATION).unwrap();
        assert_eq!(f.test.as_deref(), Some("tea-tasting:mean_lift"));
        let e = Filters::parse(Some("test=Welch"), CALIBRATION).unwrap_err();
        assert_eq!(e.param, "test");
        let e = Filters::parse(Some("engine=scipy"), CALIBRATION).unwrap_err();
        assert_eq!(e.param, "engine");
    }
}
