-- Load the clean staged annotations of one week.
INSERT INTO annotations (
    annotation_id, week, query, query_key, document, doc_id, rating, explanation, annotator,
    title, doc_type, modified_at, created_at, content_hash, source_uri, source_row, ingest_run_id
)
SELECT
    c.annotation_id,
    $week,  -- noqa: RF02
    c.query,
    k.query_key,
    c.document,
    c.doc_id,
    c.rating,
    c.explanation,
    c.annotator,
    c.title,
    c.doc_type,
    c.modified_at,
    c.created_at,
    -- a 64-bit hash, stored as it is: md5 of 1M documents cost 4 s, this ~0.15 s
    hash(c.query, c.document, c.rating, c.explanation, c.title) AS content_hash,
    c.source_uri,
    c.source_row,
    $run_id AS ingest_run_id  -- noqa: RF02
FROM checked_annotations AS c
INNER JOIN batch_query_keys AS k ON c.query = k.query
WHERE c.reason_code IS NULL;
