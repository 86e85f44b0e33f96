-- The distinct queries of the annotation rows that passed the row-level checks, as the view
-- clean_queries that sql/select_new_batch_queries.sql reads.
CREATE OR REPLACE TEMP VIEW clean_queries AS
SELECT DISTINCT query FROM checked_annotations
WHERE reason_code IS NULL;
