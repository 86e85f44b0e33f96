-- Quarantine the lines the JSONL reader rejected (bad UTF-8, over the line size) with a reason.
INSERT INTO checked_production (source_uri, source_row, raw_row, reason_code, message)
SELECT
    $uri AS source_uri,
    line AS source_row,
    any_value(csv_line) AS raw_row,
    CASE
        WHEN bool_or(error_type = 'INVALID ENCODING') THEN 'invalid_utf8'
        WHEN bool_or(error_type = 'LINE SIZE OVER MAXIMUM') THEN 'line_too_long'
        ELSE 'malformed_json'
    END AS reason_code,
    format('line {}: {}', line, string_agg(DISTINCT error_message, '; ')) AS message
FROM jf_reject_errors
GROUP BY line;
