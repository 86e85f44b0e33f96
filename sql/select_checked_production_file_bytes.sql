-- The checked rows of one file: how many, the bytes of their records and the longest record.
SELECT
    count(*) AS records,
    coalesce(sum(record_bytes), 0) AS record_bytes,
    coalesce(max(record_bytes), 0) AS longest
FROM checked_production
WHERE source_uri = $uri;
