-- Drop the blank lines of a JSONL file once every line is numbered: they are not rows.
DELETE FROM checked_production
WHERE source_uri = $uri AND reason_code = 'blank_line';
