-- silver/quarantine ← the checked rows of one run (the output of silver.sql, as `checked`):
-- those that broke a rule, with the rule.
SELECT *
FROM checked
WHERE rule IS NOT NULL
