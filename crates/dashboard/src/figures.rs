//! The run page's pictures, inline SVG drawn on the server (no script): per metric a forest
//! plot of every test's estimate and interval against the true effect, and the groups'
//! observed split against the plan. Each has a `<title>` and a `<desc>` reading out its
//! numbers, and its marks read without colour (a wrong decision is a red diamond labelled
//! `✗ type I` / `✗ type II`). Every mark carries the JSON twin's numbers, unrounded, as
//! `data-` attributes; the table below each picture shows them rounded.

use crate::model::{Decision, GroupShare, MetricView, Srm};
use crate::pages::{num, p_value};
use abforge_stats::{Estimand, TestName, Verdict};
use maud::{Markup, html};

/// The drawing's width in SVG units.
const WIDTH: f64 = 820.0;
/// The left column of row labels.
const LABEL_W: f64 = 220.0;
/// The right column of verdict labels.
const RIGHT_W: f64 = 104.0;
/// One row (a test, or a group).
const ROW_H: f64 = 26.0;
/// A panel's heading.
const HEAD_H: f64 = 28.0;
/// A panel's axis and its labels.
const AXIS_H: f64 = 30.0;
/// The legend line.
const LEGEND_H: f64 = 26.0;

const BLUE: &str = "#1f77b4";
const RED: &str = "#d62728";
const GREY: &str = "#7f7f7f";
const GRID: &str = "#e3e6eb";
const FONT: &str = "font-family:sans-serif;font-size:13px";

/// What the estimate of the test named `test` measures (`None` for a test this version does
/// not know). The pipeline analyses without a margin, under which the Poisson test compares
/// the rates' ratio.
pub(crate) fn estimand(test: &str) -> Option<Estimand> {
    use Estimand as E;
    use TestName as T;
    Some(match TestName::parse(test)? {
        T::MannWhitneyU => E::ProbSuperiority,
        T::QuantileMedian => E::MedianDifference,
        T::FisherExact => E::OddsRatio,
        T::PoissonRate => E::RateRatio,
        T::RelativeLift => E::RelativeLift,
        T::WelchT
        | T::StudentT
        | T::WinsorizedWelch
        | T::TwoProportionZ
        | T::ChiSquare
        | T::Cuped
        | T::RegressionHc2
        | T::ClusterRobust
        | T::Bayes
        | T::Msprt
        | T::ConfidenceSequence
        | T::GroupSequential
        | T::BootstrapBca
        | T::Permutation => E::MeanDifference,
    })
}

/// A scale's heading and its value of no effect.
fn scale(e: Estimand) -> (&'static str, f64) {
    match e {
        Estimand::MeanDifference => ("difference of means, treatment − control", 0.0),
        Estimand::RateDifference => ("difference of rates, treatment − control", 0.0),
        Estimand::MedianDifference => ("difference of medians, treatment − control", 0.0),
        Estimand::RelativeLift => ("relative lift, mean(T) / mean(C) − 1", 0.0),
        Estimand::ProbSuperiority => ("probability of superiority, P(T > C) + ½·P(T = C)", 0.5),
        Estimand::OddsRatio => ("odds ratio, treatment / control", 1.0),
        Estimand::RateRatio => ("ratio of rates, treatment / control", 1.0),
    }
}

/// A number as a `data-` attribute: every digit, so it reads back as the JSON twin's.
fn exact(x: Option<f64>) -> Option<String> {
    x.map(|v| v.to_string())
}

fn finite(x: Option<f64>) -> Option<f64> {
    x.filter(|v| v.is_finite())
}

/// About five round ticks covering `[lo, hi]`.
fn ticks(lo: f64, hi: f64) -> (Vec<f64>, usize) {
    let raw = (hi - lo) / 5.0;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag);
    let decimals = (-step.log10().floor()).max(0.0) as usize;
    let first = (lo / step).ceil() as i64;
    let last = (hi / step).floor() as i64;
    let ticks = (first..=last).map(|k| k as f64 * step).collect();
    (ticks, decimals)
}

fn tick_label(t: f64, decimals: usize) -> String {
    let s = format!("{t:.decimals$}");
    if s.trim_start_matches('-')
        .chars()
        .all(|c| c == '0' || c == '.')
    {
        format!("{:.decimals$}", 0.0)
    } else {
        s.replace('-', "−")
    }
}

/// A panel's horizontal scale: values in `[lo, hi]` onto `[LABEL_W, WIDTH − RIGHT_W]`.
#[derive(Clone, Copy)]
struct Axis {
    lo: f64,
    hi: f64,
}

impl Axis {
    /// The range of `values` with a margin (a unit around a single value).
    fn of(values: impl Iterator<Item = f64>) -> Self {
        let (lo, hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
            (a.min(v), b.max(v))
        });
        if !lo.is_finite() || !hi.is_finite() {
            return Axis { lo: -1.0, hi: 1.0 };
        }
        let pad = if hi > lo {
            0.06 * (hi - lo)
        } else {
            (0.1 * lo.abs()).max(1e-9)
        };
        Axis {
            lo: lo - pad,
            hi: hi + pad,
        }
    }

    fn x(self, v: f64) -> f64 {
        let v = v.clamp(self.lo, self.hi);
        LABEL_W + (v - self.lo) / (self.hi - self.lo) * (WIDTH - LABEL_W - RIGHT_W)
    }
}

/// The `<svg>` element around `body`, titled and described for screen readers.
fn svg(id: &str, height: f64, title: &str, desc: &str, body: Markup) -> Markup {
    let (t, d) = (format!("{id}-title"), format!("{id}-desc"));
    html! {
        svg xmlns="http://www.w3.org/2000/svg" id=(id) role="img" aria-labelledby={ (t) " " (d) }
            width=(WIDTH) height=(height) viewBox={ "0 0 " (WIDTH) " " (height) } style=(FONT) {
            title id=(t) { (title) }
            desc id=(d) { (desc) }
            rect width=(WIDTH) height=(height) fill="white" {}
            (body)
        }
    }
}

/// One row of a forest plot: what it says, in words.
fn row_text(d: &Decision, arms: bool) -> String {
    let decision = match d.reject {
        Some(true) => "reject H0",
        Some(false) => "keep H0",
        None => "no decision",
    };
    let verdict = match d.outcome {
        Some(Verdict::Correct) => "correct",
        Some(Verdict::TypeI) => "wrong: type I error",
        Some(Verdict::TypeIi) => "wrong: type II error",
        None => "not judged",
    };
    let ci = match (d.ci_low, d.ci_high) {
        (None, None) => String::new(),
        (l, h) => format!(", 95 % interval [{}, {}]", num(l), num(h)),
    };
    format!(
        "{}{}: estimate {}{ci}, true effect {}, p = {}, {decision} — {verdict}",
        d.test,
        if arms {
            format!(" ({} vs {})", d.treatment, d.control)
        } else {
            String::new()
        },
        num(d.estimate),
        num(d.true_effect),
        p_value(d.p_value),
    )
}

/// The forest plot of a metric's decisions, one panel per scale (`None` when no test has an
/// estimate to draw); `index` makes its element ids unique on the page.
pub(crate) fn forest(m: &MetricView, index: usize) -> Option<Markup> {
    let drawn: Vec<&Decision> = m
        .decisions
        .iter()
        .filter(|d| finite(d.estimate).is_some() && estimand(&d.test).is_some())
        .collect();
    let mut scales: Vec<Estimand> = Vec::new();
    for d in &drawn {
        let e = estimand(&d.test)?;
        if !scales.contains(&e) {
            scales.push(e);
        }
    }
    if scales.is_empty() {
        return None;
    }
    let arms = {
        let mut a: Vec<&str> = drawn.iter().map(|d| d.treatment.as_str()).collect();
        a.dedup();
        a.len() > 1
    };
    let mut y = LEGEND_H;
    let mut panels = Vec::new();
    for e in &scales {
        let rows: Vec<&Decision> = drawn
            .iter()
            .copied()
            .filter(|d| estimand(&d.test) == Some(*e))
            .collect();
        panels.push(forest_panel(*e, &rows, y, arms));
        y += HEAD_H + ROW_H * rows.len() as f64 + AXIS_H;
    }
    let undrawn: Vec<&str> = m
        .decisions
        .iter()
        .filter(|d| !drawn.iter().any(|x| std::ptr::eq(*x, *d)))
        .map(|d| d.test.as_str())
        .collect();
    let title = format!(
        "{}: each test's estimate and 95 % interval against the true effect",
        m.metric
    );
    let mut desc: Vec<String> = drawn.iter().map(|d| row_text(d, arms)).collect();
    if !undrawn.is_empty() {
        desc.push(format!("not drawn (no estimate): {}", undrawn.join(", ")));
    }
    let id = format!("forest-{index}");
    let body = html! { (forest_legend()) @for p in panels { (p) } };
    Some(html! {
        figure.chart.forest data-metric=(m.metric) {
            (svg(&id, y, &title, &(desc.join("; ") + "."), body))
            figcaption {
                "Each test's estimate (dot) and 95 % interval (line) on its own scale, one panel per scale; "
                "the true effect as a black bar, no effect dotted. A wrong decision is a red diamond labelled "
                "✗ type I (a true null rejected) or ✗ type II (a false null kept). ★ the primary test."
                @if !undrawn.is_empty() { " Not drawn (no estimate): " (undrawn.join(", ")) "." }
                " The numbers are in the table below."
            }
        }
    })
}

/// The legend line of a forest plot.
fn forest_legend() -> Markup {
    let y = LEGEND_H / 2.0;
    html! {
        g.legend {
            circle cx="12" cy=(y) r="5" fill=(BLUE) {}
            text x="22" y=(y + 4.0) { "right decision" }
            (diamond(134.0, y, RED))
            text x="144" y=(y + 4.0) { "✗ wrong decision" }
            line x1="280" x2="280" y1=(y - 8.0) y2=(y + 8.0) stroke="black" stroke-width="2.5" {}
            text x="290" y=(y + 4.0) { "true effect" }
            line x1="380" x2="380" y1=(y - 8.0) y2=(y + 8.0) stroke=(GREY) stroke-dasharray="2 3" {}
            text x="390" y=(y + 4.0) { "no effect" }
        }
    }
}

fn diamond(cx: f64, cy: f64, fill: &str) -> Markup {
    let r = 6.5;
    html! {
        path d={ "M" (cx) " " (cy - r) "L" (cx + r) " " (cy) "L" (cx) " " (cy + r) "L" (cx - r) " " (cy) "Z" }
            fill=(fill) stroke="black" stroke-width="0.8" {}
    }
}

/// One scale's panel, its top at `top`: heading, grid, rows, axis.
fn forest_panel(e: Estimand, rows: &[&Decision], top: f64, arms: bool) -> Markup {
    let (heading, null) = scale(e);
    let axis = Axis::of(rows.iter().flat_map(|d| {
        [d.estimate, d.ci_low, d.ci_high, d.true_effect, Some(null)]
            .into_iter()
            .filter_map(finite)
    }));
    let (ticks, decimals) = ticks(axis.lo, axis.hi);
    let y0 = top + HEAD_H;
    let y1 = y0 + ROW_H * rows.len() as f64;
    let estimand = serde_json::to_value(e)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    html! {
        g.panel data-estimand=(estimand) {
            text x="8" y=(top + 18.0) font-weight="600" { (heading) }
            @for t in &ticks {
                line x1=(axis.x(*t)) x2=(axis.x(*t)) y1=(y0) y2=(y1) stroke=(GRID) {}
                text x=(axis.x(*t)) y=(y1 + 16.0) text-anchor="middle" fill="#333" { (tick_label(*t, decimals)) }
            }
            line x1=(LABEL_W) x2=(WIDTH - RIGHT_W) y1=(y1) y2=(y1) stroke="black" {}
            line x1=(axis.x(null)) x2=(axis.x(null)) y1=(y0) y2=(y1) stroke=(GREY) stroke-dasharray="2 3" {}
            @for (i, d) in rows.iter().enumerate() {
                (forest_row(d, axis, y0 + ROW_H * (i as f64 + 0.5), arms))
            }
        }
    }
}

/// One test: label, interval, true effect, estimate, and the verdict when wrong.
fn forest_row(d: &Decision, axis: Axis, cy: f64, arms: bool) -> Markup {
    let wrong = d.outcome.is_some_and(Verdict::is_error);
    let colour = if wrong { RED } else { BLUE };
    let label = format!(
        "{}{}{}",
        if d.primary == Some(true) { "★ " } else { "" },
        d.test,
        if arms {
            format!(" · {}", d.treatment)
        } else {
            String::new()
        }
    );
    let est = finite(d.estimate).unwrap_or_default();
    let (lo, hi) = (d.ci_low.map(|v| axis.x(v)), d.ci_high.map(|v| axis.x(v)));
    html! {
        g.forest-row data-test=(d.test) data-treatment=(d.treatment) data-control=(d.control)
            data-estimate=[exact(d.estimate)] data-ci-low=[exact(d.ci_low)] data-ci-high=[exact(d.ci_high)]
            data-true-effect=[exact(d.true_effect)] data-outcome=(d.outcome.map_or("", Verdict::as_str)) {
            title { (row_text(d, arms)) }
            text x=(LABEL_W - 10.0) y=(cy + 4.0) text-anchor="end" { (label) }
            @if let (Some(l), Some(h)) = (lo, hi) {
                line x1=(l) x2=(h) y1=(cy) y2=(cy) stroke=(colour) stroke-width="2" {}
                @for (x, end) in [(l, d.ci_low), (h, d.ci_high)] {
                    @if finite(end).is_some() {
                        line x1=(x) x2=(x) y1=(cy - 5.0) y2=(cy + 5.0) stroke=(colour) stroke-width="2" {}
                    }
                }
            }
            @if let Some(t) = finite(d.true_effect) {
                line.truth x1=(axis.x(t)) x2=(axis.x(t)) y1=(cy - ROW_H / 2.0) y2=(cy + ROW_H / 2.0) stroke="black" stroke-width="2.5" {}
            }
            @if wrong {
                (diamond(axis.x(est), cy, RED))
                text.verdict x=(WIDTH - RIGHT_W + 10.0) y=(cy + 4.0) fill=(RED) font-weight="700" {
                    (if d.outcome == Some(Verdict::TypeI) { "✗ type I" } else { "✗ type II" })
                }
            } @else if d.outcome.is_some() {
                circle cx=(axis.x(est)) cy=(cy) r="5" fill=(colour) {}
            } @else {
                circle cx=(axis.x(est)) cy=(cy) r="5" fill="white" stroke=(GREY) stroke-width="2" {}
            }
        }
    }
}

/// The groups' observed shares of customers against the planned split (`None` when no
/// group has both).
pub(crate) fn srm_bar(groups: &[GroupShare], srm: Option<&Srm>) -> Option<Markup> {
    let shown: Vec<&GroupShare> = groups
        .iter()
        .filter(|g| g.planned.is_some() && g.observed.is_some())
        .collect();
    if shown.is_empty() {
        return None;
    }
    let mismatch = srm.is_some_and(|s| s.mismatch);
    let axis = Axis { lo: 0.0, hi: 1.0 };
    let top = LEGEND_H;
    let y1 = top + ROW_H * shown.len() as f64;
    let height = y1 + AXIS_H;
    let share = |x: Option<f64>| x.map_or_else(|| "—".into(), |v| format!("{:.1} %", 100.0 * v));
    let mut desc: Vec<String> = shown
        .iter()
        .map(|g| {
            format!(
                "{}: {} observed, {} planned",
                g.group,
                share(g.observed),
                share(g.planned)
            )
        })
        .collect();
    if let Some(s) = srm {
        desc.push(format!(
            "sample-ratio check χ² = {}, p = {}{}",
            num(Some(s.statistic)),
            p_value(Some(s.p_value)),
            if s.mismatch { ": mismatch" } else { "" }
        ));
    }
    let body = html! {
        g.legend {
            rect x="8" y="7" width="18" height="12" fill=(if mismatch { RED } else { BLUE }) {}
            text x="32" y="17" { "observed share" }
            line x1="150" x2="150" y1="4" y2="22" stroke="black" stroke-width="2.5" {}
            text x="158" y="17" { "planned share" }
            @if mismatch { text x="280" y="17" fill=(RED) font-weight="700" { "✗ sample ratio mismatch" } }
        }
        @for t in [0.0, 0.25, 0.5, 0.75, 1.0] {
            line x1=(axis.x(t)) x2=(axis.x(t)) y1=(top) y2=(y1) stroke=(GRID) {}
            text x=(axis.x(t)) y=(y1 + 16.0) text-anchor="middle" fill="#333" { (format!("{:.0} %", 100.0 * t)) }
        }
        line x1=(LABEL_W) x2=(WIDTH - RIGHT_W) y1=(y1) y2=(y1) stroke="black" {}
        @for (i, g) in shown.iter().enumerate() {
            @let cy = top + ROW_H * (i as f64 + 0.5);
            @let (obs, plan) = (g.observed.unwrap_or_default(), g.planned.unwrap_or_default());
            g.srm-row data-group=(g.group) data-observed=[exact(g.observed)] data-planned=[exact(g.planned)] {
                title { (desc[i]) }
                text x=(LABEL_W - 10.0) y=(cy + 4.0) text-anchor="end" { (g.group) }
                rect x=(LABEL_W) y=(cy - 7.0) width=(axis.x(obs) - LABEL_W) height="14" fill=(if mismatch { RED } else { BLUE }) {}
                line x1=(axis.x(plan)) x2=(axis.x(plan)) y1=(cy - 11.0) y2=(cy + 11.0) stroke="black" stroke-width="2.5" {}
                text x=(WIDTH - RIGHT_W + 10.0) y=(cy + 4.0) { (share(g.observed)) }
            }
        }
    };
    let title = "Groups: each group's observed share of the customers against the planned split";
    Some(html! {
        figure.chart.srm {
            (svg("srm", height, title, &(desc.join("; ") + "."), body))
            figcaption {
                "Each group's observed share of the customers (bar, its value at the right) against its planned share "
                "(black line)" @if mismatch { "; red: the split is off the plan (sample ratio mismatch)" } ". The numbers are in the table below."
            }
        }
    })
}
