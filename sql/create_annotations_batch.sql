-- The checked annotation rows as the batch profile reads them (sql/select_batch_profile.sql).
CREATE OR REPLACE TEMP VIEW checked_batch AS
SELECT
    c.reason_code,
    c.query,
    c.document,  -- noqa: RF04
    c.annotation_id AS row_id,
    c.created_at AS stamped_at,
    c.rating,
    [k.query_key, coalesce(c.doc_id, c.document), coalesce(c.annotator, '')] AS pair
FROM checked_annotations AS c
LEFT JOIN batch_query_keys AS k ON c.query = k.query;
