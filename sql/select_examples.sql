-- Annotations of weeks up to $week whose query key sits in $split, by annotation id.
SELECT
    a.annotation_id,
    a.query,
    a.document,
    a.rating,
    a.explanation,
    a.title,
    a.doc_type,
    a.modified_at,
    a.doc_id,
    a.annotator,
    a.week
FROM annotations AS a
INNER JOIN splits AS s ON a.query_key = s.query_key
WHERE s.split = $split AND a.week <= $week  -- noqa: RF02
ORDER BY a.annotation_id
LIMIT $row_limit;
