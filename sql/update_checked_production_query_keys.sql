-- Give each clean checked production row the key of its query (one narrow pass, so the load
-- that copies the documents needs no join).
UPDATE checked_production AS c
SET query_key = k.query_key
FROM query_keys AS k
WHERE c.query = k.query AND c.reason_code IS NULL;
