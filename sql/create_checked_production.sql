-- The checked production rows of one ingest, appended file by file.
CREATE OR REPLACE TEMP TABLE checked_production (
    source_uri VARCHAR NOT NULL,
    source_row BIGINT NOT NULL,
    raw_row VARCHAR,
    query VARCHAR,
    document VARCHAR,
    doc_id VARCHAR,
    seen_at TIMESTAMP,
    metadata VARCHAR,
    judge_raw_output VARCHAR,
    reason_code VARCHAR,
    message VARCHAR,
    sample_id VARCHAR,
    record_bytes BIGINT  -- the bytes of the JSON record read, NULL for typed Parquet
);
