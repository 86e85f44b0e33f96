-- Rows read per file and quarantine reasons of the checked production rows.
SELECT
    source_uri,
    reason_code,
    count(*) AS n
FROM checked_production
GROUP BY ALL;
