-- Number the rows just loaded from one JSONL file by their order of insertion (the file's line
-- order), skipping the lines the reader rejected (jf_file_line, sql/create_file_line_macro.sql).
UPDATE checked_production
SET source_row = jf_file_line(numbered.ordinal)
FROM (
    SELECT
        rowid AS rid,
        rowid - min(rowid) OVER () + 1 AS ordinal
    FROM checked_production
    WHERE source_uri = $uri
) AS numbered
WHERE checked_production.rowid = numbered.rid;
