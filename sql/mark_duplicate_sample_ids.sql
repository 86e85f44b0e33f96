-- Quarantine every clean production row whose sample_id repeats an earlier clean row of the batch.
UPDATE checked_production AS c
SET
    reason_code = 'duplicate_id',
    message = format('sample_id {} repeats {} row {}', d.sample_id, d.first_uri, d.first_row),
    raw_row = to_json({ 'sample_id': c.sample_id, 'query': c.query, 'doc_id': c.doc_id })
FROM (
    SELECT
        rowid AS rid,
        sample_id,
        first_value(source_uri) OVER w AS first_uri,
        first_value(source_row) OVER w AS first_row,
        row_number() OVER w AS n
    FROM checked_production
    WHERE reason_code IS NULL
    WINDOW w AS (PARTITION BY sample_id ORDER BY source_uri, source_row)
    QUALIFY n > 1
) AS d
WHERE c.rowid = d.rid;
