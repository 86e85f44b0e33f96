-- Number of query keys stored in each split, all weeks together.
SELECT
    split,
    count(*) AS query_keys
FROM splits
GROUP BY split;
