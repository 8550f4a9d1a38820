-- gold/group_daily ← silver/customers, for one run: per group and purchase date, a metric's
-- count, sum, sum of squares, mean and sample variance.
--
-- Inputs (registered by crates/lake/src/layers.rs):
--   silver  the run's rows of silver/customers
--   run     one row: the run's experiment_id, run_id and run_date
--
-- One row per metric (long format), so experiments with other metrics share the table: this
-- query is run once per metric of the blueprint ({{metric}}: its column) and the results are
-- joined with UNION ALL. The variance is the sample variance (n − 1), NULL when n = 1.
-- The run's columns come from `run` rather than from grouping silver by them: silver holds
-- the one run here, and grouping by its constant text columns cost more than the sums.
SELECT
  run.experiment_id,
  run.run_id,
  run.run_date,
  daily."group",
  daily.purchase_date,
  '{{metric}}' AS metric,
  daily.n,
  daily."sum",
  daily.sum_sq,
  daily.mean,
  daily.variance
FROM run
CROSS JOIN (
  SELECT
    "group",
    purchase_date,
    COUNT(*) AS n,
    SUM(CAST("{{metric}}" AS DOUBLE)) AS "sum",
    SUM(CAST("{{metric}}" AS DOUBLE) * CAST("{{metric}}" AS DOUBLE)) AS sum_sq,
    AVG(CAST("{{metric}}" AS DOUBLE)) AS mean,
    VAR_SAMP(CAST("{{metric}}" AS DOUBLE)) AS variance
  FROM silver
  GROUP BY "group", purchase_date
) AS daily
