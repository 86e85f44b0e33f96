-- The batch profile Great Expectations validates, computed in DuckDB as one row: the rows
-- read and clean, the quarantine rate, and how many clean rows break each rule (0 expected).
WITH repeated_ids AS (
    SELECT count(*) AS n
    FROM checked_annotations
    WHERE reason_code IS NULL
    GROUP BY annotation_id
    HAVING count(*) > 1
),

repeated_pairs AS (
    SELECT count(*) AS n
    FROM checked_annotations AS c
    LEFT JOIN query_keys AS k ON c.query = k.query
    WHERE c.reason_code IS NULL
    GROUP BY k.query_key, coalesce(c.doc_id, c.document), coalesce(c.annotator, '')
    HAVING count(*) > 1
)

SELECT
    count(*) AS rows_read,
    count(*) FILTER (WHERE c.reason_code IS NULL) AS clean_rows,
    coalesce(count(c.reason_code) / nullif(count(*), 0), 0)::DOUBLE AS quarantine_rate,
    count(*) FILTER (
        WHERE c.reason_code IS NULL AND coalesce(length(c.query), 0) < 1
    ) AS rows_with_empty_query,
    count(*) FILTER (
        WHERE
        c.reason_code IS NULL
        AND NOT coalesce(length(c.document) BETWEEN 1 AND $max_document_chars, FALSE)
    ) AS rows_with_document_out_of_bounds,
    (SELECT coalesce(sum(r.n), 0) FROM repeated_ids AS r) AS rows_sharing_an_id,
    count(*) FILTER (
        WHERE
        c.reason_code IS NULL
        AND (c.created_at < $week_start OR c.created_at >= $week_end)
    ) AS rows_outside_the_week,
    count(*) FILTER (
        WHERE
        c.reason_code IS NULL
        AND NOT coalesce(list_contains($scale_values, c.rating), FALSE)
    ) AS rows_with_rating_outside_the_scale,
    (SELECT coalesce(sum(r.n), 0) FROM repeated_pairs AS r) AS rows_sharing_a_pair
FROM checked_annotations AS c;
