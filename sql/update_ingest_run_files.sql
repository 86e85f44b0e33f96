-- Record the files and fingerprint of a ledger row opened before its files were hashed.
UPDATE ingest_runs
SET
    files = $files,
    fingerprint = $fingerprint
WHERE run_id = $run_id;
