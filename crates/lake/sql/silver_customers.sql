-- silver/customers ← the classified rows of one run (the output of silver.sql, as `classified`):
-- those that broke no rule, without the rule column.
SELECT * EXCLUDE (rule)
FROM classified
WHERE rule IS NULL
