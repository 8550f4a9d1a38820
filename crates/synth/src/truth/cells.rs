//! The probability of each segment cell of a metric, found without walking every
//! combination of attribute values.

use super::budget::{Budget, CELL_BUDGET, Stop};
use crate::blueprint::{Attribute, MetricModel};
use std::collections::HashMap;

/// The values of one attribute that the segments tell apart.
struct Class {
    /// Probability of the class.
    p: f64,
    /// Segments (sorted) whose condition on this attribute the class meets.
    meets: Vec<u32>,
}

/// One attribute the segments use: its classes, and the segments (sorted) it constrains.
struct Used {
    classes: Vec<Class>,
    constrains: Vec<u32>,
}

/// Probability of each segment cell of `m` (index `segments.len()`: no segment matches).
///
/// Attributes are independent, so the cells come from a depth-first walk over the
/// attributes the segments use, one class of values at a time (values no `when` tells
/// apart form one class, so an attribute of 10 000 values named by one segment has two).
/// A branch ends as soon as the first segment still possible is met, or none is left, and
/// an attribute no segment still possible looks at is not branched on.
/// Each step costs a unit of `budget`, and one metric's walk at most [`CELL_BUDGET`].
pub(crate) fn cell_weights(
    attrs: &[Attribute],
    m: &MetricModel,
    budget: &mut Budget,
) -> Result<Vec<f64>, Stop> {
    let n = m.segments.len();
    let mut out = vec![0.0; n + 1];
    let (used, last) = classes(attrs, m);
    let mut steps = 0u64;
    // (depth, probability, segments still possible): depth attributes are fixed.
    let mut stack = vec![(0usize, 1.0f64, (0..n as u32).collect::<Vec<u32>>())];
    while let Some((depth, p, alive)) = stack.pop() {
        steps += alive.len() as u64 + 1;
        budget.charge(alive.len() as u64 + 1)?;
        if steps > CELL_BUDGET {
            return Err(Stop::Exhausted);
        }
        match alive.first() {
            None => out[n] += p,
            Some(&s) if last[s as usize] < depth => out[s as usize] += p,
            Some(_) => {
                let u = &used[depth];
                if alive.iter().all(|s| u.constrains.binary_search(s).is_err()) {
                    // No segment still possible looks at this attribute.
                    stack.push((depth + 1, p, alive));
                    continue;
                }
                for c in &u.classes {
                    let next = alive
                        .iter()
                        .copied()
                        .filter(|s| {
                            u.constrains.binary_search(s).is_err()
                                || c.meets.binary_search(s).is_ok()
                        })
                        .collect();
                    stack.push((depth + 1, p * c.p, next));
                }
            }
        }
    }
    Ok(out)
}

/// The attributes the segments use, in index order, with their classes; and for each
/// segment the position (in that order) of the last attribute it constrains.
fn classes(attrs: &[Attribute], m: &MetricModel) -> (Vec<Used>, Vec<usize>) {
    let mut order: Vec<usize> = m
        .segments
        .iter()
        .flat_map(|s| s.when.iter().map(|(a, _)| *a))
        .collect();
    order.sort_unstable();
    order.dedup();
    let pos: HashMap<usize, usize> = order.iter().enumerate().map(|(i, a)| (*a, i)).collect();
    let mut last = vec![0; m.segments.len()];
    // Per used attribute and value: the segments whose condition the value meets.
    let mut meets: Vec<HashMap<usize, Vec<u32>>> = vec![HashMap::new(); order.len()];
    let mut constrains: Vec<Vec<u32>> = vec![Vec::new(); order.len()];
    for (si, s) in m.segments.iter().enumerate() {
        for (a, vals) in &s.when {
            let i = pos[a];
            last[si] = last[si].max(i);
            constrains[i].push(si as u32);
            for v in vals {
                let list = meets[i].entry(*v).or_default();
                if list.last() != Some(&(si as u32)) {
                    list.push(si as u32);
                }
            }
        }
    }
    let used = order
        .iter()
        .zip(meets)
        .zip(constrains)
        .map(|((a, meets), mut constrains)| {
            constrains.dedup();
            let values = &attrs[*a].values;
            let total: f64 = values.iter().map(|(_, w)| w).sum();
            let mut by_sig: HashMap<Vec<u32>, f64> = HashMap::new();
            for (v, (_, w)) in values.iter().enumerate() {
                let sig = meets.get(&v).cloned().unwrap_or_default();
                *by_sig.entry(sig).or_default() += w / total;
            }
            let mut classes: Vec<Class> = by_sig
                .into_iter()
                .map(|(meets, p)| Class { p, meets })
                .collect();
            // Deterministic order (the sums must not depend on hashing).
            classes.sort_by(|x, y| x.meets.cmp(&y.meets));
            Used {
                classes,
                constrains,
            }
        })
        .collect();
    (used, last)
}
