-- Stage a Parquet file as one JSON record per row.
INSERT INTO staged_raw (source_uri, source_row, record)
SELECT
    $uri AS source_uri,
    row_number() OVER () AS source_row,
    to_json(parquet_rows) AS record
FROM read_parquet($file) AS parquet_rows;
