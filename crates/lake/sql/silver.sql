-- silver/customers and silver/quarantine ← the checked rows of one run.
--
-- Inputs (registered by crates/lake/src/layers.rs):
--   checked   the run's rows, typed and checked (silver_checked.sql)
--   repeated  the customers that more than one row holds (silver_repeated.sql)
--
-- {{columns}}: the blueprint's columns, in order.
--
-- Every row comes out once with `rule`: NULL when it passed (it goes to silver/customers),
-- else the first rule it broke (it goes to silver/quarantine). Of the passing rows with the
-- same (experiment_id, run_id, customer_id) the first in the order of their values is kept;
-- the others are quarantined as `duplicate`. Only those rows are numbered (a window sorts
-- what it numbers): the other rows pass through the join with `repeated`, a hash table of
-- the few repeated customers, in one streamed pass. (The join's columns have names of their
-- own: DataFusion 55 pushes a filter on a joined column that shares a name with a column of
-- the other side down to the wrong side.)
SELECT
  {{columns}},
  run_id,
  run_date,
  loaded_at,
  broken AS rule
FROM (
  SELECT checked.*
  FROM repeated
  RIGHT JOIN checked
    ON repeated."Customer" = checked.customer_id
    AND checked.broken IS NULL
  WHERE repeated."Customer" IS NULL
) AS single
UNION ALL
SELECT
  {{columns}},
  run_id,
  run_date,
  loaded_at,
  CASE
    WHEN ROW_NUMBER() OVER (PARTITION BY customer_id ORDER BY {{columns}}) > 1
    THEN 'duplicate'
  END AS rule
FROM (
  SELECT checked.*
  FROM repeated
  JOIN checked
    ON repeated."Customer" = checked.customer_id
  WHERE checked.broken IS NULL
) AS copies
