//! SVG plots of a calibration (rejection rates with their Wilson intervals against α) and
//! of a sweep (power curves, empirical beside analytic), drawn with `plotters`' SVG backend.
//! Text is written as SVG `<text>` and laid out by the viewer, so no font is needed here.

use crate::error::{Error, Result};
use crate::report::{Calibration, TestResult};
use crate::sweep::SweepReport;
use plotters::coord::Shift;
use plotters::coord::ranged1d::SegmentValue;
use plotters::prelude::*;
use std::path::Path;

/// Colours of the series, cycled.
const PALETTE: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

fn plot_error(path: &Path) -> impl Fn(&dyn std::fmt::Display) -> Error + '_ {
    move |e| Error::Plot {
        path: path.display().to_string(),
        message: e.to_string(),
    }
}

/// The (metric, arm) panels of a list of results, in order of first appearance.
fn panels<T>(results: &[TestResult<T>]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for r in results {
        if !out.iter().any(|(m, a)| *m == r.metric && *a == r.arm) {
            out.push((r.metric.clone(), r.arm.clone()));
        }
    }
    out
}

/// Draws the rejection rate of every test with its Wilson 95 % interval, one panel per
/// metric × arm, with a dashed line at α: under a true null each interval should straddle
/// it (red marks a miscalibrated test); under a false null the rate is the power, and the
/// analytic power is drawn as a cross.
///
/// # Errors
///
/// [`Error::Plot`] when the file cannot be written.
pub fn plot_calibration(path: &Path, cal: &Calibration) -> Result<()> {
    let root = SVGBackend::new(path, calibration_size(&cal.results)).into_drawing_area();
    draw_calibration(&root, cal, &cal.results)
        .and_then(|()| root.present().map_err(|e| e.to_string()))
        .map_err(|e| plot_error(path)(&e))
}

/// [`plot_calibration`] as an SVG document in a string (what the dashboard shows).
///
/// # Errors
///
/// [`Error::Plot`] when plotters cannot draw it.
pub fn calibration_svg(cal: &Calibration) -> Result<String> {
    results_svg(cal, &cal.results)
}

/// [`calibration_svg`] of any tests' `results` (an external engine's beside abforge's own,
/// say), drawn under `cal`'s settings (α, replications, customers, looks; its own results
/// are not drawn). Each test is labelled by its `Display`.
///
/// # Errors
///
/// [`Error::Plot`] when plotters cannot draw it.
pub fn results_svg<T: std::fmt::Display>(
    cal: &Calibration,
    results: &[TestResult<T>],
) -> Result<String> {
    let mut svg = String::new();
    {
        let size = calibration_size(results);
        let root = SVGBackend::with_string(&mut svg, size).into_drawing_area();
        draw_calibration(&root, cal, results)
            .and_then(|()| root.present().map_err(|e| e.to_string()))
            .map_err(|e| plot_error(Path::new("<svg>"))(&e))?;
    }
    Ok(svg)
}

fn calibration_size<T>(results: &[TestResult<T>]) -> (u32, u32) {
    let panels = panels(results);
    let tests_max = panels
        .iter()
        .map(|(m, a)| {
            results
                .iter()
                .filter(|r| r.metric == *m && r.arm == *a)
                .count()
        })
        .max()
        .unwrap_or(1);
    let width = (110 * tests_max as u32 + 120).max(800);
    (width, 340 * panels.len().max(1) as u32)
}

fn draw_calibration<DB: DrawingBackend, T: std::fmt::Display>(
    root: &DrawingArea<DB, Shift>,
    cal: &Calibration,
    results: &[TestResult<T>],
) -> std::result::Result<(), String> {
    let panels = panels(results);
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let areas = root.split_evenly((panels.len().max(1), 1));
    for (area, (metric, arm)) in areas.iter().zip(&panels) {
        let rows: Vec<&TestResult<T>> = results
            .iter()
            .filter(|r| r.metric == *metric && r.arm == *arm)
            .collect();
        draw_calibration_panel(area, cal, metric, arm, &rows)?;
    }
    Ok(())
}

/// The title of a calibration panel: the comparison, replications, customers and looks.
fn calibration_title(cal: &Calibration, metric: &str, arm: &str) -> String {
    format!(
        "{metric}: {arm} vs control — rejection rate, {} replications, {} customers{}",
        cal.replications,
        cal.customers,
        if cal.peeks > 1 {
            format!(", {} looks", cal.peeks)
        } else {
            String::new()
        }
    )
}

/// The colour of a test's rate: red when miscalibrated, blue under a true null, green under
/// a false one, purple when the truth is unknown.
fn calibration_colour<T>(r: &TestResult<T>) -> RGBColor {
    match (r.null_true, r.miscalibrated) {
        (_, true) => RGBColor(214, 39, 40),
        (Some(true), false) => RGBColor(31, 119, 180),
        (Some(false), _) => RGBColor(44, 160, 44),
        (None, false) => RGBColor(148, 103, 189),
    }
}

/// One metric × arm: each test's rejection rate with its interval, the analytic power, α.
fn draw_calibration_panel<DB: DrawingBackend, T: std::fmt::Display>(
    area: &DrawingArea<DB, Shift>,
    cal: &Calibration,
    metric: &str,
    arm: &str,
    rows: &[&TestResult<T>],
) -> std::result::Result<(), String> {
    let n = rows.len() as i32;
    // Under true nulls the rates sit near α: zoom in so the intervals can be read.
    let top = rows
        .iter()
        .map(|r| r.ci_high.max(r.analytic_power.unwrap_or(0.0)))
        .fold(3.0 * cal.alpha, f64::max);
    let y_max = if top > 0.5 {
        1.0
    } else {
        (top * 1.25).min(1.0)
    };
    let mut chart = ChartBuilder::on(area)
        .caption(calibration_title(cal, metric, arm), ("sans-serif", 16))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(56)
        .build_cartesian_2d((0..n).into_segmented(), 0f64..y_max)
        .map_err(|e| e.to_string())?;
    let names: Vec<String> = rows.iter().map(|r| r.test.to_string()).collect();
    chart
        .configure_mesh()
        .disable_x_mesh()
        .y_desc("rejection rate (95 % Wilson)")
        .x_labels(rows.len())
        .x_label_formatter(&|v| match v {
            SegmentValue::CenterOf(i) | SegmentValue::Exact(i) => {
                names.get(*i as usize).cloned().unwrap_or_default()
            }
            SegmentValue::Last => String::new(),
        })
        .draw()
        .map_err(|e| e.to_string())?;
    let alpha = cal.alpha;
    chart
        .draw_series(DashedLineSeries::new(
            [(SegmentValue::Exact(0), alpha), (SegmentValue::Last, alpha)],
            6,
            4,
            BLACK.stroke_width(1),
        ))
        .map_err(|e| e.to_string())?
        .label(format!("α = {alpha}"))
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], BLACK));
    let at = |i: usize| SegmentValue::CenterOf(i as i32);
    chart
        .draw_series(rows.iter().enumerate().map(|(i, r)| {
            let colour = calibration_colour(r).stroke_width(2);
            ErrorBar::new_vertical(at(i), r.ci_low, r.rejection_rate, r.ci_high, colour, 10)
        }))
        .map_err(|e| e.to_string())?;
    chart
        .draw_series(rows.iter().enumerate().map(|(i, r)| {
            Circle::new((at(i), r.rejection_rate), 4, calibration_colour(r).filled())
        }))
        .map_err(|e| e.to_string())?;
    if rows.iter().any(|r| r.analytic_power.is_some()) {
        chart
            .draw_series(rows.iter().enumerate().filter_map(|(i, r)| {
                r.analytic_power
                    .map(|p| Cross::new((at(i), p), 6, BLACK.stroke_width(2)))
            }))
            .map_err(|e| e.to_string())?
            .label("analytic power")
            .legend(|(x, y)| Cross::new((x + 8, y), 5, BLACK.stroke_width(2)));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()
        .map_err(|e| e.to_string())
}

/// Draws the power curve of every test, one panel per metric × arm: the empirical
/// rejection rate at each value with its Wilson 95 % interval (solid), the analytic power
/// (dashed, same colour) where a formula exists, and α (dashed black).
///
/// # Errors
///
/// [`Error::Plot`] when the file cannot be written.
pub fn plot_sweep(path: &Path, sweep: &SweepReport) -> Result<()> {
    if sweep.points.is_empty() {
        return Ok(());
    }
    let root = SVGBackend::new(path, sweep_size(sweep)).into_drawing_area();
    draw_sweep(&root, sweep)
        .and_then(|()| root.present().map_err(|e| e.to_string()))
        .map_err(|e| plot_error(path)(&e))
}

/// [`plot_sweep`] as an SVG document in a string (what the dashboard shows); empty for a
/// sweep without points.
///
/// # Errors
///
/// [`Error::Plot`] when plotters cannot draw it.
pub fn sweep_svg(sweep: &SweepReport) -> Result<String> {
    let mut svg = String::new();
    if sweep.points.is_empty() {
        return Ok(svg);
    }
    {
        let root = SVGBackend::with_string(&mut svg, sweep_size(sweep)).into_drawing_area();
        draw_sweep(&root, sweep)
            .and_then(|()| root.present().map_err(|e| e.to_string()))
            .map_err(|e| plot_error(Path::new("<svg>"))(&e))?;
    }
    Ok(svg)
}

fn sweep_size(sweep: &SweepReport) -> (u32, u32) {
    let panels = sweep
        .points
        .first()
        .map_or(1, |p| panels(&p.calibration.results).len());
    (960, 420 * panels.max(1) as u32)
}

fn draw_sweep<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    sweep: &SweepReport,
) -> std::result::Result<(), String> {
    let Some(first) = sweep.points.first() else {
        return Ok(());
    };
    let panels = panels(&first.calibration.results);
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let areas = root.split_evenly((panels.len().max(1), 1));
    let (x0, x1) = sweep
        .values
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| {
            (a.min(v), b.max(v))
        });
    let pad = if x1 > x0 { 0.03 * (x1 - x0) } else { 0.5 };
    for (area, (metric, arm)) in areas.iter().zip(&panels) {
        draw_sweep_panel(area, sweep, metric, arm, (x0 - pad, x1 + pad))?;
    }
    Ok(())
}

/// One metric × arm of a sweep: each test's power curve over `xs`, with α.
fn draw_sweep_panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    sweep: &SweepReport,
    metric: &str,
    arm: &str,
    (lo, hi): (f64, f64),
) -> std::result::Result<(), String> {
    let first = &sweep.points[0].calibration;
    let alpha = first.alpha;
    let mut chart = ChartBuilder::on(area)
        .caption(
            format!(
                "{metric}: {arm} vs control — power curve over {} ({} replications per point)",
                sweep.param, first.replications
            ),
            ("sans-serif", 16),
        )
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(56)
        .build_cartesian_2d(lo..hi, 0f64..1f64)
        .map_err(|e| e.to_string())?;
    chart
        .configure_mesh()
        .x_desc(sweep.param.as_str())
        .y_desc("rejection rate (95 % Wilson)")
        .draw()
        .map_err(|e| e.to_string())?;
    chart
        .draw_series(DashedLineSeries::new(
            [(lo, alpha), (hi, alpha)],
            6,
            4,
            BLACK.stroke_width(1),
        ))
        .map_err(|e| e.to_string())?
        .label(format!("α = {alpha}"))
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], BLACK));
    let tests = first
        .results
        .iter()
        .filter(|r| r.metric == metric && r.arm == arm)
        .map(|r| r.test);
    for (k, test) in tests.enumerate() {
        let colour = PALETTE[k % PALETTE.len()];
        let series: Vec<(f64, &TestResult)> = sweep
            .points
            .iter()
            .filter_map(|p| {
                p.calibration
                    .results
                    .iter()
                    .find(|r| r.metric == metric && r.arm == arm && r.test == test)
                    .map(|r| (p.value, r))
            })
            .collect();
        chart
            .draw_series(LineSeries::new(
                series.iter().map(|(x, r)| (*x, r.rejection_rate)),
                colour.stroke_width(2),
            ))
            .map_err(|e| e.to_string())?
            .label(test.name())
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 16, y)], colour.stroke_width(2))
            });
        chart
            .draw_series(series.iter().map(|(x, r)| {
                ErrorBar::new_vertical(*x, r.ci_low, r.rejection_rate, r.ci_high, colour, 8)
            }))
            .map_err(|e| e.to_string())?;
        let analytic: Vec<(f64, f64)> = series
            .iter()
            .filter_map(|(x, r)| r.analytic_power.map(|p| (*x, p)))
            .collect();
        if analytic.len() > 1 {
            chart
                .draw_series(DashedLineSeries::new(
                    analytic,
                    5,
                    4,
                    colour.stroke_width(1),
                ))
                .map_err(|e| e.to_string())?;
        }
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()
        .map_err(|e| e.to_string())
}
