-- Staging for one source's rows as read: a JSON record per row, or why the row could not be read.
CREATE OR REPLACE TEMP TABLE staged_raw (
    source_uri VARCHAR NOT NULL,
    source_row BIGINT NOT NULL,
    record VARCHAR,
    read_error VARCHAR,
    read_message VARCHAR
);
