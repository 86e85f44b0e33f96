-- Store the keys of this ingest's queries that query_keys does not hold yet. It may keep a
-- query whose every row was quarantined later (a repeated id): a key is a function of the
-- query alone, so a spare one is never wrong.
INSERT OR IGNORE INTO query_keys (query, query_key)
SELECT
    query,
    query_key
FROM batch_query_keys;
