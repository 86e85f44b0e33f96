-- Stage the lines the CSV reader rejected (bad UTF-8, wrong column count, ...) with a reason.
INSERT INTO staged_raw (source_uri, source_row, record, read_error, read_message)
SELECT
    $uri AS source_uri,
    line AS source_row,
    any_value(csv_line) AS record,
    CASE
        WHEN bool_or(error_type = 'INVALID ENCODING') THEN 'invalid_utf8'
        WHEN bool_or(error_type = 'LINE SIZE OVER MAXIMUM') THEN 'line_too_long'
        WHEN $format = 'jsonl' THEN 'malformed_json'
        ELSE 'malformed_csv'
    END AS read_error,
    format('line {}: {}', line, string_agg(DISTINCT error_message, '; ')) AS read_message
FROM jf_reject_errors
GROUP BY line;
