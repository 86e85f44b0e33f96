-- Quarantine clean production rows whose sample_id is already stored for another week.
UPDATE checked_production AS c
SET
    reason_code = 'duplicate_id',
    message = format('sample_id {} is already stored for week {}', p.sample_id, p.week),
    raw_row = to_json({ 'sample_id': c.sample_id, 'query': c.query, 'doc_id': c.doc_id })
FROM production_samples AS p
WHERE p.sample_id = c.sample_id AND p.week <> $week AND c.reason_code IS NULL;
