-- Production samples keep their query but no longer a copy of its key: a 1M-row week has far
-- fewer distinct queries (~50k in the ingest benchmark), and a 64-character key per row cost
-- ~0.6 s of a ~5 s ingest. query_keys holds the key of every query ingest has stored; join it
-- on query to read a production sample's key (e.g. to keep test-split queries out of training).
CREATE TABLE query_keys (
    query VARCHAR PRIMARY KEY,
    query_key VARCHAR NOT NULL
);

INSERT INTO query_keys
SELECT
    query,
    any_value(query_key) AS query_key
FROM (
    SELECT
        query,
        query_key
    FROM annotations
    UNION ALL
    SELECT
        query,
        query_key
    FROM production_samples
) AS stored_keys
GROUP BY query;

ALTER TABLE production_samples DROP COLUMN query_key;
