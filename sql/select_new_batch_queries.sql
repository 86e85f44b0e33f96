-- The clean queries of one source (the view clean_queries) that batch_query_keys does not hold
-- yet, each with its stored key if query_keys holds one (NULL: tasks.split.query_key computes
-- it). A key is a function of the query alone, so a stored one is never stale.
SELECT
    c.query,
    s.query_key
FROM clean_queries AS c
LEFT JOIN query_keys AS s ON c.query = s.query
WHERE NOT EXISTS (
    SELECT 1 FROM batch_query_keys AS b
    WHERE b.query = c.query
);
