-- Query keys of the clean rows' distinct queries, filled from tasks.split.query_key.
CREATE OR REPLACE TEMP TABLE query_keys (query VARCHAR PRIMARY KEY, query_key VARCHAR NOT NULL);
