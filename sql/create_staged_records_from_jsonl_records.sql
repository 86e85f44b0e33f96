-- The records the production checks read from one JSONL file (variables jf_file, jf_uri),
-- parsed by DuckDB's JSON reader: each record's text as it stands in the file, without the
-- whitespace around it. This reader errors on a line that is not one JSON value and skips
-- blank lines, so ingest keeps its rows only when they account for every byte of the file,
-- and reads any other file line by line (create_staged_records_from_jsonl.sql).
CREATE OR REPLACE TEMP VIEW staged_records AS
SELECT  -- noqa: ST06
    getvariable('jf_uri') AS source_uri,
    0 AS source_row,
    json_records.json::VARCHAR AS record,
    NULL::VARCHAR AS read_error,
    NULL::VARCHAR AS read_message
FROM read_json_objects(getvariable('jf_file'), format = 'newline_delimited') AS json_records;
