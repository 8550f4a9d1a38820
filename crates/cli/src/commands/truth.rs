//! `abforge truth`.

use super::load;
use crate::cli::TruthArgs;
use abforge_synth::Resolved;
use anyhow::Context;
use serde_json::json;
use std::io::Write;

/// Prints the resolved blueprint and its truth.
pub fn run(args: &TruthArgs) -> anyhow::Result<()> {
    let bp = load(&args.source)?;
    let resolved = bp
        .resolve()
        .with_context(|| args.source.blueprint.display().to_string())?;
    let mut out = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer_pretty(&mut out, &to_json(&resolved))?;
        writeln!(out)?;
    } else {
        write_text(&mut out, &resolved)?;
    }
    Ok(())
}

/// The `--json` document: the truth's fields, the resolved blueprint and the choices drawn.
pub fn to_json(r: &Resolved) -> serde_json::Value {
    let t = r.truth();
    json!({
        "experiment_id": t.experiment_id,
        "seed": t.seed,
        "control_group": t.control_group,
        "choices": r.choices,
        "allocation": t.allocation,
        "sample_ratio_mismatch": t.sample_ratio_mismatch,
        "metrics": t.metrics,
        "correlations": t.correlations,
        "blueprint": r.blueprint.to_json_value(),
    })
}

fn write_text(out: &mut impl Write, r: &Resolved) -> std::io::Result<()> {
    let t = r.truth();
    writeln!(out, "# resolved blueprint")?;
    write!(out, "{}", r.blueprint.to_toml())?;
    writeln!(out)?;
    writeln!(
        out,
        "# ground truth of experiment {} (seed {})",
        t.experiment_id, t.seed
    )?;
    if !r.choices.is_empty() {
        writeln!(out, "choices drawn:")?;
        for c in &r.choices {
            writeln!(out, "  {} = {}  (from {})", c.path, c.chosen, c.source())?;
        }
    }
    write!(out, "allocation:")?;
    for a in &t.allocation {
        write!(out, "  {} {:.1}%", a.group, 100.0 * a.planned)?;
        if t.sample_ratio_mismatch {
            write!(out, " planned / {:.1}% actual", 100.0 * a.actual)?;
        }
    }
    writeln!(
        out,
        "{}",
        if t.sample_ratio_mismatch {
            "  (sample-ratio mismatch on purpose)"
        } else {
            ""
        }
    )?;
    for c in &t.correlations {
        let [a, b] = &c.metrics;
        write!(
            out,
            "correlation of {a} and {b}: normal scores {:+.4}",
            c.normal_scores
        )?;
        match c.spearman {
            Some(s) => writeln!(out, ", Spearman {s:+.4}")?,
            None => writeln!(
                out,
                " (Spearman depends on the ties of an integer or zero-inflated law)"
            )?,
        }
    }
    for m in &t.metrics {
        writeln!(out)?;
        let kind = if m.integer { "integer" } else { "real" };
        writeln!(out, "{} ({}, {kind})", m.metric, m.distribution)?;
        writeln!(
            out,
            "  {:<16} {:>16} {:>16} {:>14}",
            "group", "mean", "variance", "sd"
        )?;
        for g in &m.groups {
            writeln!(
                out,
                "  {:<16} {:>16.6} {:>16.6} {:>14.6}",
                g.group,
                g.mean,
                g.variance,
                g.variance.sqrt()
            )?;
        }
        write_quantiles(out, m)?;
        write_effects(out, m)?;
    }
    Ok(())
}

/// Each treatment arm of `m` against the control: the mean difference, the Mann–Whitney
/// estimand and the quantile differences, each with whether its null holds.
fn write_effects(
    out: &mut impl Write,
    m: &abforge_synth::truth::MetricTruth,
) -> std::io::Result<()> {
    for e in &m.effects {
        let rel = e
            .rel_effect
            .map_or("n/a".to_string(), |r| format!("{:+.4}%", 100.0 * r));
        let same = if e.identical {
            "  (identical laws)"
        } else {
            ""
        };
        writeln!(out, "  {} vs {}{same}", e.group, e.control)?;
        writeln!(
            out,
            "    mean difference   {:>+14.6} ({rel:>10})  null (equal means) is {}",
            e.abs_effect, e.mean_null
        )?;
        if let (Some(p), Some(null)) = (e.prob_superiority, e.prob_superiority_null) {
            writeln!(
                out,
                "    P(T>C)+½P(T=C)    {p:>14.6} {:>12}  null (= ½) is {null}",
                ""
            )?;
        }
        if !e.quantile_effects.is_empty() {
            write!(out, "    quantile difference")?;
            for q in &e.quantile_effects {
                let null = if q.null { " (null)" } else { "" };
                write!(out, "  {} {:+.6}{null}", p_label(q.p), q.difference)?;
            }
            writeln!(out)?;
        }
    }
    Ok(())
}

/// The true quantiles of each group, a column per probability; on a real metric, `*` marks
/// a value of positive probability (0 under zero-inflation).
fn write_quantiles(
    out: &mut impl Write,
    m: &abforge_synth::truth::MetricTruth,
) -> std::io::Result<()> {
    let Some(first) = m.groups.first().filter(|g| !g.quantiles.is_empty()) else {
        return Ok(());
    };
    write!(out, "  {:<16}", "quantile")?;
    for q in &first.quantiles {
        write!(out, " {:>16}", p_label(q.p))?;
    }
    writeln!(out)?;
    let atoms = !m.integer && m.groups.iter().flat_map(|g| &g.quantiles).any(|q| q.atom);
    for g in &m.groups {
        write!(out, "  {:<16}", g.group)?;
        for q in &g.quantiles {
            match (atoms, q.atom) {
                (false, _) => write!(out, " {:>16.6}", q.value)?,
                (true, atom) => write!(out, " {:>15.6}{}", q.value, if atom { "*" } else { " " })?,
            }
        }
        writeln!(out)?;
    }
    if atoms {
        writeln!(out, "  (* a value of positive probability: the atom at 0)")?;
    }
    Ok(())
}

/// `p50`, `p90`, `p99.9` for 0.5, 0.9, 0.999.
fn p_label(p: f64) -> String {
    let pct = format!("{:.6}", 100.0 * p);
    format!("p{}", pct.trim_end_matches('0').trim_end_matches('.'))
}
