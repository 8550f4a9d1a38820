//! The silver quality gate: how many of a run's rows broke which rule, and whether that is
//! more than allowed.

use serde::Serialize;

/// The share of a run's rows that may break a rule before the silver step fails: 0.1 %.
pub const DEFAULT_QUARANTINE_MAX: f64 = 0.001;

/// What the quality gate found in one run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GateReport {
    /// The run id.
    pub run_id: String,
    /// The run's rows in bronze.
    pub rows: u64,
    /// Rows that passed every rule (now in silver/customers).
    pub passed: u64,
    /// Rows that broke a rule (now in silver/quarantine).
    pub quarantined: u64,
    /// Quarantined rows per rule, most first (then by name).
    pub by_rule: Vec<(String, u64)>,
    /// The largest share of quarantined rows allowed.
    pub threshold: f64,
}

impl GateReport {
    /// Quarantined rows over all rows (0 when there are none).
    pub fn share(&self) -> f64 {
        if self.rows == 0 {
            0.0
        } else {
            self.quarantined as f64 / self.rows as f64
        }
    }

    /// Whether the share is within the threshold.
    pub fn passes(&self) -> bool {
        self.share() <= self.threshold
    }

    /// `rule count, …`, or `none`.
    pub fn rules(&self) -> String {
        if self.by_rule.is_empty() {
            return "none".into();
        }
        self.by_rule
            .iter()
            .map(|(r, n)| format!("{r} {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

impl std::fmt::Display for GateReport {
    /// One line with every count: what the run log keeps.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let verdict = if self.passes() { "within" } else { "ABOVE" };
        write!(
            f,
            "quality gate of run {}: {} of {} rows quarantined ({:.4} %, {verdict} the threshold \
             {:.4} %; rules broken: {}), {} rows passed",
            self.run_id,
            self.quarantined,
            self.rows,
            self.share() * 100.0,
            self.threshold * 100.0,
            self.rules(),
            self.passed
        )?;
        if !self.passes() {
            f.write_str(
                "; silver/customers was left as it was and the rows are in silver/quarantine",
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_has_every_count() {
        let mut g = GateReport {
            run_id: "r".into(),
            rows: 1000,
            passed: 998,
            quarantined: 2,
            by_rule: vec![("group".into(), 1), ("duplicate".into(), 1)],
            threshold: DEFAULT_QUARANTINE_MAX,
        };
        assert!(!g.passes());
        let line = g.to_string();
        assert!(
            line.contains("2 of 1000 rows quarantined (0.2000 %, ABOVE"),
            "{line}"
        );
        assert!(line.contains("group 1, duplicate 1"), "{line}");
        g.threshold = 0.002;
        assert!(g.passes(), "equal to the threshold passes");
        assert!(!g.to_string().contains("left as it was"));
    }
}
