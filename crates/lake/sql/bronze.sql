-- bronze/customers ← the relational store, for one run (the DMS step of the seed's design).
--
-- Inputs (registered by crates/lake/src/layers.rs):
--   landed  the run's rows of the relational store's `customers` table, streamed, every
--           column nullable: bronze keeps what landed, bad values included
--   run     one row of the run's parameters: run_id, run_date, loaded_at (UTC), source (the
--           relational store's URL, without its password)
--
-- Bronze adds the load metadata and changes nothing else. The table is partitioned by
-- experiment_id and run_date; a rerun replaces the run's rows in one commit.
SELECT
  landed.*,
  run.run_id,
  run.run_date,
  run.loaded_at,
  run.source
FROM run CROSS JOIN landed
