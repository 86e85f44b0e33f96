-- Quarantine the staged production rows that failed a check, with their reason.
INSERT INTO quarantine (
    week, source, source_uri, source_row, reason_code, message, raw_row, ingest_run_id
)
SELECT
    $week,
    'production' AS source,  -- noqa: RF04
    source_uri,
    source_row,
    reason_code,
    message,
    raw_row,
    $run_id AS ingest_run_id
FROM checked_production
WHERE reason_code IS NOT NULL;
