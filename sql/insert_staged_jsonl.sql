-- Stage a JSONL file as one text value per line, so a bad line becomes a row, never a crash.
-- $delim is a control character, which JSON forbids raw: it never splits a valid line.
INSERT INTO staged_raw (source_uri, source_row, record)
SELECT
    $uri AS source_uri,
    jsonl_lines.n AS source_row,
    jsonl_lines.line AS record
FROM (
    SELECT
        line,
        row_number() OVER () AS n
    FROM read_csv(
        $file,
        columns = { 'line': 'VARCHAR' },
        delim = $delim,
        quote = '',
        escape = '',
        header = FALSE,
        auto_detect = FALSE,
        max_line_size = $max_line_size,
        store_rejects = TRUE,
        rejects_table = 'jf_reject_errors',
        rejects_scan = 'jf_reject_scans'
    )
) AS jsonl_lines
WHERE jsonl_lines.line IS NOT NULL AND trim(jsonl_lines.line) <> '';
