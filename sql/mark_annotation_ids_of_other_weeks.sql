-- Quarantine clean annotations whose id is already stored for another week.
UPDATE checked_annotations AS c
SET
    reason_code = 'duplicate_id',
    message = format('annotation_id {} is already stored for week {}', a.annotation_id, a.week),
    raw_row
    = to_json(
        {
            'annotation_id': c.annotation_id,
            'query': c.query,
            'doc_id': c.doc_id,
            'rating': c.rating
        }
    )
FROM annotations AS a
WHERE a.annotation_id = c.annotation_id AND a.week <> $week AND c.reason_code IS NULL;
