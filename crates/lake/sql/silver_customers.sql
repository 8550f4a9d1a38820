-- silver/customers ← the checked rows of one run (the output of silver.sql, as `checked`):
-- those that broke no rule, without the rule column.
SELECT * EXCLUDE (rule)
FROM checked
WHERE rule IS NULL
