-- The silver transform as ONE query with a window (crates/lake/sql/silver.sql before it was split
-- into silver_checked.sql, silver_repeated.sql and silver.sql): DuckDB is timed on both forms
-- by bench/lake.py, and the faster counts. Same rules, same output.
--
-- silver/customers and silver/quarantine ← bronze/customers, for one run.
--
-- Inputs (registered by crates/lake/src/layers.rs):
--   bronze  the run's rows of bronze/customers
--
-- The {{slots}} are filled from the run's resolved blueprint (crates/lake/src/sql.rs):
--   {{conformed}}  each column of the blueprint, typed (CAST) and conformed (TRIM of text)
--   {{checks}}     one `WHEN <the rule is broken> THEN '<rule>'` per rule, in this order:
--                    not_null:<column>   a NULL in any column
--                    experiment          experiment_id is not the run's experiment
--                    group               a group the blueprint does not have
--                    attribute:<name>    a value outside the attribute's set
--                    purchase_date       outside [start_date, start_date + days)
--                    metric:<name>       outside the support of the metric's distribution
--                                        (counts: integers >= offset; Bernoulli: offset or
--                                        offset + 1; Gamma, LogNormal: > offset; Normal:
--                                        finite; 0 too when the metric is zero-inflated)
--                    finite:pre_<name>   a pre-period twin that is not a finite number
--   {{columns}}    the blueprint's columns, in order
--
-- Every row comes out once with `rule`: NULL when it passed (it goes to silver/customers),
-- else the first rule it broke (it goes to silver/quarantine). Of the passing rows with the
-- same (experiment_id, run_id, customer_id) the first in the order of their values is kept;
-- the others are quarantined as `duplicate`.
WITH conformed AS (
  SELECT
    {{conformed}},
    bronze.run_id,
    bronze.run_date,
    bronze.loaded_at
  FROM bronze
),
checked AS (
  SELECT
    conformed.*,
    CASE
      {{checks}}
    END AS broken
  FROM conformed
),
ranked AS (
  SELECT
    checked.*,
    ROW_NUMBER() OVER (
      PARTITION BY experiment_id, run_id, customer_id
      ORDER BY broken IS NULL DESC, {{columns}}
    ) AS copy
  FROM checked
)
SELECT
  {{columns}},
  run_id,
  run_date,
  loaded_at,
  CASE
    WHEN broken IS NOT NULL THEN broken
    WHEN copy > 1 THEN 'duplicate'
  END AS rule
FROM ranked
