-- The records the production checks read: every line of one JSONL file (variables jf_file,
-- jf_uri, jf_delim, jf_max_line_size), streamed from the file with no staging table.
-- jf_delim is a control character, which JSON forbids raw: it never splits a valid line.
-- Lines are numbered after the load from the table's insertion order (no window here, which
-- would serialise the scan); blank lines are kept until then, marked blank_line, and dropped.
CREATE OR REPLACE TEMP VIEW staged_records AS
SELECT  -- noqa: ST06
    getvariable('jf_uri') AS source_uri,
    0 AS source_row,
    jsonl_lines.line AS record,
    CASE
        WHEN jsonl_lines.line IS NULL OR trim(jsonl_lines.line) = '' THEN 'blank_line'
    END AS read_error,
    NULL AS read_message
FROM read_csv(
    getvariable('jf_file'),
    columns = { 'line': 'VARCHAR' },
    delim = getvariable('jf_delim'),
    quote = '',
    escape = '',
    header = FALSE,
    auto_detect = FALSE,
    max_line_size = getvariable('jf_max_line_size'),
    store_rejects = TRUE,
    rejects_table = 'jf_reject_errors',
    rejects_scan = 'jf_reject_scans'
) AS jsonl_lines;
