-- gold/group_quantiles ← silver/customers, for one run: per group, a metric's observed
-- quantiles at the blueprint's probabilities (`quantiles`, 0.5, 0.9 and 0.99 by default).
--
-- Inputs (registered by crates/lake/src/layers.rs):
--   silver  the run's rows of silver/customers
--   run     one row: the run's experiment_id, run_id and run_date
--   probs   one row per probability: p
--
-- The observed p-quantile of a group is the smallest value x it holds whose share of the
-- group at or below it, #{X ≤ x} / n, is at least p: the order statistic x_(k) with k the
-- smallest rank such that k / n ≥ p (Hyndman and Fan's type 1, the inverse of the empirical
-- CDF; never interpolated). It is the truth's definition — the smallest x with P(X ≤ x) ≥ p
-- — applied to the run's customers, and exact: each distinct value is counted, the counts
-- are summed in order (a sort, which spills past the memory limit like the other steps'),
-- and the share is compared with p in double precision.
--
-- One block per metric ({{metric}}: its column), joined with UNION ALL as gold_group_daily.sql
-- does; n is the group's customer count.
SELECT
  run.experiment_id,
  run.run_id,
  run.run_date,
  q."group",
  '{{metric}}' AS metric,
  q.p,
  q.n,
  q.value
FROM run
CROSS JOIN (
  SELECT
    cum."group",
    probs.p,
    totals.n,
    MIN(cum.v) AS value
  FROM (
    SELECT
      "group",
      v,
      SUM(c) OVER (
        PARTITION BY "group" ORDER BY v ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
      ) AS at_or_below
    FROM (
      SELECT "group", CAST("{{metric}}" AS DOUBLE) AS v, COUNT(*) AS c
      FROM silver
      GROUP BY 1, 2
    ) AS counts
  ) AS cum
  JOIN (
    SELECT "group", COUNT(*) AS n FROM silver GROUP BY "group"
  ) AS totals ON cum."group" = totals."group"
  CROSS JOIN probs
  WHERE CAST(cum.at_or_below AS DOUBLE) / CAST(totals.n AS DOUBLE) >= probs.p
  GROUP BY cum."group", probs.p, totals.n
) AS q
