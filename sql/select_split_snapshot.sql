-- Rows per split over weeks up to $week and a sha256 of their sorted annotation ids.
SELECT
    s.split,
    count(*) AS example_rows,
    sha256(string_agg(a.annotation_id, chr(10) ORDER BY a.annotation_id)) AS ids_sha256
FROM annotations AS a
INNER JOIN splits AS s ON a.query_key = s.query_key
WHERE a.week <= $week  -- noqa: RF02
GROUP BY s.split;
