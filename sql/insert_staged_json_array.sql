-- Stage a JSON file holding one array of records, one element per row.
INSERT INTO staged_raw (source_uri, source_row, record)
SELECT
    $uri AS source_uri,
    row_number() OVER () AS source_row,
    elements.json::VARCHAR AS record
FROM read_json(
    $file, format = 'array', records = FALSE, columns = { 'json': 'JSON' }
) AS elements;
