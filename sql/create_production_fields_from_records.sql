-- The production fields of the JSON records in staged_records (variables jf_paths, jf_timezone).
-- jf_paths are the JSON paths of: query, document, sample_id, doc_id, seen_at, metadata,
-- judge_raw_output, quarantine_reason, quarantine_message.
CREATE OR REPLACE TEMP VIEW production_fields AS
WITH typed AS (
    -- try(): a record that is not JSON gets NULL types (malformed_json) instead of an error.
    -- The path '$' put first gives the record's own type in the same parse.
    SELECT
        source_uri,
        source_row,
        record,
        read_error,
        read_message,
        try(json_type(record, list_prepend('$', getvariable('jf_paths')))) AS field_types
    FROM staged_records
),

parsed AS (
    SELECT
        source_uri,
        source_row,
        record,
        read_error,
        read_message,
        field_types[1] AS record_type,
        field_types[2:] AS t,
        CASE
            WHEN field_types[1] = 'OBJECT'
                THEN try(json_extract_string(record, getvariable('jf_paths')))
        END AS v
    FROM typed
)

SELECT
    source_uri,
    source_row,
    record,
    read_error,
    read_message,
    record_type,
    v[1] AS query,
    t[1] AS query_type,
    v[2] AS document,  -- noqa: RF04
    t[2] AS document_type,
    v[3] AS given_id,
    v[4] AS doc_id,
    v[5] AS seen_text,
    v[6] AS metadata_text,
    t[6] AS metadata_type,
    v[7] AS judge_raw_output,
    v[8] AS given_reason,
    v[9] AS given_message,
    list_has_any([t[3], t[4], t[5]], ['OBJECT', 'ARRAY']) AS nested_optional,
    CASE
        WHEN regexp_matches(v[5], '(Z|[+-]\d\d:?\d\d)$')
            THEN timezone(getvariable('jf_timezone'), try_cast(v[5] AS TIMESTAMPTZ))
        ELSE try_cast(v[5] AS TIMESTAMP)
    END AS seen_at
FROM parsed;
