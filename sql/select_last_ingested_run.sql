-- The latest successful ingest of one week and source (the state the store holds).
SELECT
    run_id,
    fingerprint,
    rows_read,
    rows_ingested,
    rows_quarantined,
    reasons,
    files
FROM ingest_runs
WHERE week = $week AND source = $source AND status = 'ingested'
ORDER BY started_at DESC
LIMIT 1;
