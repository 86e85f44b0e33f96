-- Distinct queries of the production rows that passed the row-level checks and
-- have no key in this ingest's batch_query_keys yet, each with its stored key if query_keys
-- holds one (NULL: tasks.split.query_key computes it). A key is a function of the query alone.
SELECT DISTINCT
    c.query,
    s.query_key
FROM checked_production AS c
LEFT JOIN query_keys AS s ON c.query = s.query
WHERE
    c.reason_code IS NULL
    AND NOT EXISTS (
        SELECT 1 FROM batch_query_keys AS b
        WHERE b.query = c.query
    );
