-- The checked production rows as the batch profile reads them (sql/select_batch_profile.sql);
-- production rows have no rating and no annotator pair.
CREATE OR REPLACE TEMP VIEW checked_batch AS
SELECT
    reason_code,
    query,
    document,  -- noqa: RF04
    sample_id AS row_id,
    seen_at AS stamped_at,
    NULL::INTEGER AS rating,
    NULL::VARCHAR[] AS pair
FROM checked_production;
