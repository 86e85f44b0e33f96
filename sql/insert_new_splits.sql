-- Give every query key of the week's annotations that has no split yet one, from its hash.
INSERT INTO splits (query_key, split, first_week)
SELECT
    fresh.query_key,
    CASE
        WHEN fresh.bucket < $train_below THEN 'train'
        WHEN fresh.bucket < $dev_below THEN 'dev'
        ELSE 'test'
    END AS split,
    $week AS first_week
FROM (
    SELECT DISTINCT
        a.query_key,
        ('0x' || left(a.query_key, 12))::BIGINT / 281474976710656.0 AS bucket
    FROM annotations AS a
    WHERE
        a.week = $week
        AND NOT EXISTS (
            SELECT 1 FROM splits AS s
            WHERE s.query_key = a.query_key
        )
) AS fresh
ORDER BY fresh.query_key
RETURNING split;
