-- Check the rows of the production_fields view and append them to checked_production, each
-- with its first failing check (NULL = clean).
INSERT INTO checked_production (
    source_uri, source_row, raw_row, query, document, doc_id, seen_at, metadata,
    judge_raw_output, reason_code, message, sample_id, record_bytes
)
WITH judged AS (
    SELECT
        *,
        CASE
            WHEN metadata_type = 'OBJECT' THEN metadata_text
            WHEN
                metadata_type = 'VARCHAR'
                AND json_valid(metadata_text)
                AND json_type(CASE WHEN json_valid(metadata_text) THEN metadata_text END) = 'OBJECT'
                THEN metadata_text
        END AS metadata,
        jf_record_failure(
            read_error, read_message, record_type, source_row, given_reason, given_message,
            query_type, query, document_type, document, $max_document_chars
        ) AS record_failure,
        CASE
            WHEN record_failure IS NOT NULL THEN record_failure
            WHEN nested_optional
                THEN
                    {
                        'code': 'wrong_type',
                        'message': 'sample_id, doc_id or seen_at is an object or a list'
                    }
            WHEN metadata_type IS NOT NULL AND metadata_type <> 'NULL' AND metadata IS NULL
                THEN
                    {
                        'code': 'wrong_type',
                        'message': format(
                            'metadata must be a JSON object, got {} {}',
                            metadata_type,
                            metadata_text
                        )
                    }
            ELSE jf_timestamp_failure('seen_at', seen_text, seen_at, $week_start, $week_end, $week)
        END AS failure
    FROM production_fields
)

SELECT
    judged.source_uri,
    judged.source_row,
    CASE
        WHEN judged.failure IS NOT NULL
            THEN
                coalesce(
                    judged.record,
                    to_json({
                        'query': judged.query,
                        'document': judged.document,
                        'sample_id': judged.given_id,
                        'doc_id': judged.doc_id,
                        'seen_at': judged.seen_text,
                        'metadata': judged.metadata_text,
                        'judge_raw_output': judged.judge_raw_output
                    })::VARCHAR
                )
    END AS raw_row,
    judged.query,
    judged.document,
    judged.doc_id,
    judged.seen_at,
    judged.metadata,
    judged.judge_raw_output,
    failure.code AS reason_code,
    failure.message,
    coalesce(
        judged.given_id,
        sha256(
            concat_ws(
                chr(31),
                judged.query,
                coalesce(judged.doc_id, judged.document),
                coalesce(judged.seen_text, '')
            )
        )
    ) AS sample_id,
    strlen(judged.record) AS record_bytes
FROM judged;
