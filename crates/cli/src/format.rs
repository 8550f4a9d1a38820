//! How the command line writes numbers, p-values, intervals and verdicts: one formatter
//! each, shared by every command's text output (`analyze`, `pipeline run`, `runs show`);
//! and its `--json` output.

use abforge_analysis::Verdict;
use std::io::Write;

/// `value` as pretty JSON and a newline (what `--json` prints).
pub fn json(out: &mut impl Write, value: &impl serde::Serialize) -> anyhow::Result<()> {
    serde_json::to_writer_pretty(&mut *out, value)?;
    writeln!(out)?;
    Ok(())
}

/// A p-value: 4 decimals, scientific below 1e-4, `<1e-300` for an underflow to 0, `-` for
/// none (NaN).
pub fn p_value(x: f64) -> String {
    if x.is_nan() {
        "-".into()
    } else if x == 0.0 {
        "<1e-300".into()
    } else if x < 1e-4 {
        format!("{x:.2e}")
    } else {
        format!("{x:.4}")
    }
}

/// A number: 4 decimals, scientific when its magnitude is outside [1e-3, 1e7); `+inf` and
/// `-inf` for the open ends of one-sided intervals.
pub fn number(x: f64) -> String {
    if !x.is_finite() {
        return if x > 0.0 {
            "+inf".into()
        } else {
            "-inf".into()
        };
    }
    let a = x.abs();
    if a != 0.0 && !(1e-3..1e7).contains(&a) {
        format!("{x:.4e}")
    } else {
        format!("{x:.4}")
    }
}

/// An interval `[lo, hi]` of [`number`]s.
pub fn interval(lo: f64, hi: f64) -> String {
    format!("[{}, {}]", number(lo), number(hi))
}

/// How a verdict reads in a text table: `correct`, `TYPE I`, `TYPE II`.
pub fn verdict(v: Verdict) -> &'static str {
    match v {
        Verdict::Correct => "correct",
        Verdict::TypeI => "TYPE I",
        Verdict::TypeIi => "TYPE II",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn p_values_read_as_bounds_and_decimals() {
        assert_eq!(p_value(0.0), "<1e-300");
        assert_eq!(p_value(f64::NAN), "-");
        assert_eq!(p_value(3.2e-7), "3.20e-7");
        assert_eq!(p_value(0.04999), "0.0500");
        assert_eq!(p_value(1.0), "1.0000");
    }

    #[test]
    fn numbers_switch_to_scientific_outside_the_readable_range() {
        assert_eq!(number(0.0), "0.0000");
        assert_eq!(number(-12.5), "-12.5000");
        assert_eq!(number(2.5e-4), "2.5000e-4");
        assert_eq!(number(1.5e7), "1.5000e7");
        assert_eq!(interval(f64::NEG_INFINITY, 0.25), "[-inf, 0.2500]");
    }

    #[test]
    fn every_verdict_has_a_label() {
        let labels: Vec<_> = Verdict::ALL.into_iter().map(verdict).collect();
        assert_eq!(labels, ["correct", "TYPE I", "TYPE II"]);
    }
}
