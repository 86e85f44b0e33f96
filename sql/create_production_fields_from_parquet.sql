-- The production fields of one Parquet file (variables jf_file, jf_uri, jf_timezone), read
-- typed, with no JSON staging: missing columns read as NULL, types named as json_type would.
CREATE OR REPLACE TEMP VIEW production_fields AS
WITH rows_read AS (
    SELECT * FROM read_parquet(getvariable('jf_file'), file_row_number = TRUE)
    UNION ALL BY NAME
    SELECT * FROM (
        SELECT
            NULL AS query,
            NULL AS document,  -- noqa: RF04
            NULL AS sample_id,
            NULL AS doc_id,
            NULL AS seen_at,
            NULL AS metadata,
            NULL AS judge_raw_output,
            NULL AS quarantine_reason,
            NULL AS quarantine_message
    ) AS every_field
    WHERE FALSE
),

texts AS (
    SELECT
        file_row_number,
        jf_value_text(query) AS query,
        jf_value_type(query) AS query_type,
        jf_value_text(document) AS document,  -- noqa: RF04
        jf_value_type(document) AS document_type,
        jf_value_text(sample_id) AS given_id,
        jf_value_type(sample_id) AS given_id_type,
        jf_value_text(doc_id) AS doc_id,
        jf_value_type(doc_id) AS doc_id_type,
        jf_value_text(seen_at) AS seen_text,
        jf_value_type(seen_at) AS seen_type,
        jf_value_text(metadata) AS metadata_text,
        jf_value_type(metadata) AS metadata_type,
        jf_value_text(judge_raw_output) AS judge_raw_output,
        jf_value_text(quarantine_reason) AS given_reason,
        jf_value_text(quarantine_message) AS given_message
    FROM rows_read
)

SELECT  -- noqa: ST06
    getvariable('jf_uri') AS source_uri,
    file_row_number + 1 AS source_row,
    NULL::VARCHAR AS record,
    NULL::VARCHAR AS read_error,
    NULL::VARCHAR AS read_message,
    'OBJECT' AS record_type,
    query,
    query_type,
    document,  -- noqa: RF04
    document_type,
    given_id,
    doc_id,
    seen_text,
    metadata_text,
    metadata_type,
    judge_raw_output,
    given_reason,
    given_message,
    -- comparisons, not list_has_any over a list built per row (~0.1 s per 1M rows)
    coalesce(
        given_id_type IN ('OBJECT', 'ARRAY')
        OR doc_id_type IN ('OBJECT', 'ARRAY')
        OR seen_type IN ('OBJECT', 'ARRAY'),
        FALSE
    ) AS nested_optional,
    jf_timestamp(seen_text, getvariable('jf_timezone')) AS seen_at
FROM texts;
