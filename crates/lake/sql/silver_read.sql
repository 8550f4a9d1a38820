-- The customers of one run as the analysis reads them ← silver/customers.
--
-- Inputs (registered by crates/lake/src/layers.rs):
--   silver  the run's rows of silver/customers
--
-- {{columns}}: the blueprint's columns, in order. Ordered by customer, so that the analysis
-- sums in the same order every time (and as it did reading the relational store).
SELECT {{columns}}
FROM silver
ORDER BY customer_id
