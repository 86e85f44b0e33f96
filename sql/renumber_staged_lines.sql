-- Turn the ordinals of accepted lines into file line numbers by skipping the rejected lines
-- (jf_file_line, sql/create_file_line_macro.sql).
UPDATE staged_raw
SET source_row = jf_file_line(staged_raw.source_row)
WHERE staged_raw.source_uri = $uri AND staged_raw.read_error IS NULL;
