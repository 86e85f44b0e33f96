-- The narrow per-row projection Great Expectations validates (no documents, no texts).
SELECT
    c.reason_code IS NOT NULL AS quarantined,
    length(c.query) AS query_chars,
    length(c.document) AS document_chars,
    hash(c.sample_id) AS id_hash,
    c.seen_at IS NULL OR (c.seen_at >= $week_start AND c.seen_at < $week_end) AS in_week
FROM checked_production AS c;
