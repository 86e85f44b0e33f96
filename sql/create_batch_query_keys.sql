-- Query keys of this ingest's clean rows' distinct queries, each query once (tasks/ingest.py
-- adds only queries it does not hold yet), filled from query_keys or tasks.split.query_key;
-- the load adds them to the stored query_keys (sql/insert_query_keys.sql). No primary key:
-- its index cost ~0.07 s per 50k queries.
CREATE OR REPLACE TEMP TABLE batch_query_keys (
    query VARCHAR NOT NULL,
    query_key VARCHAR NOT NULL
);
