-- silver/quarantine ← the classified rows of one run (the output of silver.sql, as `classified`):
-- those that broke a rule, with the rule.
SELECT *
FROM classified
WHERE rule IS NOT NULL
