-- Quarantine every clean annotation repeating an earlier row's (query key, doc, annotator).
UPDATE checked_annotations AS c
SET
    reason_code = 'duplicate_pair',
    message = format('same (query, doc, annotator) as {} row {}', d.first_uri, d.first_row),
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
        a.rowid AS rid,
        first_value(a.source_uri) OVER w AS first_uri,
        first_value(a.source_row) OVER w AS first_row,
        row_number() OVER w AS n
    FROM checked_annotations AS a
    INNER JOIN batch_query_keys AS k ON a.query = k.query
    WHERE a.reason_code IS NULL
    WINDOW
        w AS (
            PARTITION BY k.query_key, coalesce(a.doc_id, a.document), coalesce(a.annotator, '')
            ORDER BY a.source_uri, a.source_row
        )
    QUALIFY n > 1
) AS d
WHERE c.rowid = d.rid;
