//! A run: its id, its seed, and the parameters it draws.
//!
//! The run id derives from the experiment id and the run date alone, so a rerun of the same
//! date is the same run. The run's seed derives from the blueprint's seed and the run id, so
//! each weekly run draws its own `choose` parameters and its own customers — and the same
//! ones every time that date is run again. Its purchase dates cover the `days` from the run
//! date on (the run date is the start of the data interval, as Airflow's `ds`).

use crate::error::{Error, Result};
use abforge_synth::Blueprint;
use abforge_synth::blueprint::Resolved;
use abforge_synth::generate::{Generator, Shard};
use chrono::NaiveDate;
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::ops::Range;

/// The run id of `experiment_id` on `run_date`: `<experiment>-<yyyymmdd>`, within the
/// params API's `[a-z0-9_-]{1,64}` (a long experiment id is cut and a hash of it added).
pub fn run_id(experiment_id: &str, run_date: NaiveDate) -> String {
    let date = run_date.format("%Y%m%d").to_string();
    if experiment_id.len() + 1 + date.len() <= 64 {
        return format!("{experiment_id}-{date}");
    }
    let h = hex(&Sha256::digest(experiment_id.as_bytes()))[..8].to_string();
    // 64 = kept + '-' + 8 + '-' + 8; experiment ids are ASCII.
    format!("{}-{h}-{date}", &experiment_id[..46])
}

/// The seed of a run: the first 8 bytes of SHA-256 over the blueprint's seed and the run id.
pub fn run_seed(blueprint_seed: u64, run_id: &str) -> u64 {
    let mut h = Sha256::new();
    h.update(b"abforge run seed\0");
    h.update(blueprint_seed.to_le_bytes());
    h.update(run_id.as_bytes());
    let d = h.finalize();
    u64::from_le_bytes(d[..8].try_into().expect("8 bytes"))
}

/// Everything a step needs to know about its run.
#[derive(Debug, Clone)]
pub struct RunPlan {
    /// The experiment id.
    pub experiment_id: String,
    /// The run id.
    pub run_id: String,
    /// The run date.
    pub run_date: NaiveDate,
    /// The run's seed.
    pub seed: u64,
    /// The blueprint with the run's seed and start date, every `choose` drawn.
    pub resolved: Resolved,
    /// The resolved blueprint as JSON: what is published and stored with the run.
    pub blueprint_json: Value,
    /// SHA-256 (hex) of that JSON's canonical bytes — the params API computes the same.
    pub blueprint_hash: String,
}

impl RunPlan {
    /// The run of `blueprint` on `run_date`.
    ///
    /// # Errors
    /// [`Error::Blueprint`] when the blueprint cannot be resolved with the run's seed.
    pub fn new(blueprint: &Blueprint, run_date: NaiveDate) -> Result<RunPlan> {
        let run_id = run_id(&blueprint.id, run_date);
        let seed = run_seed(blueprint.seed, &run_id);
        let run_blueprint = Blueprint {
            seed,
            start_date: run_date,
            ..blueprint.clone()
        };
        let resolved = run_blueprint.resolve()?;
        let blueprint_json = resolved.blueprint.to_json_value();
        let canonical = serde_json::to_vec(&blueprint_json)
            .map_err(|e| Error::Other(format!("serialising the blueprint: {e}")))?;
        Ok(RunPlan {
            experiment_id: blueprint.id.clone(),
            run_id,
            run_date,
            seed,
            resolved,
            blueprint_json,
            blueprint_hash: hex(&Sha256::digest(&canonical)),
        })
    }

    /// The generator of the run's customers.
    pub fn generator(&self) -> Generator {
        Generator::new(self.resolved.clone())
    }

    /// The customer ids of `shard` (all when `None`): the rows the generator makes for it.
    ///
    /// # Errors
    /// [`Error::Usage`] for a shard that does not exist.
    pub fn ids(&self, generator: &Generator, shard: Option<Shard>) -> Result<Range<u64>> {
        let chunks = generator
            .chunks(shard)
            .map_err(|e| Error::Usage(e.to_string()))?;
        let start = chunks.start * abforge_synth::generate::CHUNK_ROWS;
        Ok(start..start + generator.rows_in(&chunks))
    }

    /// The folder of the run's objects: `runs/<experiment>/<run>`.
    pub fn prefix(&self) -> String {
        format!("runs/{}/{}", self.experiment_id, self.run_id)
    }

    /// The key of the generated customers of `shard` (`None`: the whole run, `0/1`).
    pub fn part_key(&self, shard: Option<Shard>) -> String {
        let s = shard.unwrap_or(Shard { index: 0, count: 1 });
        format!(
            "{}/customers/part-{:05}-of-{:05}.parquet",
            self.prefix(),
            s.index,
            s.count
        )
    }

    /// The key of the analysis report (JSON).
    pub fn analysis_key(&self) -> String {
        format!("{}/analysis.json", self.prefix())
    }

    /// The key of the params object the API writes.
    pub fn params_key(&self) -> String {
        format!("params/{}/{}.json", self.experiment_id, self.run_id)
    }
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn run_ids_are_readable_and_fit_the_api() {
        assert_eq!(run_id("seed-ab", date("2026-11-23")), "seed-ab-20261123");
        let long = "x".repeat(64);
        let id = run_id(&long, date("2026-11-23"));
        assert_eq!(id.len(), 64);
        assert!(
            id.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_'),
            "{id}"
        );
        assert!(id.ends_with("-20261123"));
        assert_ne!(id, run_id(&"x".repeat(63), date("2026-11-23")));
    }

    #[test]
    fn each_date_draws_its_own_parameters_and_reruns_draw_the_same() {
        let bp = Blueprint::from_path(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../examples/seed.toml"
        ))
        .unwrap();
        let a = RunPlan::new(&bp, date("2026-11-23")).unwrap();
        let again = RunPlan::new(&bp, date("2026-11-23")).unwrap();
        let b = RunPlan::new(&bp, date("2026-11-30")).unwrap();
        assert_eq!(a.seed, again.seed);
        assert_eq!(a.blueprint_hash, again.blueprint_hash);
        assert_ne!(a.seed, b.seed);
        assert_ne!(a.blueprint_hash, b.blueprint_hash);
        assert_eq!(a.resolved.blueprint.seed, a.seed);
        assert_eq!(a.resolved.blueprint.start_date, date("2026-11-23"));
        assert_eq!(b.resolved.blueprint.start_date, date("2026-11-30"));
        assert!(!a.resolved.blueprint.has_choices());
        assert_eq!(
            a.params_key(),
            format!("params/{}/{}.json", bp.id, a.run_id)
        );
    }

    #[test]
    fn shards_cover_the_ids_without_overlap() {
        let bp = Blueprint::from_toml(
            "id = \"s\"\nseed = 1\ncustomers = 300000\nstart_date = 2026-01-01\ndays = 7\n\
             [groups]\ncontrol = 1\ntreatment = 1\n\
             [metrics.items]\ndistribution = \"poisson\"\ncontrol = { lambda = 2 }\ntreatment = { lambda = 2 }\n",
        )
        .unwrap();
        let plan = RunPlan::new(&bp, date("2026-01-05")).unwrap();
        let g = plan.generator();
        let parts: Vec<_> = (0..3)
            .map(|k| plan.ids(&g, Some(Shard { index: k, count: 3 })).unwrap())
            .collect();
        assert_eq!(parts[0].start, 0);
        assert_eq!(parts[2].end, 300_000);
        assert!(parts.windows(2).all(|w| w[0].end == w[1].start));
        assert_eq!(plan.ids(&g, None).unwrap(), 0..300_000);
        assert!(plan.ids(&g, Some(Shard { index: 3, count: 3 })).is_err());
    }
}
