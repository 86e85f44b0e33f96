-- Quarantine every clean annotation whose id repeats an earlier clean row of the batch.
UPDATE checked_annotations AS c
SET
    reason_code = 'duplicate_id',
    message
    = format('annotation_id {} repeats {} row {}', d.annotation_id, d.first_uri, d.first_row),
    raw_row
    = to_json(
        {
            'annotation_id': c.annotation_id,
            'query': c.query,
            'doc_id': c.doc_id,
            'rating': c.rating
        }
    )
FROM (
    SELECT
        rowid AS rid,
        annotation_id,
        first_value(source_uri) OVER w AS first_uri,
        first_value(source_row) OVER w AS first_row,
        row_number() OVER w AS n
    FROM checked_annotations
    WHERE reason_code IS NULL
    WINDOW w AS (PARTITION BY annotation_id ORDER BY source_uri, source_row)
    QUALIFY n > 1
) AS d
WHERE c.rowid = d.rid;
