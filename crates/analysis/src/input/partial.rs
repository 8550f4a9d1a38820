//! The values read, per group: a part of the data (a Parquet row group, a run of record
//! batches, a CSV file) with its own numbering of the groups, and the merge of the parts, in
//! row order, into one [`Dataset`].

use super::{Dataset, MetricData};
use abforge_synth::Blueprint;
use rayon::prelude::*;

/// What one row group (or run of batches) contributed: its own label numbering, merged
/// afterwards.
#[derive(Debug)]
pub(super) struct Partial {
    labels: Vec<String>,
    pub(super) counts: Vec<u64>,
    /// [metric][local group] → values.
    pub(super) values: Vec<Vec<Vec<f64>>>,
}

impl Partial {
    pub(super) fn new(metrics: usize) -> Self {
        Partial {
            labels: Vec::new(),
            counts: Vec::new(),
            values: vec![Vec::new(); metrics],
        }
    }

    pub(super) fn label(&mut self, s: &str) -> usize {
        if let Some(i) = self.labels.iter().position(|l| l == s) {
            return i;
        }
        self.labels.push(s.to_string());
        self.counts.push(0);
        for m in &mut self.values {
            m.push(Vec::new());
        }
        self.labels.len() - 1
    }
}

/// Merges partials in row order into one numbering of labels.
pub(super) fn merge(
    parts: Vec<Partial>,
    metrics: Vec<String>,
    analyzed: usize,
    blueprint: Option<Blueprint>,
) -> Dataset {
    let mut labels: Vec<String> = Vec::new();
    let maps: Vec<Vec<usize>> = parts
        .iter()
        .map(|p| {
            p.labels
                .iter()
                .map(|l| match labels.iter().position(|x| x == l) {
                    Some(i) => i,
                    None => {
                        labels.push(l.clone());
                        labels.len() - 1
                    }
                })
                .collect()
        })
        .collect();
    let g = labels.len();
    let mut counts = vec![0u64; g];
    for (p, map) in parts.iter().zip(&maps) {
        for (local, &n) in p.counts.iter().enumerate() {
            counts[map[local]] += n;
        }
    }
    // Concatenate per metric, in parallel across metrics.
    let mut per_metric: Vec<Vec<Vec<Vec<f64>>>> = vec![Vec::new(); metrics.len()];
    for p in parts {
        for (m, v) in p.values.into_iter().enumerate() {
            per_metric[m].push(v);
        }
    }
    let merged: Vec<MetricData> = per_metric
        .into_par_iter()
        .zip(metrics)
        .map(|(chunks, name)| {
            let mut by_group: Vec<Vec<f64>> = (0..g)
                .map(|k| Vec::with_capacity(counts[k] as usize))
                .collect();
            for (chunk, map) in chunks.into_iter().zip(&maps) {
                for (local, vals) in chunk.into_iter().enumerate() {
                    by_group[map[local]].extend_from_slice(&vals);
                }
            }
            MetricData { name, by_group }
        })
        .collect();
    Dataset {
        labels,
        counts,
        metrics: merged,
        analyzed,
        blueprint,
    }
}
