-- Load the clean staged production samples of one week.
INSERT INTO production_samples (
    sample_id, week, query, document, doc_id, seen_at, metadata, judge_raw_output,
    content_hash, source_uri, source_row, ingest_run_id
)
SELECT
    c.sample_id,
    $week,  -- noqa: RF02
    c.query,
    c.document,
    c.doc_id,
    c.seen_at,
    c.metadata,
    c.judge_raw_output,
    -- a 64-bit hash, stored as it is: md5 of 1M documents cost 4 s, this ~0.15 s
    hash(c.query, c.document, c.metadata) AS content_hash,
    c.source_uri,
    c.source_row,
    $run_id AS ingest_run_id  -- noqa: RF02
FROM checked_production AS c
WHERE c.reason_code IS NULL;
