-- gold/group_daily ← silver/customers, for one run: per group and purchase date, a metric's
-- count, sum, sum of squares, mean and sample variance.
--
-- Inputs (registered by crates/lake/src/layers.rs):
--   silver  the run's rows of silver/customers
--
-- One row per metric (long format), so experiments with other metrics share the table: this
-- query is run once per metric of the blueprint ({{metric}}: its column) and the results are
-- joined with UNION ALL. The variance is the sample variance (n − 1), NULL when n = 1.
SELECT
  experiment_id,
  run_id,
  run_date,
  "group",
  purchase_date,
  '{{metric}}' AS metric,
  COUNT(*) AS n,
  SUM(CAST("{{metric}}" AS DOUBLE)) AS "sum",
  SUM(CAST("{{metric}}" AS DOUBLE) * CAST("{{metric}}" AS DOUBLE)) AS sum_sq,
  AVG(CAST("{{metric}}" AS DOUBLE)) AS mean,
  VAR_SAMP(CAST("{{metric}}" AS DOUBLE)) AS variance
FROM silver
GROUP BY experiment_id, run_id, run_date, "group", purchase_date
