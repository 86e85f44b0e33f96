-- Query keys of this ingest's clean rows' distinct queries, filled from tasks.split.query_key;
-- the load adds them to the stored query_keys (sql/insert_query_keys.sql).
CREATE OR REPLACE TEMP TABLE batch_query_keys (
    query VARCHAR PRIMARY KEY,
    query_key VARCHAR NOT NULL
);
