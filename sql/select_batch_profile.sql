-- The batch profile Great Expectations validates, computed in DuckDB as one row over the
-- checked_batch view: rows read and clean, the quarantine rate, and how many clean rows break
-- each rule (0 expected). $scale_values NULL (production) skips the rating rule.
WITH repeated_ids AS (
    SELECT count(*) AS n
    FROM checked_batch
    WHERE reason_code IS NULL
    GROUP BY row_id
    HAVING count(*) > 1
),

repeated_pairs AS (
    SELECT count(*) AS n
    FROM checked_batch
    WHERE reason_code IS NULL AND pair IS NOT NULL
    GROUP BY pair
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
        AND NOT coalesce(
            -- characters are at most bytes: count them only when the bytes pass the limit
            CASE
                WHEN strlen(c.document) <= $max_document_chars THEN strlen(c.document) >= 1
                ELSE length(c.document) BETWEEN 1 AND $max_document_chars
            END,
            FALSE
        )
    ) AS rows_with_document_out_of_bounds,
    (SELECT coalesce(sum(r.n), 0) FROM repeated_ids AS r) AS rows_sharing_an_id,
    count(*) FILTER (
        WHERE
        c.reason_code IS NULL
        AND (c.stamped_at < $week_start OR c.stamped_at >= $week_end)
    ) AS rows_outside_the_week,
    count(*) FILTER (
        WHERE
        c.reason_code IS NULL
        AND $scale_values IS NOT NULL
        AND NOT coalesce(list_contains($scale_values, c.rating), FALSE)
    ) AS rows_with_rating_outside_the_scale,
    (SELECT coalesce(sum(r.n), 0) FROM repeated_pairs AS r) AS rows_sharing_a_pair
FROM checked_batch AS c;
