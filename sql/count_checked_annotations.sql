-- Rows read per file and quarantine reasons of the checked annotations.
SELECT
    source_uri,
    reason_code,
    count(*) AS n
FROM checked_annotations
GROUP BY ALL;
