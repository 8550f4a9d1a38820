//! Replications drawn by synth's generator, for designs the lab's own per-metric draws do
//! not reproduce: customers in clusters (an ICC, or whole clusters randomised), effects that
//! change by day, and metrics joined by a copula. Each replication is the dataset
//! `generate` would write for the blueprint under the replication's seed — its own cluster
//! sizes, cluster-to-arm assignment, daily arrivals and random group sizes — read back into
//! per-group columns in arrival order.

use abforge_synth::blueprint::EffectCurve;
use abforge_synth::{Blueprint, Generator, Resolved};
use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int16Type, Int64Type};
use arrow_array::{Array, RecordBatch};
use arrow_schema::DataType;

/// Whether `bp` needs the generator: clusters (whose ids the cluster-robust test reads), an
/// effect that changes by day, or correlations between metrics (which families of tests over
/// several metrics, and CUPAC's features, see).
pub(crate) fn needs_generator(bp: &Blueprint) -> bool {
    let clusters = bp.clusters.is_some();
    let daily = bp
        .time
        .as_ref()
        .is_some_and(|t| t.effect != EffectCurve::Constant);
    clusters || daily || !bp.correlations.is_empty()
}

/// Whether `bp`'s truth depends on the replication's seed beyond its `choose` parameters:
/// with an effect that changes by day, the whole run's effect weighs the days by their
/// customers, which each replication draws.
pub(crate) fn truth_per_replication(bp: &Blueprint) -> bool {
    bp.time
        .as_ref()
        .is_some_and(|t| t.effect != EffectCurve::Constant)
}

/// Whether `bp` puts customers in clusters.
pub(crate) fn has_clusters(bp: &Blueprint) -> bool {
    bp.clusters.is_some()
}

/// One replication's columns, per calibrated metric and group, in arrival order.
#[derive(Debug, Default)]
pub(crate) struct Drawn {
    /// `values[pos][group]`.
    pub values: Vec<Vec<Vec<f64>>>,
    /// `covariates[pos][group]`: the `pre_` twin, empty when the metric has none.
    pub covariates: Vec<Vec<Vec<f64>>>,
    /// `clusters[group]`: each customer's cluster, empty without clusters.
    pub clusters: Vec<Vec<u64>>,
}

impl Drawn {
    pub(crate) fn reset(&mut self, metrics: usize, groups: usize) {
        let clear = |v: &mut Vec<Vec<f64>>| {
            v.resize_with(groups, Vec::new);
            v.iter_mut().for_each(Vec::clear);
        };
        self.values.resize_with(metrics, Vec::new);
        self.covariates.resize_with(metrics, Vec::new);
        self.values.iter_mut().for_each(clear);
        self.covariates.iter_mut().for_each(clear);
        self.clusters.resize_with(groups, Vec::new);
        self.clusters.iter_mut().for_each(Vec::clear);
    }
}

/// Generates the customers of `resolved` and keeps the columns of `metrics` (names of
/// calibrated metrics, in their order) split by group.
pub(crate) fn draw(resolved: Resolved, metrics: &[&str], out: &mut Drawn) {
    let groups = resolved.blueprint.groups.len();
    out.reset(metrics.len(), groups);
    let generator = Generator::new(resolved);
    for chunk in 0..generator.chunk_count() {
        let batch = generator.chunk(chunk);
        let group = batch
            .column_by_name("group")
            .expect("the generator writes a group")
            .as_dictionary::<Int16Type>()
            .keys()
            .clone();
        let split = |name: &str, into: &mut [Vec<f64>]| {
            let col = floats(&batch, name);
            for (g, v) in group.values().iter().zip(col) {
                into[*g as usize].push(v);
            }
        };
        for (pos, name) in metrics.iter().enumerate() {
            split(name, &mut out.values[pos]);
            if batch.column_by_name(&format!("pre_{name}")).is_some() {
                split(&format!("pre_{name}"), &mut out.covariates[pos]);
            }
        }
        if let Some(c) = batch.column_by_name("cluster_id") {
            let ids = c.as_primitive::<Int64Type>();
            for (g, id) in group.values().iter().zip(ids.values()) {
                out.clusters[*g as usize].push(*id as u64);
            }
        }
    }
}

/// Column `name` of `batch` as floats (the generator writes metrics as Int64 or Float64).
fn floats(batch: &RecordBatch, name: &str) -> Vec<f64> {
    let col = batch
        .column_by_name(name)
        .expect("the generator writes every metric");
    match col.data_type() {
        DataType::Int64 => col
            .as_primitive::<Int64Type>()
            .values()
            .iter()
            .map(|v| *v as f64)
            .collect(),
        _ => col.as_primitive::<Float64Type>().values().to_vec(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn example(name: &str) -> Blueprint {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../examples")
            .join(name);
        Blueprint::from_toml(&std::fs::read_to_string(path).expect("example")).expect("valid")
    }

    /// The columns read back are the generator's, split by group in arrival order.
    #[test]
    fn the_split_columns_are_the_generators() {
        let mut bp = example("clustered_stores.toml");
        bp.customers = 70_000;
        let resolved = bp.resolve().expect("resolves");
        let batch = Generator::new(resolved.clone()).chunk(0);
        let mut d = Drawn::default();
        draw(resolved, &["visits"], &mut d);
        let n: usize = d.values[0].iter().map(Vec::len).sum();
        assert_eq!(n, 70_000);
        assert_eq!(d.clusters[0].len(), d.values[0][0].len());
        let first_control = floats(&batch, "visits")
            .into_iter()
            .zip(
                batch
                    .column_by_name("group")
                    .unwrap()
                    .as_dictionary::<Int16Type>()
                    .keys()
                    .values(),
            )
            .find(|(_, g)| **g == 0)
            .map(|(v, _)| v);
        assert_eq!(first_control, d.values[0][0].first().copied());
        // Whole clusters are randomised: no cluster is in both arms.
        let in_control: std::collections::HashSet<u64> = d.clusters[0].iter().copied().collect();
        assert!(d.clusters[1].iter().all(|c| !in_control.contains(c)));
        assert!(needs_generator(&bp) && has_clusters(&bp));
        assert!(!needs_generator(&example("aa_null.toml")));
    }
}
