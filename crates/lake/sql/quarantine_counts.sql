-- The quality gate's counts ← silver/quarantine: the run's quarantined rows per rule
-- (`quarantine` is the run's rows of silver/quarantine).
SELECT rule, COUNT(*) AS n
FROM quarantine
GROUP BY rule
ORDER BY n DESC, rule
