-- Open a ledger row for one ingest attempt of one source.
INSERT INTO ingest_runs (run_id, week, source, source_uri, files, fingerprint, started_at, status)
VALUES ($run_id, $week, $source, $source_uri, $files, $fingerprint, now(), 'running');
