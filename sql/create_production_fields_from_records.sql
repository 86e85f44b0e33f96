-- The production fields of the parsed staged records (parsed_records; variables jf_paths,
-- jf_timezone). jf_paths are the JSON paths of: query, document, sample_id, doc_id, seen_at,
-- metadata, judge_raw_output, quarantine_reason, quarantine_message.
CREATE OR REPLACE TEMP VIEW production_fields AS
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
    -- comparisons, not list_has_any over a list built per row (~0.1 s per 1M rows)
    coalesce(
        t[3] IN ('OBJECT', 'ARRAY') OR t[4] IN ('OBJECT', 'ARRAY') OR t[5] IN ('OBJECT', 'ARRAY'),
        FALSE
    ) AS nested_optional,
    jf_timestamp(v[5], getvariable('jf_timezone')) AS seen_at
FROM parsed_records;
