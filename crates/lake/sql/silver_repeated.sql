-- The customers of one run that more than one of its rows holds ← bronze (the run's rows of
-- bronze/customers). None in a clean run.
--
-- Read from bronze, not from the checked rows: a hash aggregate of one column, one pass, no
-- sort, none of the checks computed. A customer here may have only one row that passes
-- every rule (its other rows broke one): silver.sql numbers the passing rows of these
-- customers and keeps the first, so such a customer keeps its row. Its columns are
-- capitalised so that no column of a blueprint (those are lower case) has their names:
-- silver.sql joins them with every column of the checked rows.
SELECT CAST(customer_id AS BIGINT) AS "Customer", COUNT(*) AS "Copies"
FROM bronze
GROUP BY CAST(customer_id AS BIGINT)
HAVING COUNT(*) > 1
