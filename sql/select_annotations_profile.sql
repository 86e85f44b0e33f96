-- The narrow per-row projection Great Expectations validates (no documents, no texts).
SELECT
    c.rating,
    c.reason_code IS NOT NULL AS quarantined,
    length(c.query) AS query_chars,
    length(c.document) AS document_chars,
    hash(c.annotation_id) AS id_hash,
    hash(k.query_key, coalesce(c.doc_id, c.document), coalesce(c.annotator, '')) AS pair_hash,
    (
        c.created_at IS NULL
        OR (c.created_at >= $week_start AND c.created_at < $week_end)  -- noqa: RF02
    ) AS in_week
FROM checked_annotations AS c
LEFT JOIN query_keys AS k ON c.query = k.query;
