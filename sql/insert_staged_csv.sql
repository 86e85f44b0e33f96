-- Stage a CSV/TSV file (header row, every value as text) as one JSON record per data row.
INSERT INTO staged_raw (source_uri, source_row, record)
SELECT
    $uri AS source_uri,
    1 + row_number() OVER () AS source_row,
    to_json(csv_rows) AS record
FROM read_csv(
    $file,
    delim = $delim,
    quote = '"',
    escape = '"',
    header = TRUE,
    all_varchar = TRUE,
    max_line_size = $max_line_size,
    store_rejects = TRUE,
    rejects_table = 'jf_reject_errors',
    rejects_scan = 'jf_reject_scans'
) AS csv_rows;
