-- Turn the ordinals of one JSONL file's accepted lines into file line numbers by skipping the
-- lines the reader rejected (jf_file_line, sql/create_file_line_macro.sql).
UPDATE checked_production
SET source_row = jf_file_line(source_row)
WHERE source_uri = $uri;
