-- Close a ledger row with its counts, timing and final status.
UPDATE ingest_runs
SET
    rows_read = $rows_read,
    rows_ingested = $rows_ingested,
    rows_quarantined = $rows_quarantined,
    reasons = $reasons,
    finished_at = now(),
    seconds = epoch(now() - started_at),
    status = $status,
    error = $error
WHERE run_id = $run_id;
