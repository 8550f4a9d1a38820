//! `abforge truth`.

use super::load;
use crate::cli::TruthArgs;
use abforge_synth::Resolved;
use anyhow::Context;
use std::io::Write;

/// Prints the resolved blueprint and its truth.
pub fn run(args: &TruthArgs) -> anyhow::Result<()> {
    let bp = load(&args.source)?;
    let resolved = bp
        .resolve()
        .with_context(|| args.source.blueprint.display().to_string())?;
    let mut out = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer_pretty(&mut out, &resolved.truth_json())?;
        writeln!(out)?;
    } else {
        write_text(&mut out, &resolved)?;
    }
    Ok(())
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
    if let Some(c) = &t.clusters {
        write_clusters(out, c)?;
    }
    if let Some(time) = &t.time {
        write_time(out, time)?;
    }
    for r in &t.ratios {
        write_ratio(out, r)?;
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

/// The clusters: each clustered metric's ICC and design effect in every group.
fn write_clusters(
    out: &mut impl Write,
    c: &abforge_synth::truth::ClusterTruth,
) -> std::io::Result<()> {
    writeln!(
        out,
        "clusters: {} ({} assignment), {:.1} customers each on average, size cv {:.3}",
        c.count, c.assignment, c.mean_size, c.size_cv
    )?;
    let opt =
        |x: Option<f64>, digits: usize| x.map_or("—".to_string(), |v| format!("{v:.digits$}"));
    for m in &c.metrics {
        writeln!(
            out,
            "  {}: ICC of normal scores {:.4}",
            m.metric, m.icc_normal_scores
        )?;
        writeln!(
            out,
            "    {:<16} {:>10} {:>14}",
            "group", "ICC", "design effect"
        )?;
        for g in &m.groups {
            writeln!(
                out,
                "    {:<16} {:>10} {:>14}",
                g.group,
                opt(g.icc, 6),
                opt(g.design_effect, 3)
            )?;
        }
        for e in &m.effects {
            writeln!(
                out,
                "    {} − {}: design effect of the difference in means {}",
                e.group,
                e.control,
                opt(e.design_effect, 3)
            )?;
        }
    }
    Ok(())
}

/// A ratio metric: its ratio of means and mean of ratios in every group.
fn write_ratio(out: &mut impl Write, r: &abforge_synth::truth::RatioTruth) -> std::io::Result<()> {
    let opt = |x: Option<f64>| x.map_or("—".to_string(), |v| format!("{v:.6}"));
    writeln!(out, "ratio {} / {}:", r.numerator, r.denominator)?;
    writeln!(
        out,
        "    {:<16} {:>16} {:>16}",
        "group", "ratio of means", "mean of ratios"
    )?;
    for g in &r.groups {
        writeln!(
            out,
            "    {:<16} {:>16} {:>16}",
            g.group,
            opt(g.ratio_of_means),
            opt(g.mean_of_ratios)
        )?;
    }
    for e in &r.effects {
        let null = if e.null == Some(true) {
            "  (null holds)"
        } else {
            ""
        };
        let d = e.difference.map_or("—".to_string(), |v| format!("{v:+.6}"));
        writeln!(
            out,
            "    {} − {}: ratio of means {d}{null}",
            e.group, e.control
        )?;
    }
    Ok(())
}

/// The arrivals day by day, with each changing effect on each day.
fn write_time(out: &mut impl Write, t: &abforge_synth::truth::TimeTruth) -> std::io::Result<()> {
    writeln!(
        out,
        "arrivals in customer_id order over {} days:",
        t.days.len()
    )?;
    write!(
        out,
        "  {:>4} {:<10} {:<4} {:>10} {:>9}",
        "day", "date", "", "customers", "effect ×"
    )?;
    for e in &t.effects {
        write!(out, " {:>16}", format!("{}:{}", e.metric, e.group))?;
    }
    writeln!(out)?;
    for (d, day) in t.days.iter().enumerate() {
        write!(
            out,
            "  {:>4} {:<10} {:<4} {:>10} {:>9.4}",
            d, day.date, day.weekday, day.customers, day.multiplier
        )?;
        for e in &t.effects {
            write!(out, " {:>+16.6}", e.daily[d])?;
        }
        writeln!(out)?;
    }
    for e in &t.effects {
        writeln!(
            out,
            "  {} {} − {} over the whole run: {:+.6}",
            e.metric, e.group, e.control, e.whole_run
        )?;
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
