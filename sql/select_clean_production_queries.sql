-- Distinct queries of the production rows that passed the row-level checks.
SELECT DISTINCT query FROM checked_production
WHERE reason_code IS NULL;
