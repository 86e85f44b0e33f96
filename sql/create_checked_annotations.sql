-- Check the parsed staged annotation records (parsed_records); give each row its first
-- failing check (NULL = clean).
-- jf_paths (the session variable parsed_records reads) are the JSON paths of: query,
-- document, rating, annotation_id, doc_id, explanation, annotator, title, doc_type,
-- modified_at, created_at, quarantine_reason, quarantine_message.
CREATE OR REPLACE TEMP TABLE checked_annotations AS
WITH fields AS (
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
        v[3] AS rating_text,
        t[3] AS rating_type,
        try_cast(v[3] AS DOUBLE) AS rating_number,
        v[4] AS given_id,
        t[4] AS id_type,
        v[5] AS doc_id,
        v[6] AS explanation,
        v[7] AS annotator,
        v[8] AS title,
        v[9] AS doc_type,
        v[10] AS modified_text,
        v[11] AS created_text,
        v[12] AS given_reason,
        v[13] AS given_message,
        list_has_any(t[4:11], ['OBJECT', 'ARRAY']) AS nested_optional,
        jf_timestamp(v[10], $timezone) AS modified_at,
        jf_timestamp(v[11], $timezone) AS created_at
    FROM parsed_records
),

judged AS (
    SELECT
        *,
        jf_record_failure(
            read_error, read_message, record_type, source_row, given_reason, given_message,
            query_type, query, document_type, document, $max_document_chars
        ) AS record_failure,
        CASE
            WHEN record_failure IS NOT NULL THEN record_failure
            WHEN rating_type IS NULL OR rating_type = 'NULL'
                THEN { 'code': 'rating_missing', 'message': 'rating is missing or null' }
            WHEN rating_type IN ('BOOLEAN', 'OBJECT', 'ARRAY')
                THEN
                    {
                        'code': 'wrong_type',
                        'message': format(
                            'rating must be an integer, got {} {}', rating_type, rating_text
                        )
                    }
            WHEN
                rating_number IS NULL
                OR NOT isfinite(rating_number)
                OR rating_number <> floor(rating_number)
                THEN
                    {
                        'code': 'rating_not_integer',
                        'message': format('rating must be an integer, got {}', rating_text)
                    }
            WHEN rating_number < $scale_lo OR rating_number > $scale_hi
                THEN
                    {
                        'code': 'rating_out_of_range',
                        'message': format(
                            'rating {} is outside the scale {}-{}',
                            rating_text,
                            $scale_lo,
                            $scale_hi
                        )
                    }
            WHEN nested_optional
                THEN
                    {
                        'code': 'wrong_type',
                        'message': 'an optional text or timestamp field is an object or a list'
                    }
            ELSE
                coalesce(
                    jf_timestamp_failure(
                        'modified_at', modified_text, modified_at, NULL, NULL, NULL
                    ),
                    jf_timestamp_failure(
                        'created_at', created_text, created_at, $week_start, $week_end, $week
                    )
                )
        END AS failure
    FROM fields
)

SELECT
    judged.source_uri,
    judged.source_row,
    CASE WHEN judged.failure IS NOT NULL THEN judged.record END AS raw_row,
    judged.query,
    judged.document,
    judged.doc_id,
    judged.explanation,
    judged.annotator,
    judged.title,
    judged.doc_type,
    judged.modified_at,
    judged.created_at,
    failure.code AS reason_code,
    failure.message,
    try_cast(judged.rating_number AS INTEGER) AS rating,
    coalesce(
        judged.given_id,
        sha256(
            concat_ws(
                chr(31),
                judged.query,
                coalesce(judged.doc_id, judged.document),
                coalesce(judged.annotator, '')
            )
        )
    ) AS annotation_id
FROM judged;
