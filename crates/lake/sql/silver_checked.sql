-- The run's rows typed, conformed and checked ← bronze/customers, for one run.
--
-- Inputs (registered by crates/lake/src/layers.rs):
--   bronze  the run's rows of bronze/customers
--
-- The {{slots}} are filled from the run's resolved blueprint (crates/lake/src/sql.rs):
--   {{conformed}}  each column of the blueprint, typed (CAST) and conformed (TRIM of text)
--   {{checks}}     one `WHEN <the rule is broken> THEN '<rule>'` per rule, in this order:
--                    not_null:<column>   a NULL in any column
--                    experiment          experiment_id is not the run's experiment
--                    customer_id         outside [0, customers) of the blueprint
--                    group               a group the blueprint does not have
--                    attribute:<name>    a value outside the attribute's set
--                    purchase_date       outside [start_date, start_date + days)
--                    metric:<name>       outside the support of the metric's distribution
--                                        (counts: integers >= offset; Bernoulli: offset or
--                                        offset + 1; Gamma, LogNormal: > offset; Normal:
--                                        finite; 0 too when the metric is zero-inflated)
--                    finite:pre_<name>   a pre-period twin that is not a finite number
--
-- Every row comes out once with `broken`: NULL when it broke no rule, else the first rule it
-- broke. The rows that broke none all have the run's experiment (the `experiment` rule) and
-- run (bronze is read for the run): among them, customer_id alone is the key.
WITH conformed AS (
  SELECT
    {{conformed}},
    bronze.run_id,
    bronze.run_date,
    bronze.loaded_at
  FROM bronze
)
SELECT
  conformed.*,
  CASE
    {{checks}}
  END AS broken
FROM conformed
