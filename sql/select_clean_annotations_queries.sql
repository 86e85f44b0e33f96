-- Distinct queries of the annotation rows that passed the row-level checks.
SELECT DISTINCT query FROM checked_annotations
WHERE reason_code IS NULL;
