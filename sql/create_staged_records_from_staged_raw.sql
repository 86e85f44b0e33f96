-- The records the production checks read: the rows staged in staged_raw.
CREATE OR REPLACE TEMP VIEW staged_records AS
SELECT
    source_uri,
    source_row,
    record,
    read_error,
    read_message
FROM staged_raw;
